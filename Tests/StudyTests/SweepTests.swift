import Formats
import Foundation
import Study
import TestSupport
import XCTest

/// The sweep's plan, point states and summary on synthetic point folders, with every expected
/// number computed by hand in the comments.
final class SweepTests: ScratchTestCase {
    // MARK: - Helpers

    /// A stand-in for the trainer's config loader: the resolved config as TOML, from a few
    /// defaults with `overrides` applied (`optim.lr` always a real, as the loader makes it).
    static func resolve(_ base: URL, _ overrides: [String]) throws -> String {
        var sections: [(name: String, keys: [(key: String, value: String)])] = [
            ("model", [("qk_norm", "head"), ("seed", "1337")]),
            ("optim", [("lr", "0.001")]),
            (
                "train",
                [
                    ("max_steps", "60"), ("seed", "0"), ("threads", "0"), ("log_interval", "10"),
                    ("eval_interval", "20"),
                    ("checkpoint_interval", "20"), ("keep_checkpoints", "2"), ("on_nonfinite", "stop"),
                ]
            ),
            ("run", [("name", ""), ("dir", "runs")]),
        ]
        for override in overrides {
            let parts = override.split(separator: "=", maxSplits: 1).map(String.init)
            let path = parts[0].split(separator: ".").map(String.init)
            guard let s = sections.firstIndex(where: { $0.name == path[0] }) else {
                throw ConfigError("unknown section in \(override)")
            }
            let value = path[1] == "lr" ? "\(Double(parts[1])!)" : parts[1]
            if let k = sections[s].keys.firstIndex(where: { $0.key == path[1] }) {
                sections[s].keys[k].value = value
            } else {
                sections[s].keys.append((path[1], value))
            }
        }
        func toml(_ value: String) -> String {
            Double(value) != nil || value == "true" || value == "false" ? value : "\"\(value)\""
        }
        return sections.map { section in
            "[\(section.name)]\n" + section.keys.map { "\($0.key) = \(toml($0.value))\n" }.joined()
        }.joined(separator: "\n")
    }

    /// A plan from a sweep file with these `[set]` and `[grid]` lines, points under `scratch/out`.
    func plan(set: String = "", grid: String) throws -> SweepPlan {
        let file = scratch.appendingPathComponent("sweep.toml")
        try
            "base = \"base.toml\"\nout = \"\(scratch.appendingPathComponent("out").path)\"\n[set]\n\(set)\n[grid]\n\(grid)\n"
            .write(to: file, atomically: true, encoding: .utf8)
        return try SweepPlan(file: file, resolveConfig: Self.resolve)
    }

    func runner(_ plan: SweepPlan, executable: String = "/bin/false") -> SweepRunner {
        SweepRunner(plan: plan, executable: URL(fileURLWithPath: executable), jobs: 1)
    }

    func point(_ plan: SweepPlan, _ name: String) throws -> SweepPlan.Point {
        try XCTUnwrap(plan.points.first { $0.name == name }, "no point \(name) in \(plan.points.map(\.name))")
    }

    func train(_ step: Int, _ loss: String, skipped: Int? = nil) -> String {
        "{\"step\": \(step), \"loss\": \(loss), \"grad_norm\": \(loss == "null" ? "null" : "1.0"), \"attn_logit_max\": [3.0, 5.0]"
            + (skipped.map { ", \"skipped_steps\": \($0)" } ?? "") + "}"
    }

    func val(_ step: Int, _ loss: String) -> String { "{\"step\": \(step), \"val_loss\": \(loss)}" }

    /// The lines of a run that logged step 1 at `initial`, every 20 steps a training and a
    /// validation loss, and its last step `last` with validation loss `final`.
    func lines(initial: Double = 4.0, final: Double, last: Int = 60) -> [String] {
        [train(1, "\(initial)")]
            + stride(from: 20, through: last, by: 20).flatMap { step in
                [train(step, "3.0"), val(step, step == last ? "\(final)" : "3.1")]
            }
    }

    /// Writes a point's run folder: its config (the planned one unless `configOverrides` are
    /// given, which replace the grid's), metrics, a complete checkpoint at `checkpoint`, and the
    /// sweep's own files.
    func writePoint(
        _ runner: SweepRunner, _ point: SweepPlan.Point, lines: [String], checkpoint: Int? = nil,
        configOverrides: [String]? = nil, pointToml: Bool = true, nonFinite: Bool = false, failed: String? = nil
    ) throws {
        let folder = runner.folder(of: point)
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        let config =
            try configOverrides.map { try Self.resolve(runner.plan.base, runner.plan.fixedOverrides + $0) }
            ?? point.resolvedConfig
        try config.write(to: folder.config, atomically: true, encoding: .utf8)
        if pointToml {
            try config.write(to: folder.url.appendingPathComponent("point.toml"), atomically: true, encoding: .utf8)
        }
        try lines.map { $0 + "\n" }.joined().write(to: folder.metrics, atomically: true, encoding: .utf8)
        if let checkpoint {
            let url = folder.checkpoint(step: checkpoint)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for file in RunFolder.checkpointFiles { try Data().write(to: url.appendingPathComponent(file)) }
        }
        if nonFinite { try Data("{}".utf8).write(to: folder.nonFiniteReport) }
        if let failed { try Data((failed + "\n").utf8).write(to: folder.url.appendingPathComponent("failed")) }
    }

    func assertContains(_ text: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        for part in expected {
            XCTAssertTrue(text.contains(part), "missing '\(part)' in\n\(text)", file: file, line: line)
        }
    }

    // MARK: - The formula

    /// Wortsman et al.'s LR sensitivity by hand, from the seed-mean final loss per learning rate:
    /// losses 2.0, 1.5, 1.8 and a diverged one (+∞, counted at the initial loss 4.0):
    /// mean(0.5, 0, 0.3, 2.5) = 0.825.
    func testSensitivityArithmetic() {
        XCTAssertEqual(
            LRSensitivity.value(finalLosses: [2.0, 1.5, 1.8, .infinity], initialLoss: 4.0)!, 0.825, accuracy: 1e-12
        )
        // A loss above the initial loss counts at the initial loss: (min(1, 4) − 1 + min(9, 4) − 1) / 2 = 1.5.
        XCTAssertEqual(LRSensitivity.value(finalLosses: [1.0, 9.0], initialLoss: 4.0)!, 1.5, accuracy: 1e-12)
        XCTAssertEqual(LRSensitivity.value(finalLosses: [1.2], initialLoss: 4.0), 0)
        XCTAssertNil(LRSensitivity.value(finalLosses: [], initialLoss: 4.0))
        XCTAssertNil(
            LRSensitivity.value(finalLosses: [.infinity, .infinity], initialLoss: 4.0),
            "every learning rate diverged")
    }

    /// Seeds are averaged first, then clamped (docs/sweeps.md and Wortsman et al.): finals {5.0, 2.0} at
    /// one learning rate and {2.0, 2.0} at the other, initial 4.0: means 3.5 and 2.0, best 2.0,
    /// (3.5 − 2 + 0) / 2 = 0.75. Clamping each seed first would give min(5, 4) = 4, mean 3.0, and 0.5.
    func testSeedsAreAveragedBeforeTheClamp() {
        XCTAssertEqual(
            LRSensitivity.value(seedFinalLosses: [[5.0, 2.0], [2.0, 2.0]], initialLoss: 4.0)!, 0.75,
            accuracy: 1e-12)
        // A seed that diverged makes its learning rate count at the initial loss: (4 − 1 + 0) / 2 = 1.5.
        XCTAssertEqual(
            LRSensitivity.value(seedFinalLosses: [[.infinity, 2.0], [1.0, 1.0]], initialLoss: 4.0)!, 1.5,
            accuracy: 1e-12)
        // Three seeds, both means below the initial loss: means 3.0 and 2.5, (0.5 + 0) / 2 = 0.25.
        XCTAssertEqual(
            LRSensitivity.value(seedFinalLosses: [[3.5, 2.5, 3.0], [2.0, 3.0, 2.5]], initialLoss: 4.0)!, 0.25,
            accuracy: 1e-12)
    }

    /// The summary and charts carry the sweep's mark as their first line, so the next summary
    /// replaces them; a file of someone's own by one of their names stops the write, untouched.
    func testSummaryFilesAreMarkedAndOnlyTheSweepsOwnAreReplaced() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let output = SweepOutput(plan.output)
        try FileManager.default.createDirectory(at: output.points, withIntermediateDirectories: true)
        let summary = SweepSummary(runner: runner(plan))
        let charts = try output.write(summary)
        XCTAssertEqual(charts.map(\.lastPathComponent), ["lr_sweep.svg", "loss_vs_attn_logit.svg"])
        let text = try String(contentsOf: plan.output.appendingPathComponent("summary.txt"), encoding: .utf8)
        XCTAssertEqual(text, "# written by qklab sweep\n" + SweepSummaryText(summary).text)
        XCTAssertTrue(
            try String(contentsOf: charts[0], encoding: .utf8).hasPrefix("<!-- written by qklab sweep -->\n<svg "))
        XCTAssertNoThrow(try output.write(summary), "its own files are replaced")
        try Data("<svg>mine</svg>\n".utf8).write(to: charts[0])
        XCTAssertThrowsError(try output.write(summary)) {
            XCTAssertTrue("\($0)".contains("lr_sweep.svg was not written by qklab sweep"), "\($0)")
        }
        XCTAssertEqual(try String(contentsOf: charts[0], encoding: .utf8), "<svg>mine</svg>\n")
    }

    /// The same 0.75 through point folders: the summary averages the seeds, then clamps.
    func testSummaryAveragesSeedsBeforeTheClamp() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]\n\"train.seed\" = [0, 1]")
        let runner = runner(plan)
        let finals = ["lr=0.001,seed=0": 5.0, "lr=0.001,seed=1": 2.0, "lr=0.01,seed=0": 2.0, "lr=0.01,seed=1": 2.0]
        for (name, final) in finals {
            try writePoint(runner, try point(plan, name), lines: lines(final: final), checkpoint: 60)
        }
        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(summary.variants.count, 1)
        let variant = summary.variants[0]
        XCTAssertEqual(variant.variant, "all")
        XCTAssertEqual(variant.curve.map(\.meanFinalLoss), [3.5, 2.0])
        XCTAssertEqual(variant.sensitivity!, 0.75, accuracy: 1e-12)
        XCTAssertNil(summary.failureMessage)
    }

    // MARK: - Initial loss (item 1)

    /// The initial loss is the step-1 loss, whatever `log_interval` (here 100 on 60 steps) and
    /// learning rate: step-1 losses 4.10, 4.12, 4.14 (mean 4.12); final validation losses 2.0,
    /// 1.5 and 4.5 (above the initial loss, so counted at 4.12): (0.5 + 0 + 2.62) / 3 = 1.04.
    func testInitialLossIsTheStepOneLoss() throws {
        let plan = try plan(set: "\"train.log_interval\" = 100", grid: "\"optim.lr\" = [1e-3, 3e-3, 3e-2]")
        let runner = runner(plan)
        for (name, initial, final) in [("lr=0.001", 4.10, 2.0), ("lr=0.003", 4.12, 1.5), ("lr=0.03", 4.14, 4.5)] {
            // Step 1, then only the last step (60) and the evaluations: what log_interval = 100 writes.
            try writePoint(
                runner, try point(plan, name),
                lines: [
                    train(1, "\(initial)"), val(20, "3.3"), val(40, "3.0"), train(60, "2.87"), val(60, "\(final)"),
                ],
                checkpoint: 60)
        }
        let variant = SweepSummary(runner: runner).variants[0]
        XCTAssertEqual(variant.initialLoss!, 4.12, accuracy: 1e-12)
        XCTAssertEqual(variant.curve.map(\.countedLoss)[2], 4.12, accuracy: 1e-12)
        XCTAssertEqual(variant.sensitivity!, 1.04, accuracy: 1e-12)
    }

    /// A run folder without a step-1 line (trained before step 1 was always logged) is reported,
    /// and the variant's sensitivity is not computed from a later step instead.
    func testRunWithoutStepOneIsReportedNotGuessed() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001"), lines: lines(final: 2.0), checkpoint: 60)
        try writePoint(runner, try point(plan, "lr=0.01"), lines: Array(lines(final: 1.8).dropFirst()), checkpoint: 60)
        let summary = SweepSummary(runner: runner)
        let variant = summary.variants[0]
        XCTAssertNil(variant.sensitivity)
        XCTAssertEqual(variant.initialLoss, 4.0, "the mean of the step-1 losses there are")
        assertContains(variant.withheld ?? "", ["no step-1 loss in lr=0.01"])
        assertContains(
            SweepSummaryText(summary).text,
            ["all: LR sensitivity not computed: no step-1 loss in lr=0.01", "not computed"])
    }

    /// A grid of one learning rate (the κ study): every variant's sensitivity is withheld for the
    /// same reason, said once rather than once per variant.
    func testOneLearningRateIsSaidOnceForEveryVariant() throws {
        let plan = try plan(set: "\"optim.lr\" = 1e-2", grid: "\"model.qk_norm_gain\" = [1.0, 10.0, 100.0]")
        let runner = runner(plan)
        for (name, final) in [("qk_norm_gain=1.0", 2.0), ("qk_norm_gain=10.0", 2.1), ("qk_norm_gain=100.0", 2.2)] {
            try writePoint(runner, try point(plan, name), lines: lines(final: final), checkpoint: 60)
        }
        let summary = SweepSummary(runner: runner)
        let text = SweepSummaryText(summary).text
        assertContains(text, ["every variant: LR sensitivity not computed: the grid has one learning rate"])
        XCTAssertFalse(text.contains("qk_norm_gain=1.0: LR sensitivity not computed"), text)
        // The κ study's chart (Wortsman et al. 2023, Fig. 10): a marker per point, loss against logit.
        let chart = LogitLossChart.svg(summary)
        assertContains(chart, ["Final loss vs max attention logit", "qk_norm_gain=100.0"])
        XCTAssertEqual(chart.components(separatedBy: "class=\"marker\"").count - 1, 3 + 3, "3 points, 3 legend rows")
    }

    // MARK: - Point states (items 2 and 5)

    /// Four points: finished; failed to start; failed at step 30 (its validation loss of step 20
    /// is not a final loss); stopped at step 40 with no record of why. Only the first has a final
    /// loss, the sensitivity is not computed, and two points count as failed.
    func testFailedAndUnfinishedPointsAreNotSummarisedAsFinished() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]\n\"train.seed\" = [0, 1]")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001,seed=0"), lines: lines(final: 2.0), checkpoint: 60)
        try writePoint(
            runner, try point(plan, "lr=0.001,seed=1"), lines: [],
            failed: "exit status 1: qklab: data: block_size 2000 is longer than the validation split")
        try FileManager.default.removeItem(at: runner.folder(of: try point(plan, "lr=0.001,seed=1")).metrics)
        try writePoint(
            runner, try point(plan, "lr=0.01,seed=0"), lines: lines(final: 2.9, last: 20) + [train(30, "2.8")],
            checkpoint: 20,
            failed: "exit status 137: (train.log is empty)")
        try writePoint(runner, try point(plan, "lr=0.01,seed=1"), lines: lines(final: 2.7, last: 40), checkpoint: 40)

        let summary = SweepSummary(runner: runner)
        let statuses = summary.points.map(\.status)
        XCTAssertEqual(statuses[0], .finished)
        guard case .failedToStart(let reason) = statuses[1] else { return XCTFail("\(statuses[1])") }
        assertContains(reason, ["block_size 2000", "train.log"])
        guard case .failed(let step, _) = statuses[2] else { return XCTFail("\(statuses[2])") }
        XCTAssertEqual(step, 30)
        XCTAssertEqual(statuses[3], .stopped(step: 40))
        XCTAssertEqual(summary.points.map(\.finalLoss), [2.0, nil, nil, nil])
        XCTAssertNil(summary.variants[0].sensitivity)
        assertContains(summary.variants[0].withheld ?? "", ["3 of 4 points have no result", "lr=0.01,seed=1: stopped"])
        XCTAssertEqual(summary.failures.map(\.point.name), ["lr=0.001,seed=1", "lr=0.01,seed=0"])
        assertContains(summary.failureMessage ?? "", ["2 of 4 sweep points failed"])
        assertContains(
            SweepSummaryText(summary).text,
            [
                "failed to start: exit status 1: qklab: data: block_size 2000", "failed at step 30 of 60",
                "stopped at step 40 of 60 with no record", "rerun the sweep to resume it",
            ])
        // What a rerun does with each.
        XCTAssertEqual(try plan.points.map { try runner.action(for: $0) }, [.skip, .start, .resume, .resume])
    }

    /// A run that stops on a non-finite step under "stop" diverged and counts at the initial
    /// loss; under "skip" a run that skipped a step and finished is finished, its final loss used.
    /// stop: finals 2.0, 1.6 and diverged (4.0): (0.4 + 0 + 2.4) / 3 = 0.9333…;
    /// skip: finals 2.0, 1.6 (one skipped step), 1.8: (0.4 + 0 + 0.2) / 3 = 0.2.
    func testDivergedMeansStoppedOnANonFiniteStep() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2, 1e-1]\n\"train.on_nonfinite\" = [\"stop\", \"skip\"]")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001,on_nonfinite=stop"), lines: lines(final: 2.0), checkpoint: 60)
        try writePoint(runner, try point(plan, "lr=0.01,on_nonfinite=stop"), lines: lines(final: 1.6), checkpoint: 60)
        try writePoint(
            runner, try point(plan, "lr=0.1,on_nonfinite=stop"),
            lines: lines(final: 3.0, last: 20) + [train(33, "null")],
            checkpoint: 20, nonFinite: true, failed: "exit status 1: step 33: non-finite loss; stopped")
        try writePoint(runner, try point(plan, "lr=0.001,on_nonfinite=skip"), lines: lines(final: 2.0), checkpoint: 60)
        var skipping = lines(final: 1.6)
        skipping.insert(train(17, "null", skipped: 1), at: 1)
        try writePoint(
            runner, try point(plan, "lr=0.01,on_nonfinite=skip"), lines: skipping, checkpoint: 60, nonFinite: true)
        try writePoint(runner, try point(plan, "lr=0.1,on_nonfinite=skip"), lines: lines(final: 1.8), checkpoint: 60)

        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(
            summary.points.map(\.status), [.finished, .finished, .finished, .finished, .diverged(step: 33), .finished])
        XCTAssertEqual(summary.points.map(\.finalLoss), [2.0, 2.0, 1.6, 1.6, .infinity, 1.8])
        XCTAssertEqual(summary.variants.map(\.variant), ["on_nonfinite=stop", "on_nonfinite=skip"])
        XCTAssertEqual(summary.variants[0].sensitivity!, 2.8 / 3, accuracy: 1e-12)
        XCTAssertEqual(summary.variants[1].sensitivity!, 0.2, accuracy: 1e-12)
        XCTAssertEqual(summary.variants[0].curve.map(\.divergedRuns), [0, 0, 1])
        XCTAssertNil(summary.failureMessage, "a divergence is a result, not a failure")
        assertContains(
            SweepSummaryText(summary).text,
            [
                "lr=0.01,on_nonfinite=skip: 1 non-finite step skipped",
                "diverged: stopped on a non-finite step at step 33",
            ])
        XCTAssertEqual(
            try runner.action(for: try point(plan, "lr=0.1,on_nonfinite=stop")), .skip,
            "a diverged point is not trained again")
    }

    // MARK: - Which loss (item 7)

    /// With evaluation off the final loss is the training loss of the last step's batch, and
    /// the summary says so.
    func testFinalLossWithoutEvaluationIsLabelledTraining() throws {
        let plan = try plan(set: "\"train.eval_interval\" = 0", grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001"), lines: [train(1, "4.0"), train(60, "2.7")], checkpoint: 60)
        try writePoint(runner, try point(plan, "lr=0.01"), lines: [train(1, "4.0"), train(60, "2.5")], checkpoint: 60)
        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(summary.points.map(\.finalLoss), [2.7, 2.5])
        XCTAssertEqual(summary.points.map(\.finalLossKind), [.training, .training])
        XCTAssertEqual(summary.variants[0].lossKind, .training)
        XCTAssertEqual(summary.variants[0].sensitivity!, 0.1, accuracy: 1e-12)  // (0.2 + 0) / 2
        assertContains(
            SweepSummaryText(summary).text,
            [
                "final loss = training loss of the batch of train.max_steps (evaluation is off",
                "one training batch's loss per point",
            ])
    }

    // MARK: - Changed sweep files (item 3)

    /// The sweep file now says 200 steps; the folders hold 60-step runs. A finished point and an
    /// unfinished one are both refused (not reported, not resumed with the old config); a point
    /// whose config differs only in bookkeeping keys (`keep_checkpoints`, the runner's `threads`)
    /// is reused; a folder without a step is simply started again.
    func testChangedConfigIsRefusedNotReused() throws {
        let plan = try plan(set: "\"train.max_steps\" = 200", grid: "\"optim.lr\" = [1e-3, 3e-3, 1e-2, 3e-2]")
        let runner = runner(plan)
        let old = ["train.max_steps=60"]
        try writePoint(
            runner, try point(plan, "lr=0.001"), lines: lines(final: 2.0), checkpoint: 60,
            configOverrides: old + ["optim.lr=1e-3"])
        try writePoint(
            runner, try point(plan, "lr=0.003"), lines: lines(final: 2.0, last: 40), checkpoint: 40,
            configOverrides: old + ["optim.lr=3e-3"], pointToml: false)
        try writePoint(
            runner, try point(plan, "lr=0.01"), lines: lines(final: 1.9, last: 200), checkpoint: 200,
            configOverrides: ["optim.lr=1e-2", "train.keep_checkpoints=7", "train.threads=1"])
        try writePoint(runner, try point(plan, "lr=0.03"), lines: [], configOverrides: old + ["optim.lr=3e-2"])

        let statuses = plan.points.map(runner.status(of:))
        XCTAssertEqual(statuses[0], .configChanged(differences: ["train.max_steps: 60 → 200"]))
        XCTAssertEqual(
            statuses[1], .configChanged(differences: ["train.max_steps: 60 → 200"]),
            "read from config.toml when point.toml is missing")
        XCTAssertEqual(statuses[2], .finished)
        XCTAssertEqual(statuses[3], .notStarted)
        XCTAssertThrowsError(try runner.action(for: plan.points[0]))
        XCTAssertThrowsError(try runner.run { _ in }) { error in
            assertContains(
                "\(error)",
                [
                    "2 points of", "lr=0.001 (train.max_steps: 60 → 200)", "lr=0.003",
                    "remove those point folders to train them again",
                ])
        }
        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(
            summary.points.map(\.finalLoss), [nil, nil, 1.9, nil], "no 60-step result under a 200-step sweep")
        XCTAssertEqual(summary.failures.count, 2)
        assertContains(
            SweepSummaryText(summary).text,
            ["lr=0.001: trained with another config than the sweep file now gives (train.max_steps: 60 → 200)"])
    }

    // MARK: - The plan (item 4)

    func testPlanExpandsTheGridAndGroupsVariants() throws {
        let plan = try plan(
            set: "\"train.max_steps\" = 10",
            grid: "\"train.seed\" = [0, 1]\n\"model.qk_norm\" = [\"off\", \"head\"]\n\"optim.lr\" = [1e-3, 1e-2]")
        XCTAssertEqual(plan.points.count, 8)
        XCTAssertEqual(plan.points[0].name, "lr=0.001,qk_norm=off,seed=0")
        XCTAssertEqual(plan.points[0].overrides, ["optim.lr=0.001", "model.qk_norm=off", "train.seed=0"])
        XCTAssertEqual(plan.points[0].learningRate, 0.001)
        XCTAssertEqual(plan.points[0].maxSteps, 10)
        XCTAssertEqual(Set(plan.points.map(\.variant)), ["qk_norm=off", "qk_norm=head"])
        XCTAssertEqual(plan.fixedOverrides, ["train.max_steps=10"])
        // model.seed is a seed too: its values are repeats, not variants.
        let seeded = try self.plan(
            grid: "\"optim.lr\" = [1e-3]\n\"model.seed\" = [1, 2]\n\"model.qk_norm\" = [\"off\"]")
        XCTAssertEqual(seeded.points.map(\.name), ["lr=0.001,qk_norm=off,seed=1", "lr=0.001,qk_norm=off,seed=2"])
        XCTAssertEqual(Set(seeded.points.map(\.variant)), ["qk_norm=off"])
    }

    /// Two grid values that name one point, or points that differ only in a key that cannot
    /// change the numbers, are refused when the plan is read.
    func testDuplicatePointsAreRefused() throws {
        let refusals: [(set: String, grid: String, message: String)] = [
            ("", "\"optim.lr\" = [1e-3, 0.001]", "gives the point lr=0.001 twice"),
            ("", "\"optim.lr\" = [1e-3, 3e-3]\n\"train.seed\" = [1, 1]", "gives the point lr=0.001,seed=1 twice"),
            (
                "", "\"optim.lr\" = [1, 1.0]",
                "the points lr=1 and lr=1.0 are the same run: their resolved configs are equal"
            ),
            (
                "", "\"optim.lr\" = [1e-3]\n\"train.keep_checkpoints\" = [1, 2]",
                "the points lr=0.001,keep_checkpoints=1 and lr=0.001,keep_checkpoints=2 are the same run: they differ only in train.keep_checkpoints"
            ),
            ("\"optim.lr\" = 1e-3", "\"optim.lr\" = [1e-3, 1e-2]", "\"optim.lr\" is in both [set] and [grid]"),
        ]
        for (set, grid, message) in refusals {
            XCTAssertThrowsError(try plan(set: set, grid: grid), grid) { assertContains("\($0)", [message]) }
        }
        // log_interval changes what is measured, so its values are points (and variants) of their own.
        XCTAssertEqual(try plan(grid: "\"optim.lr\" = [1e-3]\n\"train.log_interval\" = [1, 10]").points.count, 2)
    }

    /// The config loader (the trainer's, in `qklab sweep`) sees every point's overrides, and its
    /// refusal names the point.
    func testPlanRejectsBadKeys() throws {
        let file = scratch.appendingPathComponent("bad.toml")
        try "base = \"base.toml\"\n[grid]\n\"optim.learning_rate\" = [1e-3]\n".write(
            to: file, atomically: true, encoding: .utf8)
        var seen: [[String]] = []
        let refuseUnknown: (URL, [String]) throws -> String = { base, overrides in
            XCTAssertEqual(base.path, self.scratch.appendingPathComponent("base.toml").path)
            seen.append(overrides)
            if let bad = overrides.first(where: { $0.hasPrefix("optim.learning_rate=") }) {
                throw ConfigError("unknown key '\(bad.prefix { $0 != "=" })'")
            }
            return ""
        }
        XCTAssertThrowsError(try SweepPlan(file: file, resolveConfig: refuseUnknown)) {
            XCTAssertEqual("\($0)", "\(file.path): point learning_rate=0.001: unknown key 'optim.learning_rate'")
        }
        XCTAssertEqual(seen, [["optim.learning_rate=0.001"]])
    }

    // MARK: - The runner

    /// A stand-in `qklab` that trains `lr=0.001` to the end and fails to start anything else,
    /// as a block_size too long for the corpus does.
    func fakeTrainer() throws -> String {
        let script = scratch.appendingPathComponent("fake-qklab")
        try """
        #!/bin/sh
        dir=""; ok=0
        while [ $# -gt 0 ]; do
          case "$1" in
            --run-dir) dir="$2"; shift;;
            optim.lr=0.001) ok=1;;
          esac
          shift
        done
        if [ $ok = 1 ]; then
          mkdir -p "$dir/checkpoints/step-000060"
          for f in model.safetensors optimizer.safetensors state.json; do : > "$dir/checkpoints/step-000060/$f"; done
          printf '{"step": 1, "loss": 4.0}\\n{"step": 60, "loss": 2.5}\\n{"step": 60, "val_loss": 2.0}\\n' > "$dir/metrics.jsonl"
          sed 's/^threads = .*/threads = 1/' "$dir/point.toml" > "$dir/config.toml"
          echo "done: 60 steps"
          exit 0
        fi
        echo "qklab: block_size 2000 is longer than the validation split" >&2
        exit 1
        """.write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return script.path
    }

    /// A point that another sweep sharing `out` finished while this one was training is kept:
    /// neither removed nor trained again (it was once started over, its folder deleted).
    func testPointFinishedElsewhereMeanwhileIsKept() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let other = try point(plan, "lr=0.01")
        let prepared = scratch.appendingPathComponent("prepared")
        try writePoint(runner(plan), other, lines: lines(final: 1.5), checkpoint: 60)
        try FileManager.default.moveItem(at: runner(plan).folder(of: other).url, to: prepared)
        // The trainer of lr=0.001 runs while "another sweep" finishes lr=0.01.
        let wrapper = scratch.appendingPathComponent("meanwhile")
        try """
        #!/bin/sh
        [ -d "\(prepared.path)" ] && mv "\(prepared.path)" "\(runner(plan).folder(of: other).url.path)"
        exec "\(try fakeTrainer())" "$@"
        """.write(to: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper.path)
        let runner = runner(plan, executable: wrapper.path)
        var reports: [String] = []
        try runner.run { reports.append($0) }
        assertContains(reports.joined(separator: "\n"), ["lr=0.01: finished by another process meanwhile; kept"])
        XCTAssertFalse(reports.contains("started lr=0.01"), reports.joined(separator: "\n"))
        XCTAssertEqual(runner.status(of: other), .finished)
        XCTAssertEqual(SweepSummary(runner: runner).points.map(\.finalLoss), [2.0, 1.5])
    }

    /// The runner records each point's resolved config, and a trainer that fails to start as a
    /// failure with its last line; a rerun keeps the finished point and retries the failed one.
    func testRunnerRecordsConfigsAndFailures() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan, executable: try fakeTrainer())
        var reports: [String] = []
        try runner.run { reports.append($0) }
        let (good, bad) = (try point(plan, "lr=0.001"), try point(plan, "lr=0.01"))
        XCTAssertEqual(runner.status(of: good), .finished)
        guard case .failedToStart(let reason) = runner.status(of: bad) else {
            return XCTFail("\(runner.status(of: bad))")
        }
        assertContains(
            reason, ["exit status 1: qklab: block_size 2000 is longer than the validation split", "train.log"])
        assertContains(
            reports.joined(separator: "\n"), ["finished lr=0.001", "lr=0.01: failed to start: exit status 1"])
        let recorded = try String(contentsOf: runner.record(of: bad).pointConfig, encoding: .utf8)
        assertContains(recorded, ["# overrides: optim.lr=0.01", "lr = 0.01", "max_steps = 60"])
        let summary = SweepSummary(runner: runner)
        assertContains(summary.failureMessage ?? "", ["1 of 2 sweep points failed: lr=0.01 (failed to start)"])
        XCTAssertEqual(try plan.points.map { try runner.action(for: $0) }, [.skip, .start])
        reports = []
        try runner.run { reports.append($0) }
        XCTAssertEqual(reports.first, "2 points, 1 already finished, 1 at a time")
    }

    /// A trainer an earlier, killed sweep left running (a point whose lock a live process holds)
    /// counts against `jobs`: with one job, no point starts until it has ended (issue 35, item 7).
    func testOrphanedTrainersCountAgainstJobs() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan, executable: try fakeTrainer())
        let orphan = Process()
        orphan.executableURL = URL(fileURLWithPath: "/bin/sleep")
        orphan.arguments = ["1.5"]
        try orphan.run()
        let held = runner.folder(of: try point(plan, "lr=0.01"))
        try FileManager.default.createDirectory(at: held.url, withIntermediateDirectories: true)
        try RunFolder.lockText(pid: orphan.processIdentifier).write(to: held.lock, atomically: true, encoding: .utf8)
        var reports: [String] = []
        try runner.run { reports.append($0) }
        XCTAssertFalse(orphan.isRunning, "lr=0.001 started only after the orphan ended")
        assertContains(
            reports.joined(separator: "\n"),
            ["lr=0.01: being trained by process \(orphan.processIdentifier); left to it, and counted against --jobs"])
        XCTAssertEqual(runner.status(of: try point(plan, "lr=0.001")), .finished)
    }
}
