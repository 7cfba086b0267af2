import Foundation

/// The layout of a run folder (docs/spec/cli.md):
///
///     runs/NAME/
///       config.toml              the fully resolved config
///       run.txt                  the header facts: version, BLAS, threads, parameters, paths
///       metrics.jsonl            one JSON object per line
///       events.out.tfevents.*    the same scalars for TensorBoard
///       checkpoints/step-000500/{model.safetensors, optimizer.safetensors, state.json, manifest.json}
///       checkpoints/latest -> step-000500
///       lock                     pid of the process training in this folder
public struct RunFolder {
    public let url: URL

    public init(_ url: URL) { self.url = url.standardizedFileURL }

    /// The files of a complete checkpoint folder.
    public static let checkpointFiles = ["model.safetensors", "optimizer.safetensors", "state.json"]

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
    ///
    /// A run that is still training saves and prunes while the folder is listed: a listing can
    /// name only a folder that pruning removes before its files are checked, the newer one
    /// arriving just after. Pruning never removes the newest complete checkpoint, so `step-*`
    /// folders of which none is complete mean such a race, and the folder is listed again.
    public func latestCheckpoint() -> URL? {
        for _ in 0..<20 {
            let names = checkpointNames()
            if let latest = completeCheckpoints(names).last { return latest }
            if names.isEmpty { return nil }
        }
        return nil
    }

    /// Complete checkpoint folders (those holding all three files), oldest step first. Temporary
    /// folders of interrupted writes (`.tmp-*`) are not checkpoints.
    public func completeCheckpoints() -> [URL] {
        completeCheckpoints(checkpointNames())
    }

    /// The `step-*` folders after `checkpoint` that lack some of `checkpointFiles`, each with the
    /// files it lacks. Checkpoints appear complete (renamed into place), so these were damaged
    /// afterwards, and a reader that falls back to an older checkpoint says so.
    public func incompleteCheckpoints(after checkpoint: URL) -> [(folder: URL, missing: [String])] {
        let names = checkpointNames()
        guard let index = names.firstIndex(of: checkpoint.lastPathComponent) else { return [] }
        return names[(index + 1)...].map { checkpoints.appendingPathComponent($0) }.map { folder in
            (
                folder,
                Self.checkpointFiles.filter {
                    !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
                }
            )
        }.filter { !$0.missing.isEmpty }
    }

    /// The `step-*` folders of `checkpoints/`, oldest step first.
    func checkpointNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path)) ?? []
        let steps = names.compactMap { name in Self.step(ofCheckpoint: name).map { (name, $0) } }
        return steps.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// The step of a checkpoint folder named `step-NNNNNN`; nil for another name.
    public static func step(ofCheckpoint name: String) -> Int? {
        name.hasPrefix("step-") ? Int(name.dropFirst(5)) : nil
    }

    func completeCheckpoints(_ names: [String]) -> [URL] {
        names.map { checkpoints.appendingPathComponent($0) }.filter { folder in
            Self.checkpointFiles.allSatisfy {
                FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
            }
        }
    }

    /// The files `qklab sweep` keeps in a point's folder besides the run's own: the trainer's
    /// log (opened before the trainer starts), the point's resolved config, and why it failed.
    public var sweepLog: URL { url.appendingPathComponent("train.log") }
    public var sweepPointConfig: URL { url.appendingPathComponent("point.toml") }
    public var sweepFailure: URL { url.appendingPathComponent("failed") }

    /// Whether the folder holds a QKLab run, or the start of one: a complete checkpoint, or the
    /// `run.txt` every run writes before its first step (its header starts "qklab "). Files
    /// other tools also write (a `metrics.jsonl`, a `checkpoints/` folder) do not count.
    public var holdsRun: Bool {
        if !completeCheckpoints().isEmpty { return true }
        guard let header = try? FileIO.read(info).prefix(6) else { return false }
        return header == Data("qklab ".utf8)
    }

    /// Creates the folder of a new run, or throws (one line) when a new run may not be written
    /// there. QKLab writes a new run only into a new or empty folder (or one holding only QKLab's
    /// own files: a sweep point's, or the lock of a run killed at its start): it refuses a folder
    /// that already holds a run, and never writes into a folder of someone's own files, whose
    /// `config.toml` it would replace.
    /// Returns whether it created the folder (false: it was there, empty or a sweep point's).
    @discardableResult
    public func createForNewRun() throws -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw RunError("run folder \(url.path) is a file, not a folder: pick another --run-dir")
            }
            if holdsRun {
                let advice =
                    completeCheckpoints().isEmpty
                    ? "it has no checkpoint to resume from: remove the folder or pick another --run-dir"
                    : "continue it with --resume \(url.path) or pick another --run-dir"
                throw RunError("run folder \(url.path) already holds a run; \(advice)")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: url.path)
            var ownFiles = Set([sweepLog, sweepPointConfig, sweepFailure].map(\.lastPathComponent))
            if holdsMarkedLock { ownFiles.insert(lock.lastPathComponent) }  // `RunLock` then refuses it if live
            if !names.allSatisfy({ ownFiles.contains($0) || Self.claimFileOwner($0) != nil }) {
                throw RunError(
                    "run folder \(url.path) is not empty and holds no QKLab run (it holds: \(contentsSummary())); a new run needs a new or empty folder: pick another --run-dir"
                )
            }
            return false
        }
        try FileIO.createDirectory(url)
        return true
    }

    /// Why the folder cannot be read as a run, for messages: no such folder, a file where the
    /// folder should be, or no complete checkpoint (and what it holds instead).
    public func noCheckpointReason() -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            return "no such run folder"
        }
        if !isDirectory.boolValue { return "it is a file, not a run folder" }
        return "it has no complete checkpoint (it holds: \(contentsSummary()))"
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
