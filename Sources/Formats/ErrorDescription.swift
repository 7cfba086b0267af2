import Foundation

// Errors as the one line QKLab prints.

/// What JSON holds a value of `type`, for messages ("a JSON object").
func jsonKind(_ type: Any.Type) -> String {
    let name = String(describing: type)
    if name.hasPrefix("Dictionary") { return "a JSON object" }
    if name.hasPrefix("Array") { return "a JSON array" }
    if name.hasPrefix("String") { return "a string" }
    if name.hasPrefix("Bool") { return "true or false" }
    if ["Int", "UInt", "Double", "Float"].contains(where: name.hasPrefix) { return "a number" }
    return "a \(name)"
}

/// An error as one line. QKLab's own errors are their description; a Foundation file error
/// becomes "PATH: OS reason" (never the `Error Domain=… UserInfo={…}` dump).
public func describe(_ error: Error) -> String {
    if let decoding = error as? DecodingError {
        switch decoding {
        case .keyNotFound(let key, let context):
            return "missing key '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "the file" : "'\(path)'") must be \(jsonKind(type))"
        case .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            let detail =
                context.debugDescription.hasPrefix("The given data was not valid JSON")
                ? "not valid JSON" : context.debugDescription
            return ((path.isEmpty ? "" : "\(path): ") + detail).replacingOccurrences(of: "\n", with: " ")
        @unknown default:
            break
        }
    }
    let bridged = error as NSError
    guard [NSCocoaErrorDomain, NSPOSIXErrorDomain].contains(bridged.domain) else {
        return "\(error)".replacingOccurrences(of: "\n", with: " ")
    }
    let path = (bridged.userInfo[NSFilePathErrorKey] as? String) ?? (bridged.userInfo[NSURLErrorKey] as? URL)?.path
    var reason: String?
    if bridged.domain == NSPOSIXErrorDomain {
        reason = String(cString: strerror(Int32(bridged.code)))
    } else if let underlying = bridged.userInfo[NSUnderlyingErrorKey] as? NSError,
        underlying.domain == NSPOSIXErrorDomain
    {
        reason = String(cString: strerror(Int32(underlying.code)))
    }
    if reason == nil, bridged.domain == NSCocoaErrorDomain {
        let posix: [Int: Int32] = [
            NSFileNoSuchFileError: ENOENT, NSFileReadNoSuchFileError: ENOENT, NSFileWriteNoPermissionError: EACCES,
            NSFileReadNoPermissionError: EACCES, NSFileWriteFileExistsError: EEXIST, NSFileWriteOutOfSpaceError: ENOSPC,
            NSFileWriteVolumeReadOnlyError: EROFS,
        ]
        if let code = posix[bridged.code] {
            reason = String(cString: strerror(code))
        } else if let path, let code = writeFailureReason(path) {
            reason = String(cString: strerror(code))  // Foundation gave no reason (NSFileWriteUnknownError): ask the OS
        }
    }
    let text = reason ?? bridged.localizedDescription
    return (path.map { "\($0): \(text)" } ?? text).replacingOccurrences(of: "\n", with: " ")
}
