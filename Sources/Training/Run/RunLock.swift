import Formats
import Foundation

/// An exclusive claim on a run folder: the folder's `lock` file, holding the owner's pid and
/// QKLab's mark (`RunFolder+Lock`), with an exclusive `flock` on it for as long as the claim lasts.
///
/// The lock file never appears empty or half-written, whenever a process is killed: a claim
/// writes its text into a claim file of its own (`lock.claim-PID-XXXXXX`, flocked), then makes
/// that file the `lock` in one step — `link` when there is none, `rename` over a stale one. The
/// kernel drops a `flock` when its process ends, however it ends, so a QKLab lock whose `flock` is
/// free and whose pid is gone is stale and is replaced; claims racing for one folder get the
/// `flock` one at a time, so exactly one of them holds the folder. A claim file left by a killed
/// process is removed by the next claim. A lock of a QKLab from before the `flock` still refuses
/// while its pid lives. A `lock` that is not QKLab's — someone's file, an empty file, a folder — is
/// never changed or removed.
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
        let (fd, claim) = try Self.claimFile(in: folder)
        defer {
            unlink(claim)  // the `lock` keeps the file when the claim succeeded
            if descriptor == nil { close(fd) }
        }
        var owner: Int32?
        for _ in 0..<20 {
            if link(claim, url.path) == 0 { break }
            guard errno == EEXIST else { throw FileError("create lock file", url.path) }
            let existing = open(url.path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
            guard existing >= 0 else {
                if errno == ENOENT { continue }  // released between the two calls
                throw FileError("open lock file", url.path)
            }
            defer { close(existing) }
            guard flock(existing, LOCK_EX | LOCK_NB) == 0 else {
                guard errno == EWOULDBLOCK else { throw FileError("lock", url.path) }
                owner = (try? String(contentsOf: url, encoding: .utf8)).flatMap { RunFolder.lockOwner($0) }
                if let owner, RunFolder.isAlive(owner) { throw inUse(folder, by: owner) }
                Thread.sleep(forTimeInterval: 0.05)  // being replaced or released
                continue
            }
            switch try inspect(existing, folder: folder) {
            case .stale:
                guard rename(claim, url.path) == 0 else { throw FileError("replace lock file", url.path) }
            case .released:
                continue
            case .empty:  // a lock of a QKLab from before the claim files, killed as it started?
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            break
        }
        guard FileIdentity(descriptor: fd) == FileIdentity(path: url.path) else {
            if let owner { throw inUse(folder, by: owner) }
            throw RunError(
                "\(url.path) stays empty and unlocked: not a QKLab lock, or one left by a run killed as it started; remove it if no run is starting"
            )
        }
        descriptor = fd
        Self.removeLeftClaimFiles(in: folder)
    }

    /// A new claim file in `folder` holding this process's lock text, flocked: open descriptor and path.
    /// - Throws: `FileError` when it cannot be created, locked or written.
    private static func claimFile(in folder: RunFolder) throws -> (Int32, String) {
        var template = Array(folder.url.appendingPathComponent("\(claimPrefix)\(getpid())-XXXXXX").path.utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        let path = String(cString: template)
        guard fd >= 0 else { throw FileError("create lock file", path) }
        do {
            guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else { throw FileError("create lock file", path) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { throw FileError("lock", path) }
            fchmod(fd, 0o644)
            try overwrite(fd, with: RunFolder.lockText(pid: getpid()), path: path)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        return (fd, path)
    }

    /// The start of a claim file's name; `RunFolder.isClaimFile` recognises the whole name.
    static let claimPrefix = RunFolder.claimFilePrefix

    /// Removes the claim files of processes that are gone (killed while claiming): QKLab's by their name.
    private static func removeLeftClaimFiles(in folder: RunFolder) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.url.path)) ?? []
        for name in names {
            guard let pid = RunFolder.claimFileOwner(name), !RunFolder.isAlive(pid) else { continue }
            unlink(folder.url.appendingPathComponent(name).path)
        }
    }

    /// What a lock file open at `fd`, with its `flock` held, turned out to be.
    private enum Found { case stale, released, empty }

    /// Whether the lock file open at `fd` is a stale QKLab lock (its process gone, or this one's pid).
    /// - Throws: `RunError` for a live owner or a file that is not QKLab's; `FileError`.
    private func inspect(_ fd: Int32, folder: RunFolder) throws -> Found {
        guard let identity = FileIdentity(descriptor: fd), identity == FileIdentity(path: url.path) else {
            return .released
        }
        let text = String(decoding: try Self.contents(fd, url.path), as: UTF8.self)
        let pid = RunFolder.lockOwner(text)
        if pid.map({ $0 == getpid() || !RunFolder.isAlive($0) }) == true { return .stale }
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
