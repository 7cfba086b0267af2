import Formats
import Foundation

/// An exclusive claim on a run folder: the folder's `lock` file, holding the owner's pid and
/// QKLab's mark (`RunFolder+Lock`), with an exclusive `flock` on it for as long as the claim lasts.
///
/// The kernel drops a `flock` when its process ends, however it ends, so a QKLab lock file whose
/// `flock` is free and whose pid is gone is stale and is taken over, in place; processes claiming
/// one folder at once get the `flock` one at a time, so exactly one of them holds the folder. A
/// lock of a QKLab from before the `flock` still refuses while its pid lives. A `lock` that is not
/// QKLab's — someone's file, an empty file, a folder — is never changed or removed.
public final class RunLock {
    let url: URL
    /// The open lock file, holding the `flock`, while this object holds the claim.
    private var descriptor: Int32?

    /// Claims `folder`, waiting up to about a second for a claim another process is making or
    /// giving up at the same moment.
    /// - Throws: `RunError` naming the live process that holds the folder, or saying that its
    ///   `lock` is not a QKLab lock; `FileError` (the path and the OS reason) when the lock file
    ///   cannot be created, read, locked or written.
    public init(folder: RunFolder) throws {
        url = folder.lock
        var created: FileIdentity?  // the lock file this claim created
        defer { if descriptor == nil, let created, FileIdentity(path: url.path) == created { unlink(url.path) } }
        var owner: Int32?
        for _ in 0..<20 {
            let fresh = open(url.path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            let fd = fresh >= 0 ? fresh : open(url.path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { continue }  // released between the two opens
                throw FileError("open lock file", url.path)
            }
            if fresh >= 0 { created = FileIdentity(descriptor: fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let failure = errno
                close(fd)
                guard failure == EWOULDBLOCK else { throw FileError("lock", url.path, code: failure) }
                owner = (try? String(contentsOf: url, encoding: .utf8)).flatMap { RunFolder.lockOwner($0) }
                if let owner, RunFolder.isAlive(owner) { throw inUse(folder, by: owner) }
                Thread.sleep(forTimeInterval: 0.05)  // being written, or taken over
                continue
            }
            let found: Found
            do { found = try inspect(fd, created: created, folder: folder) } catch {
                close(fd)
                throw error
            }
            switch found {
            case .claimed:
                descriptor = fd
                return
            case .released:  // unlinked by its owner's release meanwhile
                close(fd)
            case .empty:  // another claim may be about to write it
                close(fd)
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        if let owner { throw inUse(folder, by: owner) }
        throw RunError(
            "\(url.path) stays empty and unlocked: not a QKLab lock, or one left by a run killed as it started; remove it if no run is starting"
        )
    }

    /// What a lock file open at `fd`, with its `flock` held, turned out to be.
    private enum Found { case claimed, released, empty }

    /// Claims the lock file open at `fd` if it is this claim's new file or a stale QKLab lock
    /// (writing this process's pid into it).
    /// - Throws: `RunError` for a live owner or a file that is not QKLab's; `FileError`.
    private func inspect(_ fd: Int32, created: FileIdentity?, folder: RunFolder) throws -> Found {
        guard let identity = FileIdentity(descriptor: fd), identity == FileIdentity(path: url.path) else {
            return .released
        }
        let text = String(decoding: try Self.contents(fd, url.path), as: UTF8.self)
        let pid = RunFolder.lockOwner(text)
        if identity == created || pid.map({ $0 == getpid() || !RunFolder.isAlive($0) }) == true {
            try Self.overwrite(fd, with: RunFolder.lockText(pid: getpid()), path: url.path)
            return .claimed
        }
        if let pid { throw inUse(folder, by: pid) }  // a QKLab from before the flock, alive
        guard text.isEmpty else {
            throw RunError(
                "\(url.path) is not a QKLab lock file (QKLab's holds a pid and the line '\(RunFolder.lockMark)'); move it away, QKLab never deletes a file it did not create"
            )
        }
        return .empty
    }

    /// Gives the folder back: removes the lock file (if it is still this claim's), then drops the `flock`.
    public func release() {
        guard let fd = descriptor else { return }
        if let identity = FileIdentity(descriptor: fd), identity == FileIdentity(path: url.path) { unlink(url.path) }
        close(fd)
        descriptor = nil
    }

    deinit { release() }

    private func inUse(_ folder: RunFolder, by pid: Int32) -> RunError {
        RunError(
            "run folder \(folder.url.path) is in use by process \(pid) (lock file \(url.path)); wait for it or stop it")
    }

    /// The whole file open at `fd`, from its start.
    private static func contents(_ fd: Int32, _ path: String) throws -> Data {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw FileError("read lock file", path) }
        return try FileIO.read(descriptor: fd, path: path)
    }

    /// Replaces the contents of the file open at `fd` with `text`.
    private static func overwrite(_ fd: Int32, with text: String, path: String) throws {
        guard ftruncate(fd, 0) == 0 else { throw FileError("write lock file", path) }
        let bytes = Array(text.utf8)
        let written = pwrite(fd, bytes, bytes.count, 0)
        guard written == bytes.count else { throw FileError("write lock file", path, code: written < 0 ? errno : EIO) }
    }
}
