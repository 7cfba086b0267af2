import Foundation

/// The layout of a run folder (interface.md):
///
///     runs/NAME/
///       config.toml              the fully resolved config
///       run.txt                  the header facts: version, BLAS, threads, parameters, paths
///       metrics.jsonl            one JSON object per line
///       events.out.tfevents.*    the same scalars for TensorBoard
///       checkpoints/step-000500/{model.safetensors, optimizer.safetensors, state.json}
///       checkpoints/latest -> step-000500
///       lock                     pid of the process training in this folder
public struct RunFolder {
    public let url: URL

    public init(_ url: URL) { self.url = url.standardizedFileURL }

    public var config: URL { url.appendingPathComponent("config.toml") }
    public var info: URL { url.appendingPathComponent("run.txt") }
    public var metrics: URL { url.appendingPathComponent("metrics.jsonl") }
    public var checkpoints: URL { url.appendingPathComponent("checkpoints") }
    public var latest: URL { checkpoints.appendingPathComponent("latest") }
    public var lock: URL { url.appendingPathComponent("lock") }
    public var nonFiniteReport: URL { url.appendingPathComponent("nonfinite.json") }

    /// Folder of the checkpoint written after step `step`.
    public func checkpoint(step: Int) -> URL {
        checkpoints.appendingPathComponent(String(format: "step-%06d", step))
    }

    /// The newest complete checkpoint: the complete `step-*` folder of the highest step. (The
    /// folders, not the `latest` link, decide: a crash between a checkpoint's rename and the
    /// link's update leaves `latest` one behind.)
    public func latestCheckpoint() -> URL? {
        completeCheckpoints().last
    }

    /// Complete checkpoint folders (those holding all three files), oldest step first. Temporary
    /// folders of interrupted writes (`.tmp-*`) are not checkpoints.
    public func completeCheckpoints() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
        let steps = names.compactMap { name in name.hasPrefix("step-") ? Int(name.dropFirst(5)).map { (name, $0) } : nil }
        return steps.sorted { $0.1 < $1.1 }.map { checkpoints.appendingPathComponent($0.0) }
            .filter { folder in
                Checkpoint.fileNames.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
            }
    }

    /// What the folder holds, for messages ("metrics.jsonl, checkpoints/ (empty)").
    public func contentsSummary() -> String {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path), !names.isEmpty else {
            return FileManager.default.fileExists(atPath: url.path) ? "nothing" : "no such folder"
        }
        let shown = names.sorted().prefix(8).joined(separator: ", ")
        return names.count > 8 ? "\(shown) and \(names.count - 8) more" : shown
    }
}

/// An exclusive claim on a run folder: a `lock` file holding the owner's pid. A lock whose
/// process is gone is stale and taken over.
public final class RunLock {
    let url: URL

    /// Claims `folder` or throws naming the pid that holds it.
    public init(folder: RunFolder) throws {
        url = folder.lock
        let pid = getpid()
        for _ in 0..<2 {
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if fd >= 0 {
                let text = "\(pid)\n"
                _ = text.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                return
            }
            let owner = (try? String(contentsOf: url, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if let owner, owner != pid, Self.isAlive(owner) {
                throw RunError("run folder \(folder.url.path) is in use by process \(owner) (lock file \(url.path)); wait for it or stop it")
            }
            try? FileManager.default.removeItem(at: url)   // stale: its process is gone
        }
        throw RunError("cannot create lock file \(url.path)")
    }

    /// Whether process `pid` exists and is not a zombie (a killed process whose parent died
    /// lingers as one until reaped, and holds nothing).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return !stat[close...].hasPrefix(") Z")
    }

    /// Gives the folder back.
    public func release() { try? FileManager.default.removeItem(at: url) }

    deinit { release() }
}

/// A run-level problem, one line.
public struct RunError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
