import Formats
import Foundation
import Study
import XCTest

/// The scaling view (issue 17): group axes, failed and diverged points, per-seed spread and
/// non-embedding parameter counts, with every expected number computed by hand in the comments.
extension SweepTests {
    static let sizes = """
        "optim.lr" = [1e-3, 1e-2, 1e-1]
        [grid.size]
        s = {"model.d_model" = 32, "model.n_layer" = 1, "train.seed" = [0, 1]}
        l = {"model.d_model" = 64, "model.n_layer" = 2, "train.seed" = [0]}
        """

    /// The step-0 line the trainer writes: bigram loss 2.5, `parameters` non-embedding parameters.
    func facts(_ parameters: Int) -> String {
        "{\"step\": 0, \"bigram_loss\": 2.5, \"non_embedding_parameters\": \(parameters)}"
    }

    /// A group entry sets several keys at once and names the point by its entry; an inner array
    /// is an axis of that entry only (3 learning rates × (2 seeds of s + 1 seed of l) = 9 points).
    func testGroupAxisSetsSeveralKeysAndNamesPointsReadably() throws {
        let plan = try plan(grid: Self.sizes)
        XCTAssertEqual(plan.points.count, 9)
        let point = try point(plan, "lr=0.01,size=s,seed=1")
        XCTAssertEqual(point.overrides, ["optim.lr=0.01", "model.d_model=32", "model.n_layer=1", "train.seed=1"])
        XCTAssertEqual(point.config.integer("model.d_model"), 32)
        XCTAssertEqual(point.variant, "size=s")
        XCTAssertEqual([point.size, point.line, point.seed], ["size=s", "all", "seed=1"])
        XCTAssertNoThrow(try self.point(plan, "lr=0.1,size=l,seed=0"))
        XCTAssertFalse(plan.points.contains { $0.name == "lr=0.1,size=l,seed=1" }, "l has one seed")
    }

    /// A plain key axis is the line, a group axis setting a shape key the size.
    func testLineIsTheVariantWithoutItsSize() throws {
        let plan = try plan(
            grid:
                "\"optim.lr\" = [1e-3]\n\"model.qk_norm\" = [\"off\", \"head\"]\n[grid.size]\nd32 = {\"model.d_model\" = 32}\n"
        )
        let point = try point(plan, "lr=0.001,qk_norm=off,size=d32")
        XCTAssertEqual([point.variant, point.size, point.line], ["qk_norm=off,size=d32", "size=d32", "qk_norm=off"])
    }

    func testGroupAxisErrorsNameTheFileAndKey() throws {
        let cases: [(grid: String, set: String, expected: String)] = [
            ("\"optim.lr\" = [1e-3]\n[grid.size]\ns = 3\n", "", "[grid.size] entry 's' must be an inline table"),
            (
                "\"optim.lr\" = [1e-3]\n\"model.d_model\" = [16]\n[grid.size]\ns = {\"model.d_model\" = 32}\n", "",
                "sets model.d_model in both"
            ),
            (
                "\"optim.lr\" = [1e-3]\n[grid.size]\ns = {\"model.d_model\" = 32}\n", "\"model.d_model\" = 16",
                "\"model.d_model\" is in both [set] and [grid]"
            ),
            ("\"optim.lr\" = [1e-3]\n[grid.size]\ns = {\"train.seed\" = []}\n", "", "\"train.seed\" is an empty array"),
        ]
        for (grid, set, expected) in cases {
            XCTAssertThrowsError(try plan(set: set, grid: grid), expected) { error in
                assertContains("\(error)", ["sweep.toml", expected])
            }
        }
    }

    /// Bigram loss 2.5, initial loss 4.0 everywhere.
    /// Size s (1000 non-embedding parameters), seeds 0 and 1:
    ///   lr 1e-3: 2.0, 2.2 → mean 2.1;  lr 1e-2: 1.8, 1.6 → 1.7;
    ///   lr 1e-1: seed 0 finished at 3.0, above the bigram loss (counted, not capped); seed 1
    ///   diverged → the seed mean is non-finite and counts at ℓ0 = 4.0.
    ///   sensitivity = (0.4 + 0 + 2.3) / 3 = 0.9; seed 0 alone (2.0, 1.8, 3.0): (0.2 + 0 + 1.2) / 3 = 0.4667;
    ///   seed 1 (2.2, 1.6, diverged): (0.6 + 0 + 2.4) / 3 = 1.0 → seed range 0.4667–1.0.
    /// Size l (8000), one seed: 1.5, 2.6 (above the bigram loss, counted as it is), 1.9 → (0 + 1.1 + 0.4) / 3 = 0.5.
    /// The paper's formula (§2.2) has no bigram rule: ending above the bigram loss is only counted.
    func testScalingSensitivityCountsDivergedAtTheInitialLossAndAboveBigramAsItIs() throws {
        let plan = try plan(grid: Self.sizes)
        let runner = runner(plan)
        let finished: [(String, Double, Int)] = [
            ("lr=0.001,size=s,seed=0", 2.0, 1000), ("lr=0.001,size=s,seed=1", 2.2, 1000),
            ("lr=0.01,size=s,seed=0", 1.8, 1000), ("lr=0.01,size=s,seed=1", 1.6, 1000),
            ("lr=0.1,size=s,seed=0", 3.0, 1000),
            ("lr=0.001,size=l,seed=0", 1.5, 8000), ("lr=0.01,size=l,seed=0", 2.6, 8000),
            ("lr=0.1,size=l,seed=0", 1.9, 8000),
        ]
        for (name, final, parameters) in finished {
            try writePoint(
                runner, try point(plan, name), lines: [facts(parameters)] + lines(final: final), checkpoint: 60)
        }
        try writePoint(
            runner, try point(plan, "lr=0.1,size=s,seed=1"),
            lines: [facts(1000)] + lines(final: 3.0, last: 20) + [train(33, "null")],
            checkpoint: 20, nonFinite: true, failed: "exit status 1: step 33: non-finite loss; stopped")

        let summary = SweepSummary(runner: runner)
        let outcomes = Dictionary(uniqueKeysWithValues: summary.points.map { ($0.point.name, $0.bigramComparison) })
        XCTAssertEqual(outcomes["lr=0.1,size=s,seed=0"], "above")
        XCTAssertEqual(outcomes["lr=0.1,size=s,seed=1"], "diverged")
        XCTAssertEqual(outcomes["lr=0.01,size=l,seed=0"], "above")
        XCTAssertEqual(outcomes["lr=0.001,size=s,seed=0"], "below")
        XCTAssertNil(summary.failureMessage, "above the bigram loss and diverged are results, not errors")

        XCTAssertEqual(summary.variants.map(\.variant), ["size=l", "size=s"], "a TOML table's entries in name order")
        let small = summary.variants[1], large = summary.variants[0]
        XCTAssertEqual(small.curve[0].meanFinalLoss, 2.1, accuracy: 1e-12)
        XCTAssertEqual(small.curve[1].meanFinalLoss, 1.7, accuracy: 1e-12)
        XCTAssertEqual(small.curve[2].meanFinalLoss, .infinity, "one seed diverged")
        XCTAssertEqual(small.curve.map(\.runsAboveBigram), [0, 0, 1])
        XCTAssertEqual(large.curve.map(\.runsAboveBigram), [0, 1, 0])
        XCTAssertEqual(small.curve.map(\.divergedRuns), [0, 0, 1])
        XCTAssertEqual(small.sensitivity!, 0.9, accuracy: 1e-12)
        XCTAssertEqual(small.seedSensitivities.count, 2)
        XCTAssertEqual(small.seedSensitivities[0], 1.4 / 3, accuracy: 1e-12)
        XCTAssertEqual(small.seedSensitivities[1], 1.0, accuracy: 1e-12)
        XCTAssertEqual(large.sensitivity!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(small.facts, RunFacts(bigramLoss: 2.5, nonEmbeddingParameters: 1000))

        XCTAssertTrue(summary.hasSizes)
        let text = SweepSummaryText(summary).text
        let scaling = summary.scaling
        XCTAssertEqual(scaling.map(\.line), ["all"])
        XCTAssertEqual(scaling[0].points.map(\.nonEmbeddingParameters), [1000, 8000], "in increasing parameter count")
        XCTAssertEqual(scaling[0].points[0].seedRange!.lowerBound, 1.4 / 3, accuracy: 1e-12)
        XCTAssertEqual(scaling[0].points[0].seedRange!.upperBound, 1.0, accuracy: 1e-12)
        assertContains(
            text,
            [
                "vs bigram", "the final loss against the corpus's bigram loss (2.5000)",
                "not part of the LR sensitivity", "non-embedding parameters", "0.9000           0.4667–1.0000",
                "0.5000", "1 of 1 seeds",
            ])
        XCTAssertFalse(text.contains("failed"), "no point failed; above the bigram loss is not called failed")
        let chart = ScalingChart.svg(summary)
        XCTAssertEqual(chart.components(separatedBy: "class=\"error-bar\"").count - 1, 1, "one size has two seeds")
        let curves = LossCurvesChart.svg(summary)
        XCTAssertEqual(
            curves.components(separatedBy: "class=\"bigram\"").count - 1, 2, "a dashed bigram line per size panel")
        XCTAssertEqual(
            curves.components(separatedBy: "class=\"marker open\"").count - 1, 1,
            "size l's learning rate with a seed above the bigram loss")
        let smallPanel = try XCTUnwrap(curves.range(of: "learning rate, size=s<")),
            largePanel = try XCTUnwrap(curves.range(of: "learning rate, size=l<"))
        XCTAssertLessThan(
            smallPanel.lowerBound, largePanel.lowerBound, "panels in increasing parameter count, not name order")
    }

    /// Runs from before QKLab recorded the step-0 facts are not compared with a bigram loss, and
    /// the scaling view says their parameter count is unknown.
    func testRunsWithoutStepZeroFactsAreNotComparedWithABigramLoss() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]\n[grid.size]\ns = {\"model.d_model\" = 32}\n")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001,size=s"), lines: lines(final: 3.0), checkpoint: 60)
        try writePoint(runner, try point(plan, "lr=0.01,size=s"), lines: lines(final: 2.0), checkpoint: 60)
        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(summary.points.map(\.bigramComparison), [nil, nil])
        assertContains(SweepSummaryText(summary).text, ["(not recorded by these runs, so none is compared"])
        XCTAssertEqual(summary.variants[0].sensitivity!, 0.5, accuracy: 1e-12)  // (1.0 + 0) / 2
        XCTAssertNil(summary.scaling[0].points[0].nonEmbeddingParameters)
        assertContains(ScalingChart.svg(summary), ["no LR sensitivity with a parameter count yet"])
    }
}
