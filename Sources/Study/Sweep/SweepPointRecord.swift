import Formats
import Foundation

/// Where a sweep point stands, read from its run folder — the one place that decides whether a
/// point's numbers may be used (`SweepSummary`) and what the sweep does with it (`SweepRunner`).
public enum SweepPointStatus: Equatable {
    /// Nothing has run (no folder, or a folder without a step).
    case notStarted
    /// A trainer that is alive holds the folder's lock.
    case running(pid: Int32)
    /// Trained to `train.max_steps` (its final checkpoint exists).
    case finished
    /// Stopped on a non-finite step under `on_nonfinite = "stop"`: docs/sweeps.md's "diverged".
    case diverged(step: Int)
    /// Its trainer exited with an error before the first step; `reason` is its last line.
    case failedToStart(reason: String)
    /// Its trainer exited with an error after `step` (its last logged step, nil if none).
    case failed(step: Int?, reason: String)
    /// Stopped at `step` with no record of why: interrupted with the sweep, or killed, or
    /// training in a process this machine cannot see (another host of a job array).
    case stopped(step: Int)
    /// Its recorded config differs from what the sweep file now gives, in keys that can change
    /// the numbers (`differences`: "key: recorded → now").
    case configChanged(differences: [String])

    /// Whether the point's numbers are a complete result (a final loss, or a divergence).
    public var isComplete: Bool {
        switch self {
        case .finished, .diverged: return true
        default: return false
        }
    }

    /// Whether the point failed: an error exit, or a folder that no longer matches the sweep.
    public var isFailure: Bool {
        switch self {
        case .failedToStart, .failed, .configChanged: return true
        default: return false
        }
    }

    /// One word for tables.
    public var label: String {
        switch self {
        case .notStarted: return "not started"
        case .running: return "running"
        case .finished: return "finished"
        case .diverged: return "diverged"
        case .failedToStart: return "failed to start"
        case .failed: return "failed"
        case .stopped: return "stopped"
        case .configChanged: return "config changed"
        }
    }
}

/// A sweep point's run folder as the sweep reads and writes it. Besides the run's own files
/// the sweep keeps two:
///
///     point.toml   the point's resolved config when the sweep launched it (a comment names the
///                  base config and overrides); a rerun compares it with the sweep file's
///     failed       written when the point's trainer ends without finishing: its exit status or
///                  signal and the last line of train.log (removed when the point is launched again)
public struct SweepPointRecord {
    public let folder: RunFolder

    public init(_ folder: RunFolder) { self.folder = folder }

    public var pointConfig: URL { folder.sweepPointConfig }
    public var failure: URL { folder.sweepFailure }
    public var log: URL { folder.sweepLog }

    /// The status of the point given its planned config. A folder without a step is
    /// "not started" whatever its config (the sweep starts it anew); one with steps is
    /// "config changed" when its recorded config differs from `planned` (a key the record lacks
    /// is compared as `defaults`' value: the record is an older QKLab's, before the key existed).
    public func status(planned: ConfigTable, defaults: ConfigTable? = nil) -> SweepPointStatus {
        guard FileManager.default.fileExists(atPath: folder.url.path) else { return .notStarted }
        let history = try? RunHistory(folder: folder.url)
        let checkpointStep = folder.latestCheckpoint().flatMap { RunFolder.step(ofCheckpoint: $0.lastPathComponent) }
        let lastStep = [history?.lastStep, checkpointStep].compactMap { $0 }.max()
        let differences =
            recordedConfig().map { Self.differences(recorded: $0, planned: planned, defaults: defaults) } ?? []
        if !differences.isEmpty { return lastStep == nil ? .notStarted : .configChanged(differences: differences) }
        if let pid = folder.liveLockOwner() { return .running(pid: pid) }
        if let checkpointStep, checkpointStep == planned.integer("train.max_steps") { return .finished }
        if let history, let step = Self.divergedStep(history) { return .diverged(step: step) }
        if let reason = recordedFailure() {
            return lastStep == nil ? .failedToStart(reason: reason) : .failed(step: lastStep, reason: reason)
        }
        return lastStep.map { .stopped(step: $0) } ?? .notStarted
    }

    /// The step at which `run` stopped on a non-finite step: its last training line is
    /// non-finite and its config says `on_nonfinite = "stop"` (under "skip" such a step was only
    /// skipped, and the run went on).
    static func divergedStep(_ run: RunHistory) -> Int? {
        guard run.config["train.on_nonfinite"] != .text("skip"), let last = run.training.last, last.isNonFinite,
            FileManager.default.fileExists(atPath: run.folder.nonFiniteReport.path)
        else { return nil }
        return last.step
    }

    /// The config the point was launched with: `point.toml`, or for points of sweeps that did
    /// not write one, the run's `config.toml`.
    public func recordedConfig() -> ConfigTable? {
        for url in [pointConfig, folder.config] {
            if let text = try? String(contentsOf: url, encoding: .utf8) {
                return try? ConfigTable(text: text, source: url.path)
            }
        }
        return nil
    }

    /// The config the point's run last trained with: its `config.toml` (written by each start and
    /// resume of its trainer); nil before its first step.
    public func runConfig() -> ConfigTable? {
        guard let text = try? String(contentsOf: folder.config, encoding: .utf8) else { return nil }
        return try? ConfigTable(text: text, source: folder.config.path)
    }

    /// "key: recorded → planned" for every key that can change the numbers or what is measured
    /// (all but `ConfigKeyRole.bookkeeping`) and differs; a key the record lacks differs only
    /// when the planned value is not the default.
    static func differences(recorded: ConfigTable, planned: ConfigTable, defaults: ConfigTable? = nil) -> [String] {
        ConfigTable.differingPaths(among: [recorded, planned])
            .filter { ConfigKeyRole.of($0) != .bookkeeping }
            .filter { path in recorded[path] != nil || defaults == nil || planned[path] != defaults![path] }
            .map { path in
                let show = { (table: ConfigTable) in table[path] == nil ? "(absent)" : table.displayValue(path) }
                return "\(path): \(show(recorded)) → \(show(planned))"
            }
    }

    /// Writes `point.toml`: `resolvedConfig` under a comment naming where it came from.
    public func writePointConfig(_ point: SweepPlan.Point, base: URL, fixedOverrides: [String]) throws {
        let header = [
            "# The config qklab sweep resolved for this point when it launched it; a rerun of the sweep",
            "# compares it with what the sweep file gives now and refuses the point if they differ.",
            "# base: \(base.path)",
            "# overrides: \((fixedOverrides + point.overrides).joined(separator: " "))",
        ]
        try Data((header.joined(separator: "\n") + "\n" + point.resolvedConfig).utf8).write(
            to: pointConfig, options: .atomic)
    }

    /// Records that the trainer ended without finishing — `exit` says how ("exit status 1",
    /// "killed by signal 9") — with `note`, or else the last line of its log.
    public func writeFailure(exit: String, note: String? = nil) throws {
        let why = note ?? lastLogLine() ?? "(train.log is empty)"
        try Data("\(exit): \(why)\n".utf8).write(to: failure, options: .atomic)
    }

    /// The text of `failed`, with where the log is; nil when there is none.
    public func recordedFailure() -> String? {
        guard let text = try? String(contentsOf: failure, encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) + " (log: \(log.path))"
    }

    /// The last non-empty line of `train.log` (progress lines redrawn with `\r` count as lines).
    func lastLogLine() -> String? {
        guard let data = FileManager.default.contents(atPath: log.path),
            let text = String(data: data.suffix(4096), encoding: .utf8)
        else { return nil }
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
    }
}
