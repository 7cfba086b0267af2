import Foundation

/// The mean over a run's last `count` logged training steps of any per-step quantity of
/// `metrics.jsonl`: a number, or a per-layer (per-element) list averaged element by element.
/// Wortsman et al. 2023 average gradient RMS over the final 500 steps (Fig. 11); QKLab logs every
/// `log_interval` steps, so the window is counted in logged steps. For each key, the last `count`
/// lines that have it are used; `null` (non-finite) entries are left out of their element's mean,
/// and an element with no finite value reads as nil.
public struct LastStepsMean {
    /// One key's reduction over one run.
    public enum Value: Equatable {
        case number(Double?)
        case list([Double?])
    }

    public let count: Int
    /// The keys reduced, in the order first met in the runs' lines.
    public let keys: [String]
    /// Per run (as given), per key: its mean; a key the run does not log is absent.
    public let values: [[String: Value]]
    public let runNames: [String]

    /// - Parameters:
    ///   - keys: the keys to reduce; empty for every numeric or list key of the training lines but
    ///     `step`.
    public init(runs: [RunHistory], count: Int, keys: [String] = []) {
        precondition(count >= 1, "a window of at least one logged step")
        let shown = keys.isEmpty ? Self.quantityKeys(of: runs) : keys
        self.count = count
        self.keys = shown
        runNames = runs.map(\.name)
        values = runs.map { run in
            var means: [String: Value] = [:]
            for key in shown {
                let recent = run.trainingLines.filter { line in
                    line[key].map { Self.isQuantity($0) || $0 is NSNull } ?? false
                }.suffix(count)
                guard !recent.isEmpty else { continue }
                means[key] = Self.mean(recent.map { $0[key]! })
            }
            return means
        }
    }

    /// Every numeric or list key of the runs' training lines but `step`, in the order first met.
    static func quantityKeys(of runs: [RunHistory]) -> [String] {
        var seen: [String] = []
        for run in runs {
            for line in run.trainingLines {
                for key in line.keys.sorted() where key != "step" && !seen.contains(key) && isQuantity(line[key]) {
                    seen.append(key)
                }
            }
        }
        return seen
    }

    /// Whether a JSON value is a number or a non-empty list of numbers and nulls.
    static func isQuantity(_ value: Any?) -> Bool {
        if value is NSNumber { return true }
        guard let list = value as? [Any] else { return false }
        return !list.isEmpty && list.allSatisfy { $0 is NSNull || $0 is NSNumber }
    }

    /// The mean of numbers, or the element-wise mean of lists (their longest length).
    static func mean(_ entries: [Any]) -> Value {
        if entries.contains(where: { $0 is [Any] }) {
            let lists = entries.map { RunHistory.numbers($0) }
            let width = lists.map(\.count).max() ?? 0
            return .list(
                (0..<width).map { index in Statistics.mean(lists.compactMap { index < $0.count ? $0[index] : nil }) })
        }
        return .number(Statistics.mean(entries.compactMap(RunHistory.number)))
    }

    /// A table: one row per key, one column per run.
    public var text: String {
        let rows = keys.map { key in
            [key] + values.map { means in means[key].map(Self.show) ?? "—" }
        }
        return
            "Mean over the last \(count) logged step\(count == 1 ? "" : "s") (per element for per-layer lists; non-finite values left out):\n"
            + ComparisonTable.grid(header: [""] + runNames, rows: rows)
    }

    static func show(_ value: Value) -> String {
        let number = { (value: Double?) in value.map { String(format: "%.4g", $0) } ?? "—" }
        switch value {
        case .number(let value): return number(value)
        case .list(let values): return "[" + values.map(number).joined(separator: ", ") + "]"
        }
    }
}
