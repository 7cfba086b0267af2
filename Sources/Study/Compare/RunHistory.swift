import Formats
import Foundation

/// A run folder read for comparison: its resolved `config.toml` and the lines of its
/// `metrics.jsonl`, in the order written. Works on runs that are still in progress, were
/// stopped, or diverged: it takes whatever complete lines are there (a torn last line is skipped).
/// Runs written before a key existed (the stability telemetry, the bigram loss) read it as absent:
/// an empty list or nil.
public struct RunHistory {
    /// One training line. nil stands for a value written as `null` (non-finite) or missing; a
    /// per-layer list is empty when the line does not have the key.
    public struct TrainingPoint: Equatable {
        public let step: Int
        public let loss: Double?
        public let gradNorm: Double?
        /// `attn_logit_max`, one entry per layer.
        public let attnLogitMax: [Double?]
        /// The stability telemetry of the step (docs/metrics.md, "Stability telemetry").
        public let telemetry: StabilityTelemetry
        public let tokensPerSecond: Double?
        /// `skipped_steps` (non-finite steps so far), when the line has it.
        public let skippedSteps: Int?
        /// Whether the step's loss or gradient norm was `null`. Every such step is logged.
        public let isNonFinite: Bool

        /// The largest finite attention logit over layers, with its layer (0-based).
        public var maxAttnLogit: (value: Double, layer: Int)? {
            attnLogitMax.enumerated()
                .compactMap { layer, value in value.map { (value: $0, layer: layer) } }
                .max { $0.value < $1.value }
        }
    }

    /// One evaluation line; `valLoss` is nil when it was written as `null`.
    public struct Evaluation: Equatable {
        public let step: Int
        public let valLoss: Double?
    }

    /// Label for tables and legends (the folder's name unless given).
    public let name: String
    public let folder: RunFolder
    public let config: ConfigTable
    /// Complete lines of `metrics.jsonl` that could not be read and were skipped.
    public let damagedMetricsLines: Int
    public let training: [TrainingPoint]
    /// The same training lines as read, every key kept (`LastStepsMean` reduces any of them).
    public let trainingLines: [[String: Any]]
    public let evaluations: [Evaluation]
    /// The corpus's bigram loss (nats; the step-0 line `bigram_loss`); nil for runs written
    /// before it was recorded.
    public let bigramLoss: Double?

    /// Reads `folder`. Throws when it has no readable `config.toml`; a missing `metrics.jsonl`
    /// (a run that has not logged yet) reads as empty.
    public init(folder url: URL, name: String? = nil) throws {
        folder = RunFolder(url)
        self.name = name ?? folder.url.lastPathComponent
        guard let text = try? String(contentsOf: folder.config, encoding: .utf8) else {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.url.path, isDirectory: &isFolder) else {
                throw RunError("\(folder.url.path): no such run folder")
            }
            let what =
                isFolder.boolValue ? "no readable config.toml (it holds: \(folder.contentsSummary()))" : "it is a file"
            throw RunError("\(folder.url.path) is not a run folder: \(what)")
        }
        config = try ConfigTable(text: text, source: folder.config.path)
        let (lines, damaged) =
            FileManager.default.fileExists(atPath: folder.metrics.path)
            ? try MetricsReader.readCounting(folder.metrics) : ([], 0)
        damagedMetricsLines = damaged
        trainingLines = lines.filter { Self.trainingPoint($0) != nil }
        training = trainingLines.compactMap(Self.trainingPoint)
        evaluations = lines.compactMap(Self.evaluation)
        bigramLoss = lines.lazy.filter { $0["step"] as? Int == 0 }.compactMap { Self.number($0["bigram_loss"]) }.first
    }

    /// Reads several run folders, naming each by its folder name, or by the path as given when
    /// two folder names coincide.
    public static func load(_ paths: [String]) throws -> [RunHistory] {
        let names = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.lastPathComponent }
        return try zip(paths, names).map { path, name in
            try RunHistory(
                folder: URL(fileURLWithPath: path), name: names.filter { $0 == name }.count > 1 ? path : name)
        }
    }

    /// The last step with a logged line, training or evaluation.
    public var lastStep: Int? {
        [training.last?.step, evaluations.last?.step].compactMap { $0 }.max()
    }

    // MARK: - Parsing lines

    static func trainingPoint(_ line: [String: Any]) -> TrainingPoint? {
        guard let step = line["step"] as? Int, line["loss"] != nil else { return nil }
        return TrainingPoint(
            step: step, loss: number(line["loss"]), gradNorm: number(line["grad_norm"]),
            attnLogitMax: numbers(line["attn_logit_max"]), telemetry: StabilityTelemetry(line),
            tokensPerSecond: number(line["tokens_per_s"]), skippedSteps: line["skipped_steps"] as? Int,
            isNonFinite: line["loss"] is NSNull || line["grad_norm"] is NSNull)
    }

    static func evaluation(_ line: [String: Any]) -> Evaluation? {
        guard let step = line["step"] as? Int, line["val_loss"] != nil else { return nil }
        return Evaluation(step: step, valLoss: number(line["val_loss"]))
    }

    /// A JSON list of numbers, each as `number`; empty for a missing key or a non-list.
    static func numbers(_ value: Any?) -> [Double?] {
        (value as? [Any] ?? []).map(number)
    }

    /// A JSON number as a finite Double; nil for `null`, a missing key, or anything else.
    static func number(_ value: Any?) -> Double? {
        guard let double = (value as? NSNumber)?.doubleValue, double.isFinite else { return nil }
        return double
    }
}
