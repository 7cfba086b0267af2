import Formats
import Foundation

/// When `on_nonfinite = "skip"` turns into a failed run. Skipping exists to carry a run over an
/// occasional bad batch; it must not turn a run that learned nothing into a success.
///
/// - **Stuck**: `maxInARow` skipped steps in a row stop the run, as `"stop"` would. A skipped
///   step leaves weights and moments as they were, so consecutive skipped steps differ only in
///   their batch: ten in a row mean that at these weights nearly every batch overflows, and the
///   next steps would be skipped too.
/// - **Nothing learned**: a run that reaches `max_steps` without one applied update (every step
///   skipped, in a run shorter than `maxInARow` steps) fails instead of ending.
/// - No checkpoint — periodic, final or on a signal — is written before the first applied
///   update: it would hold the untouched initial weights under a step's name.
///
/// Either failure exits non-zero with one line, and `nonfinite.json` holds the first skipped
/// step and the ones before it (so a sweep counts the point as diverged).
enum SkipRule {
    /// Skipped steps in a row after which the run stops.
    static let maxInARow = 10

    static func stuck(step: Int, lastCheckpoint: URL?, report: URL) -> RunError {
        let last =
            lastCheckpoint.map { "the last checkpoint is \($0.lastPathComponent)" } ?? "no checkpoint was written"
        let unchanged =
            step == maxInARow
            ? "the weights are still the initial ones" : "the weights have not changed since step \(step - maxInARow)"
        return RunError(
            "step \(step): \(maxInARow) non-finite steps in a row, each skipped (on_nonfinite = \"skip\"); stopped as failed: "
                + "\(unchanged), and the run is stuck; \(last); details in \(report.path)")
    }

    static func nothingLearned(steps: Int, report: URL) -> RunError {
        RunError(
            "\(steps == 1 ? "the only step was" : "all \(steps) steps were") non-finite and skipped (on_nonfinite = \"skip\"): no update was applied, so the run failed "
                + "and no final checkpoint was written (it would hold the initial weights); details in \(report.path)")
    }

    static func checkpointNotWritten(step: Int) -> String {
        "step \(step): no checkpoint written: every step so far was non-finite and skipped, and the weights are the initial ones"
    }
}

extension Trainer {
    /// Whether at least one update has been applied to the weights (a checkpoint may be written).
    var hasTrained: Bool { optimizer.stepCount > 0 }
}
