import Formats
import Foundation
import Training
import XCTest

/// Issue 14.4: under `on_nonfinite = "skip"`, a run that learned nothing, or is stuck, fails (one
/// line, non-zero exit) and writes no checkpoint of untouched weights.
final class SkipRuleEndToEndTests: SmokeRunTestCase {
    /// z_loss = 1e38 overflows the objective on every step.
    let overflowing = ["model.z_loss=1e38", "train.on_nonfinite=skip"]

    func testEveryStepSkippedStopsAfterTenInARow() throws {
        let message = failure { try train(try smokeConfig(overflowing), in: "z") }
        let run = folder("z")
        XCTAssertEqual(
            message,
            "step 10: 10 non-finite steps in a row, each skipped (on_nonfinite = \"skip\"); stopped as failed: the weights are still "
                + "the initial ones, and the run is stuck; no checkpoint was written; details in \(run.nonFiniteReport.path)"
        )
        XCTAssertTrue(run.completeCheckpoints().isEmpty)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: run.nonFiniteReport.path), "a sweep counts the point as diverged")
        XCTAssertEqual(try series(run, "loss").count, 10)
        XCTAssertEqual(try series(run, "skipped_steps")[10], 10)
    }

    func testShortRunWithNoUpdateFails() throws {
        let message = failure { try train(try smokeConfig(overflowing + ["train.max_steps=5"]), in: "short") }
        let run = folder("short")
        XCTAssertEqual(
            message,
            "all 5 steps were non-finite and skipped (on_nonfinite = \"skip\"): no update was applied, so the run failed and no final "
                + "checkpoint was written (it would hold the initial weights); details in \(run.nonFiniteReport.path)")
        XCTAssertTrue(run.completeCheckpoints().isEmpty)
    }

    /// Periodic checkpoints before the first applied update are not written either.
    func testNoCheckpointOfInitialWeights() throws {
        _ = failure { try train(try smokeConfig(overflowing + ["train.checkpoint_interval=2"]), in: "periodic") }
        XCTAssertTrue(folder("periodic").completeCheckpoints().isEmpty)
    }

    /// An absurd learning rate: step 1 updates, then every step overflows. Ten steps end with 9
    /// skipped in a row (a success, whose final checkpoint holds step 1's update); twenty stop at
    /// step 11, also when the run is resumed in between (the count is in the checkpoint).
    func testStreakOfSkippedStepsCountsAcrossResumes() throws {
        let blowUp = [
            "optim.lr=1e30", "optim.warmup_steps=0", "optim.grad_clip=0", "train.on_nonfinite=skip",
            "train.eval_interval=0",
            "optim.decay_steps=30",
        ]
        let ten = try train(try smokeConfig(blowUp + ["train.max_steps=10"]), in: "ten")
        XCTAssertEqual(try state(ten).skippedSteps, 9)
        XCTAssertEqual(try state(ten).skippedInARow, 9)
        XCTAssertEqual(try state(ten).optimizerSteps, 1)

        let stuck =
            "step 11: 10 non-finite steps in a row, each skipped (on_nonfinite = \"skip\"); stopped as failed: "
            + "the weights have not changed since step 1, and the run is stuck; "
        XCTAssertEqual(
            failure { try train(try smokeConfig(blowUp + ["train.max_steps=20"]), in: "twenty") },
            stuck + "no checkpoint was written; details in \(folder("twenty").nonFiniteReport.path)")

        let pieces = try train(try smokeConfig(blowUp + ["train.max_steps=5"]), in: "pieces")
        XCTAssertEqual(try state(pieces).skippedInARow, 4)
        XCTAssertEqual(
            failure { try resume(pieces, ["train.max_steps=20"]) },
            stuck + "the last checkpoint is step-000005; details in \(pieces.nonFiniteReport.path)")
    }
}
