import Formats
import Foundation

/// An exclusive claim on a run folder: a `lock` file holding the owner's pid (`RunFolder+Lock`).
/// A QKLab lock whose process is gone is stale and taken over; a `lock` that is not QKLab's is
/// never removed.
public final class RunLock {
    let url: URL
    /// Whether this object created the lock file (an init that throws holds nothing: its deinit
    /// must not remove another process's lock).
    private var isHeld = false

    /// Claims `folder`.
    /// - Throws: `RunError` naming the live process that holds it, or saying that the folder's
    ///   `lock` is not a QKLab lock; `FileError` when the lock cannot be created, written or read.
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
                isHeld = true
                return
            }
            switch try Self.holder(of: url) {
            case .process(let owner) where owner != pid && RunFolder.isAlive(owner):
                throw RunError("run folder \(folder.url.path) is in use by process \(owner) (lock file \(url.path)); wait for it or stop it")
            case .foreign:
                throw RunError("\(url.path) is not a QKLab lock file (QKLab's holds a pid and the line '\(RunFolder.lockMark)'); move it away, QKLab never deletes a file it did not create")
            case .process, .nobody:
                unlink(url.path)                           // stale: its process is gone
            }
        }
        throw RunError("cannot create lock file \(url.path)")
    }

    /// What a lock file holds.
    enum Holder: Equatable {
        /// A QKLab lock naming this process.
        case process(Int32)
        /// A QKLab lock of nobody: empty (a lock is created empty and written just after), or gone.
        case nobody
        /// Something else: someone's file named `lock`.
        case foreign
    }

    /// The holder of the lock file at `url`. An empty lock is read again for up to a second
    /// before it counts as a stale lock of nobody.
    /// - Throws: `FileError` when it exists but cannot be read (a folder named `lock`, no permission).
    static func holder(of url: URL) throws -> Holder {
        for _ in 0..<20 {
            let data: Data
            do { data = try FileIO.read(url) } catch let error as FileError where error.code == ENOENT { return .nobody }
            if !data.isEmpty {
                return String(data: data, encoding: .utf8).flatMap { RunFolder.lockOwner($0) }.map { .process($0) } ?? .foreign
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return .nobody
    }

    /// Gives the folder back.
    public func release() {
        if isHeld { unlink(url.path) }
        isHeld = false
    }

    deinit { release() }
}
