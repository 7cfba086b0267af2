import Foundation

/// The value of per-step quantities of `metrics.jsonl` at chosen training steps, one column per
/// run: what a forecast made at an early step is checked against (Wortsman et al. 2023, Fig. 9
/// reads layer 0's max attention logit at step 2e3). A number or a per-layer list as logged; a
/// run that has no training line of that step, or whose line lacks the key, reads "—".
public struct StepValues {
    public let steps: [Int]
    /// The keys shown: the given ones, or every numeric or list key of the training lines but
    /// `step`, in the order first met.
    public let keys: [String]
    public let runNames: [String]
    /// Per run (as given), per step, per key: the logged value; absent where not logged.
    public let values: [[Int: [String: LastStepsMean.Value]]]

    public init(runs: [RunHistory], steps: [Int], keys: [String] = []) {
        let shown = keys.isEmpty ? LastStepsMean.quantityKeys(of: runs) : keys
        self.steps = steps
        self.keys = shown
        runNames = runs.map(\.name)
        values = runs.map { run in
            var byStep: [Int: [String: LastStepsMean.Value]] = [:]
            for step in steps {
                guard let line = run.trainingLines.last(where: { $0["step"] as? Int == step }) else {
                    continue
                }
                var atStep: [String: LastStepsMean.Value] = [:]
                for key in shown {
                    guard let value = line[key] else { continue }
                    atStep[key] = value is [Any] ? .list(RunHistory.numbers(value)) : .number(RunHistory.number(value))
                }
                byStep[step] = atStep
            }
            return byStep
        }
    }

    /// A table: one row per key and step, one column per run.
    public var text: String {
        let rows = keys.flatMap { key in
            steps.map { step in
                ["\(key) @ \(step)"] + values.map { byStep in byStep[step]?[key].map(LastStepsMean.show) ?? "—" }
            }
        }
        return "Values at step\(steps.count == 1 ? "" : "s") \(steps.map(String.init).joined(separator: ", ")):\n"
            + ComparisonTable.grid(header: [""] + runNames, rows: rows)
    }
}
