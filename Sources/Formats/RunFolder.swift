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
                Self.checkpointFiles.allSatisfy { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
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
