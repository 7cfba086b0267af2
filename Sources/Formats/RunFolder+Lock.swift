import Foundation

/// A run folder's `lock` file, as every reader sees it: the pid of the process training in the
/// folder, then a line marking the file as QKLab's (`RunLock` in Training takes and gives it).
/// The mark lets QKLab tell its own lock, left by a run killed before it wrote anything else,
/// from someone's file named `lock`.
extension RunFolder {
    /// The text of a run's lock file.
    public static func lockText(pid: Int32) -> String { "\(pid)\n\(lockMark)\n" }
    public static let lockMark = "qklab run lock"

    /// The pid a lock file names, if `text` is a QKLab lock (that of `lockText`, or the bare pid
    /// that versions before the mark wrote) naming a valid pid (> 0); nil for anything else.
    public static func lockOwner(_ text: String, acceptingBarePid: Bool = true) -> Int32? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let pid = lines.first.flatMap({ Int32($0) }), pid > 0 else { return nil }
        if lines.count >= 2, lines[1] == lockMark { return pid }
        return acceptingBarePid && lines.dropFirst().allSatisfy(\.isEmpty) ? pid : nil
    }

    /// The pid of the process that holds the folder's lock, when that process is alive.
    public func liveLockOwner() -> Int32? {
        guard let text = try? String(contentsOf: lock, encoding: .utf8), let pid = Self.lockOwner(text) else {
            return nil
        }
        return Self.isAlive(pid) ? pid : nil
    }

    /// Whether process `pid` exists and is not a zombie (a killed process whose parent died
    /// lingers as one until reaped, and holds nothing).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return !stat[close...].hasPrefix(") Z")
    }

    /// The start of the name of a claim file, where `RunLock` writes a lock before it becomes
    /// the `lock`: `lock.claim-PID-XXXXXX`.
    public static let claimFilePrefix = "lock.claim-"

    /// The pid in a claim file's name, nil when `name` is not one.
    public static func claimFileOwner(_ name: String) -> Int32? {
        guard name.hasPrefix(claimFilePrefix) else { return nil }
        let rest = name.dropFirst(claimFilePrefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard rest.count == 2, rest[1].count == 6, let pid = Int32(rest[0]), pid > 0 else { return nil }
        return pid
    }

    /// Whether the folder's `lock` is a marked QKLab lock (a run killed before it wrote anything
    /// else leaves only that: the folder is QKLab's, and the lock is taken over if stale).
    var holdsMarkedLock: Bool {
        guard let text = try? String(contentsOf: lock, encoding: .utf8) else { return false }
        return Self.lockOwner(text, acceptingBarePid: false) != nil
    }
}
