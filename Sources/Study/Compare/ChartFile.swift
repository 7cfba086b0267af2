import Formats
import Foundation

/// Where `qklab compare --out` writes its chart: a new file, or one that an earlier
/// `qklab compare` wrote (its second line is `mark`) — never anyone else's file.
public enum ChartFile {
    /// The comment every chart of `qklab compare` carries on its second line.
    public static let mark = "<!-- chart written by qklab compare -->"

    /// Writes `svg` (which must carry `mark`) to `url`, atomically, after `check(url)`.
    /// - Throws: as `check`; `FileError` (the path and the OS reason) when writing fails.
    public static func write(_ svg: String, to url: URL) throws {
        precondition(svg.contains(mark), "a chart without QKLab's mark")
        try check(url)
        try FileIO.replace(url, with: Data(svg.utf8))
    }

    /// Whether a chart may be written to `url`: nothing there, or a chart of `qklab compare`.
    /// - Throws: `RunError` naming the path when a folder, a file without the mark, or a symbolic
    ///   link is in its place; `FileError` when that file cannot be read, or its folder is missing or not writable.
    public static func check(_ url: URL) throws {
        var isFolder: ObjCBool = false, link = stat()
        if lstat(url.path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
            throw RunError(
                "cannot write chart \(url.path): a symbolic link is there, and QKLab never replaces one (choose another path, or remove it)"
            )
        }
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
            if isFolder.boolValue { throw RunError("cannot write chart \(url.path): it is a folder") }
            let head = String(decoding: try FileIO.read(url).prefix(200), as: UTF8.self)
            guard head.split(separator: "\n").dropFirst().first.map(String.init) == mark else {
                throw RunError(
                    "cannot write chart \(url.path): a file that qklab compare did not write is there, and QKLab never overwrites one (choose another path, or remove it)"
                )
            }
        } else if let code = writeFailureReason(url.path) {
            throw FileError("write", url.path, code: code)
        }
    }
}
