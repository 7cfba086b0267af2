import Formats
import Foundation

/// An exclusive claim on a run folder: a `lock` file holding the owner's pid (`RunFolder+Lock`).
/// A lock whose process is gone is stale and taken over.
public final class RunLock {
    let url: URL

    /// Claims `folder` or throws naming the pid that holds it.
    public init(folder: RunFolder) throws {
        url = folder.lock
        let pid = getpid()
        for _ in 0..<2 {
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 || errno == EEXIST else { throw FileError("create lock file", url.path) }
            if fd >= 0 {
                let text = RunFolder.lockText(pid: pid)
                let written = text.withCString { write(fd, $0, strlen($0)) }
                let failure = errno
                close(fd)
                guard written == strlen(text) else {
                    unlink(url.path)
                    throw FileError("write lock file", url.path, code: written < 0 ? failure : EIO)
                }
                return
            }
            if let owner = Self.owner(of: url), owner != pid, RunFolder.isAlive(owner) {
                throw RunError("run folder \(folder.url.path) is in use by process \(owner) (lock file \(url.path)); wait for it or stop it")
            }
            try? FileManager.default.removeItem(at: url)   // stale: its process is gone
        }
        throw RunError("cannot create lock file \(url.path)")
    }

    /// The pid in the lock file at `url`. A lock is created empty and written just after, so an
    /// empty one is read again for up to a second before it counts as a stale lock of nobody.
    static func owner(of url: URL) -> Int32? {
        for _ in 0..<20 {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
            if !text.isEmpty { return RunFolder.lockOwner(text) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// Gives the folder back.
    public func release() { try? FileManager.default.removeItem(at: url) }

    deinit { release() }
}
