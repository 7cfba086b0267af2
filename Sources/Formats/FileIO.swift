import Foundation

/// Writes `data` to `url` and fsyncs it.
public func writeSynced(_ data: Data, to url: URL) throws {
    guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw RunError("cannot create \(url.path)")
    }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.write(contentsOf: data)
    try handle.synchronize()
}

/// fsync of a directory, so a rename inside it survives a power cut.
public func syncDirectory(_ url: URL) {
    let fd = open(url.path, O_RDONLY)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}

/// An error as one line.
public func describe(_ error: Error) -> String {
    let bridged = error as NSError
    if [NSCocoaErrorDomain, NSPOSIXErrorDomain].contains(bridged.domain) { return bridged.localizedDescription }
    return "\(error)"
}
