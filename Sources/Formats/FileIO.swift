import Foundation

// File-system calls made with POSIX functions, so that every failure is one line naming the
// path and the operating system's reason ("cannot write runs/a/metrics.jsonl: File too large")
// instead of a Foundation error dump (`Error Domain=NSCocoaErrorDomain Code=512 "(null)"`).

/// A file-system operation that failed, as one line: what, the path, and the OS reason.
public struct FileError: Error, CustomStringConvertible {
    public let description: String
    /// The `errno` of the failure.
    public let code: Int32

    /// "cannot `action` `path`: strerror(`code`)".
    public init(_ action: String, _ path: String, code: Int32 = errno) {
        self.code = code
        description = "cannot \(action) \(path): \(String(cString: strerror(code)))"
    }

    /// The operating system's reason alone ("No such file or directory").
    public var reason: String { String(cString: strerror(code)) }
}

public enum FileIO {
    /// The whole file at `url`.
    public static func read(_ url: URL) throws -> Data {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("read", url.path) }
        defer { close(fd) }
        return try read(descriptor: fd, path: url.path)
    }

    /// The UTF-8 text of the config or sweep file at `url`, `what` naming it in errors.
    /// - Throws: `ConfigError` "cannot read `what` PATH: reason", the reason the OS's ("Is a
    ///   directory") or "not UTF-8 text".
    public static func readConfigText(_ url: URL, what: String) throws -> String {
        let data: Data
        do { data = try read(url) } catch let error as FileError {
            throw ConfigError("cannot read \(what) \(url.path): \(error.reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("cannot read \(what) \(url.path): not UTF-8 text")
        }
        return text
    }

    /// Everything from `fd`'s position to its end; `path` names it in errors.
    public static func read(descriptor fd: Int32, path: String) throws -> Data {
        var data = Data()
        let chunkSize = 1 << 20
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress!, chunkSize) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError("read", path)
            }
            if count == 0 { return data }
            data.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes all of `bytes` to `fd` (retrying short writes and EINTR); the errno of a failure,
    /// or nil.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var written = 0
        while written < bytes.count {
            let count = posixWrite(fd, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += count
        }
        return nil
    }

    /// Replaces the file at `url` with `data` atomically: the bytes go to a temporary file
    /// beside it (`.NAME.tmp-PID`), which is fsynced and renamed over `url`, and the folder is
    /// fsynced. A reader sees the old file or the new one, never a part; a failure (a full disk,
    /// a file-size limit) leaves the old file as it was and throws naming `url` and the reason.
    public static func replace(_ url: URL, with data: Data) throws {
        let path = url.path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())"
        ).path
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("write", path) }
        var failure = data.withUnsafeBytes { writeAll(fd, $0) }
        if failure == nil && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == nil { failure = errno }
        if failure == nil && rename(temporary, path) != 0 { failure = errno }
        if let failure {
            unlink(temporary)
            throw FileError("write", path, code: failure)
        }
        syncDirectory(url.deletingLastPathComponent())
    }

    /// Creates the folder `url` and any missing parents (an existing folder is fine).
    public static func createDirectory(_ url: URL) throws {
        try createDirectory(url.standardizedFileURL, for: url.standardizedFileURL.path)
    }

    /// Creates `url` on the way to `target` (which errors name).
    private static func createDirectory(_ url: URL, for target: String) throws {
        let path = url.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw FileError("create folder", target, code: path == target ? EEXIST : ENOTDIR)
            }
            return
        }
        let parent = url.deletingLastPathComponent()
        if parent.path != path { try createDirectory(parent, for: target) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw FileError("create folder", target) }
    }

    /// Removes the file or empty folder at `url`; a missing one is fine.
    public static func remove(_ url: URL) throws {
        if unlink(url.path) == 0 || errno == ENOENT { return }
        if errno == EISDIR || errno == EPERM, rmdir(url.path) == 0 { return }
        throw FileError("remove", url.path)
    }

    /// Renames `source` to `destination` (same file system), replacing an existing file.
    public static func move(_ source: URL, to destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            throw FileError("rename \(source.path) to", destination.path)
        }
    }
}

/// A file that only grows by whole records (a metrics line, a TensorBoard record): each
/// `append` is one write(2) of the complete record, and a write that fails part-way (a full
/// disk, a file-size limit) is cut back to the end of the previous record before the error is
/// thrown, so the file never ends in a torn record.
public final class AppendOnlyFile {
    public let url: URL
    private var fd: Int32

    /// Opens `url` for appending; with `exclusive`, creates it and fails if it exists.
    public init(_ url: URL, exclusive: Bool = false) throws {
        self.url = url
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0)
        fd = open(url.path, flags, 0o644)
        guard fd >= 0 else { throw FileError(exclusive ? "create" : "open for appending", url.path) }
    }

    deinit { close() }

    /// Appends `bytes` as one record, or throws (naming the file and the reason) with the file
    /// as it was before.
    public func append(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw FileError("write", url.path, code: EBADF) }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 0 else { throw FileError("write", url.path) }
        guard let failure = bytes.withUnsafeBytes({ FileIO.writeAll(fd, $0) }) else { return }
        _ = ftruncate(fd, end)
        throw FileError("write", url.path, code: failure)
    }

    /// fsync.
    public func synchronize() throws {
        guard fd >= 0, fsync(fd) == 0 else { throw FileError("sync", url.path) }
    }

    /// Closes the file; later appends throw; closing twice does nothing.
    public func close() {
        if fd >= 0 { _ = posixClose(fd) }
        fd = -1
    }
}

/// Writes `data` to `url` atomically and durably (`FileIO.replace`).
public func writeSynced(_ data: Data, to url: URL) throws {
    try FileIO.replace(url, with: data)
}

/// fsync of a directory, so a rename inside it survives a power cut.
public func syncDirectory(_ url: URL) {
    let fd = open(url.path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}

/// Why creating `path` fails, from the file system: a missing parent, a parent that is a
/// file, or a parent that cannot be written; nil when none of these holds.
public func writeFailureReason(_ path: String) -> Int32? {
    var ancestor = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
    var missing = false
    var status = stat()
    while stat(ancestor.path, &status) != 0 {
        missing = true
        let parent = ancestor.deletingLastPathComponent()
        if parent.path == ancestor.path { return nil }
        ancestor = parent
    }
    if status.st_mode & S_IFMT != S_IFDIR { return ENOTDIR }
    if missing { return ENOENT }
    return access(ancestor.path, W_OK) == 0 ? nil : errno
}

// Outside the types above, whose `read`/`write`/`close` would shadow the POSIX calls.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func posixClose(_ fd: Int32) -> Int32 {
    close(fd)
}
