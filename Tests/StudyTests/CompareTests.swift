import Foundation
#if canImport(FoundationXML)
    import FoundationXML
#endif
@testable import Study
import TestSupport
import XCTest

final class CompareTests: ScratchTestCase {
    /// A synthetic run folder: `config` (TOML; missing keys take their defaults) and the lines of
    /// metrics.jsonl, each followed by a newline, then `torn` without one.
    @discardableResult
    func makeRun(_ name: String, config: String, lines: [String], torn: String = "") throws -> URL {
        let folder = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try config.write(to: folder.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
        try (lines.map { $0 + "\n" }.joined() + torn).write(
            to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        return folder
    }

    /// A training line of metrics.jsonl; `loss`, `grad` and the logits are JSON text ("null" allowed).
    func trainLine(_ step: Int, loss: String, grad: String = "1.0", logits: String = "[1.0, 2.0]", skipped: Int? = nil)
        -> String
    {
        "{\"step\": \(step), \"loss\": \(loss), \"lr\": 0.001, \"grad_norm\": \(grad), \"grad_norm_layers\": [0.5, 0.5], "
            + "\"attn_logit_max\": \(logits), \"tokens_per_s\": \(1000 * step), \"elapsed_s\": \(step)"
            + (skipped.map { ", \"skipped_steps\": \($0)" } ?? "") + "}"
    }

    func evalLine(_ step: Int, _ valLoss: String) -> String { "{\"step\": \(step), \"val_loss\": \(valLoss)}" }

    // MARK: - Statistics

    func testMeanStandardDeviationMedian() {
        XCTAssertEqual(Statistics.mean([1, 2, 3, 6]), 3)
        XCTAssertEqual(
            Statistics.standardDeviation([2, 4, 4, 4, 5, 5, 7, 9])!, (32.0 / 7).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Statistics.median([5, 1, 3]), 3)
        XCTAssertEqual(Statistics.median([4, 1, 3, 2]), 2.5)
        XCTAssertNil(Statistics.mean([]))
        XCTAssertNil(Statistics.standardDeviation([1]))
        XCTAssertNil(Statistics.median([]))
    }

    /// Reference values from scipy 1.x: `scipy.special.betainc` and `scipy.stats.t.cdf`; the
    /// Cauchy distribution (ν = 1) has CDF(1) = 3/4 exactly, and I_x(1, 1) = x.
    func testIncompleteBetaAndStudentT() {
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.3, a: 2.5, b: 0.5), 0.018927124071945658, accuracy: 1e-13)
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.9, a: 10, b: 3), 0.889130022255, accuracy: 1e-11)
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.37, a: 1, b: 1), 0.37, accuracy: 1e-14)
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.5, a: 4, b: 4), 0.5, accuracy: 1e-14)
        XCTAssertEqual(Statistics.studentTCDF(1, degreesOfFreedom: 1), 0.75, accuracy: 1e-14)
        XCTAssertEqual(Statistics.studentTCDF(2.0, degreesOfFreedom: 5), 0.9490302605850708, accuracy: 1e-12)
        XCTAssertEqual(Statistics.studentTCDF(-1.3, degreesOfFreedom: 2.5), 0.15024339463535416, accuracy: 1e-12)
        XCTAssertEqual(Statistics.studentTCDF(0.7, degreesOfFreedom: 40), 0.7560106106196991, accuracy: 1e-12)
        XCTAssertEqual(Statistics.studentTCDF(0, degreesOfFreedom: 3), 0.5, accuracy: 1e-14)
    }

    /// Against `scipy.stats.ttest_ind(a, b, equal_var=False)` (statistic, pvalue, df).
    func testWelchMatchesScipy() throws {
        let cases: [(a: [Double], b: [Double], t: Double, p: Double, df: Double)] = [
            (
                [2.1727, 2.4429, 2.3062, 2.2324], [2.0188, 2.0100, 2.0565, 2.2426], 2.5901194498848974,
                0.04137175975806694, 5.973451812214848
            ),
            (
                [1.91, 1.87, 1.95], [1.80, 1.84, 1.79, 1.83, 1.86], 3.2520434288764473, 0.04173352673151121,
                3.279881311563858
            ),
            (
                [3.0, 3.5], [1.0, 1.1, 0.9, 1.05, 1.2, 0.95, 1.0], 8.787040508276528, 0.06592937107895112,
                1.0455912619346446
            ),
        ]
        for (a, b, t, p, df) in cases {
            let test = try XCTUnwrap(WelchTTest(a, b))
            XCTAssertEqual(test.t, t, accuracy: 1e-10)
            XCTAssertEqual(test.pValue, p, accuracy: 1e-10)
            XCTAssertEqual(test.degreesOfFreedom, df, accuracy: 1e-10)
            XCTAssertEqual(WelchTTest(b, a)!.t, -t, accuracy: 1e-10, "the sign follows the order")
        }
        XCTAssertNil(WelchTTest([1.0], [2.0, 3.0]), "one value has no spread")
        XCTAssertNil(WelchTTest([1.0, 1.0], [2.0, 2.0]), "zero spread in both: t undefined")
    }

    // MARK: - Table

    /// Run "short" stopped early on a non-finite step (a null loss, a null attention logit) and
    /// has a torn last line; "long" ran to the end. Neither must trip the table.
    func testTableOnRunsOfDifferentLengthsAndNulls() throws {
        let long = try makeRun(
            "long", config: "[optim]\nlr = 0.001\n[train]\nmax_steps = 4\n",
            lines: [
                trainLine(1, loss: "4.0", logits: "[1.0, 3.0]"), trainLine(2, loss: "3.0"), evalLine(2, "3.1"),
                trainLine(3, loss: "2.5", grad: "7.5", logits: "[9.5, 2.0]"), trainLine(4, loss: "2.4"),
                evalLine(4, "2.6"),
            ])
        let short = try makeRun(
            "short", config: "[optim]\nlr = 0.01\n[train]\nmax_steps = 4\n",
            lines: [
                trainLine(1, loss: "4.0"), trainLine(2, loss: "3.5"), evalLine(2, "null"),
                trainLine(3, loss: "null", grad: "null", logits: "[null, 2.0]", skipped: 1),
            ], torn: "{\"step\": 4, \"loss\": 2.")
        let runs = try RunHistory.load([long.path, short.path])
        XCTAssertEqual(runs.map(\.name), ["long", "short"])
        XCTAssertEqual(runs[1].training.count, 3, "the torn line is skipped")

        let table = ComparisonTable(runs: runs, target: 3.0)
        XCTAssertEqual(table.differingKeys, ["optim.lr"])
        let (a, b) = (table.summaries[0], table.summaries[1])
        XCTAssertEqual(a.lastStep, 4)
        XCTAssertEqual(a.finalValLoss, 2.6)
        XCTAssertEqual(a.bestValLoss, 2.6)
        XCTAssertEqual(a.targetStep, 4)
        XCTAssertEqual(a.maxGradNorm, 7.5)
        XCTAssertEqual(a.maxAttnLogit?.value, 9.5)
        XCTAssertEqual(a.maxAttnLogit?.layer, 0)
        XCTAssertEqual(a.nonFiniteSteps, 0)
        XCTAssertEqual(a.medianTokensPerSecond, 2500)
        XCTAssertEqual(b.lastStep, 3)
        XCTAssertEqual(b.finalEvaluation?.step, 2)
        XCTAssertNil(b.finalValLoss, "the last evaluation was null")
        XCTAssertNil(b.bestValLoss)
        XCTAssertNil(b.targetStep)
        XCTAssertEqual(b.lossSpikes.judged, 0, "three values: too few to judge")
        XCTAssertEqual(b.nonFiniteSteps, 1)
        XCTAssertEqual(b.maxAttnLogit?.value, 2.0)

        let text = table.text
        for expected in [
            "optim.lr", "4/4", "3/4", "non-finite", "not reached", "9.5 (layer 0)", "1 (stopped)", "different steps",
        ] {
            XCTAssertTrue(text.contains(expected), "missing '\(expected)' in\n\(text)")
        }
        XCTAssertFalse(text.contains("beta1"), "keys that agree are not shown")
        XCTAssertNil(table.seedGroups, "the runs differ in more than a seed")
    }

    func testFolderWithoutConfigIsAnError() throws {
        let empty = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunHistory(folder: empty)) {
            XCTAssertTrue("\($0)".contains("not a run folder"), "\($0)")
        }
    }

    /// Two variants × two seeds, a repeat of one seed (not an independent sample), and a variant
    /// with a single seed (shown, but left out of the t-tests).
    func testSeedsAreGroupedIntoVariants() throws {
        let finals = [
            ("off-1", "off", 1, "2.30"), ("off-2", "off", 2, "2.20"), ("head-1", "head", 1, "2.00"),
            ("head-2", "head", 2, "2.05"), ("off-1-again", "off", 1, "2.31"), ("full-1", "full", 1, "2.10"),
        ]
        let paths = try finals.map { name, qkNorm, seed, valLoss in
            try makeRun(
                name, config: "[model]\nqk_norm = \"\(qkNorm)\"\n[train]\nseed = \(seed)\n",
                lines: [trainLine(1, loss: "4.0"), evalLine(1, valLoss)]
            ).path
        }
        let table = ComparisonTable(runs: try RunHistory.load(paths))
        let groups = try XCTUnwrap(table.seedGroups)
        XCTAssertEqual(groups.variants.map(\.label), ["qk_norm=off", "qk_norm=head", "qk_norm=full"])
        XCTAssertEqual(groups.variants.map(\.runs), [[0, 1], [2, 3], [5]])
        XCTAssertEqual(groups.repeats.map(\.run), [4])
        XCTAssertEqual(groups.repeats.map(\.original), [0])

        let tests = table.finalValLossTests()
        XCTAssertEqual(tests.count, 1)
        XCTAssertEqual([tests[0].a, tests[0].b], [0, 1])
        XCTAssertEqual(tests[0].test, WelchTTest([2.30, 2.20], [2.00, 2.05]))
        let text = table.text
        for expected in [
            "qk_norm=off", "2.2500 ± 0.0707", "2.0250 ± 0.0354", "2.1000 (n=1)", "Welch", "p = ",
            "repeats the seeds of off-1",
        ] {
            XCTAssertTrue(text.contains(expected), "missing '\(expected)' in\n\(text)")
        }
    }

    /// Keys that cannot change the numbers define no variant: the seed-2 run of qk_norm=off also
    /// differs in keep_checkpoints, threads and log_interval, and is still that variant's second
    /// seed, so the Welch test between the two variants remains. A key this version does not
    /// know splits variants (it might change the numbers).
    func testOnlyKeysThatChangeTheNumbersDefineVariants() throws {
        let runs: [(String, String, Int, String, String)] = [
            ("off-1", "off", 1, "", "2.30"),
            ("off-2", "off", 2, "keep_checkpoints = 5\nthreads = 1\nlog_interval = 5\n", "2.20"),
            ("head-1", "head", 1, "", "2.00"), ("head-2", "head", 2, "", "2.05"),
        ]
        let paths = try runs.map { name, qkNorm, seed, extra, valLoss in
            try makeRun(
                name,
                config:
                    "[model]\nqk_norm = \"\(qkNorm)\"\n[train]\nseed = \(seed)\n\(extra)[run]\nname = \"\(name)\"\n",
                lines: [trainLine(1, loss: "4.0"), evalLine(1, valLoss)]
            ).path
        }
        let table = ComparisonTable(runs: try RunHistory.load(paths))
        let groups = try XCTUnwrap(table.seedGroups)
        XCTAssertEqual(groups.variants.map(\.label), ["qk_norm=off", "qk_norm=head"])
        XCTAssertEqual(groups.variants.map(\.runs), [[0, 1], [2, 3]])
        XCTAssertEqual(groups.variants.map(\.samplingKeys), [["train.log_interval"], []])
        XCTAssertEqual(Set(groups.ignoredKeys), ["train.keep_checkpoints", "train.threads", "train.log_interval"])
        XCTAssertEqual(table.finalValLossTests().first?.test, WelchTTest([2.30, 2.20], [2.00, 2.05]))
        let text = table.text
        for expected in [
            "not variant keys: train.keep_checkpoints, train.threads cannot change a run's numbers",
            "train.log_interval changes only which steps are measured",
            "the runs of qk_norm=off differ in train.log_interval: their max attn logit, telemetry and spike scores are over different logged steps",
            "Welch",
        ] {
            XCTAssertTrue(text.contains(expected), "missing '\(expected)' in\n\(text)")
        }
        // The same runs with a key QKLab does not know on one of them: it splits off a variant.
        let unknown = try makeRun(
            "off-3", config: "[model]\nqk_norm = \"off\"\n[train]\nseed = 3\nfuture_knob = 2\n",
            lines: [trainLine(1, loss: "4.0"), evalLine(1, "2.25")])
        let split = try XCTUnwrap(SeedGroups(configs: try RunHistory.load(paths + [unknown.path]).map(\.config)))
        XCTAssertEqual(split.variants.count, 3)
        // Runs that differ only in bookkeeping keys and the seed are seeds of one variant.
        XCTAssertEqual(
            try XCTUnwrap(SeedGroups(configs: try RunHistory.load([paths[0], paths[1]]).map(\.config))).variants.map(
                \.label), ["all runs"])
    }

    func testNoGroupsWithoutSeedDifferences() throws {
        let paths = try ["a", "b"].map {
            try makeRun($0, config: "[model]\nqk_norm = \"\($0 == "a" ? "off" : "head")\"\n", lines: []).path
        }
        XCTAssertNil(ComparisonTable(runs: try RunHistory.load(paths)).seedGroups)
    }

    // MARK: - Chart

    /// Collects the `series` groups of each panel.
    final class SeriesCollector: NSObject, XMLParserDelegate {
        var panel = ""
        var series: [String: [String]] = [:]

        func parser(
            _ parser: XMLParser, didStartElement element: String, namespaceURI: String?,
            qualifiedName: String?, attributes: [String: String] = [:]
        ) {
            if let name = attributes["data-panel"] { panel = name }
            if attributes["class"] == "series" { series[panel, default: []].append(attributes["data-run"] ?? "") }
        }
    }

    func parseChart(_ svg: String) throws -> [String: [String]] {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SeriesCollector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
        return collector.series
    }

    func testChartIsWellFormedWithOneSeriesPerRunAndPanel() throws {
        try makeRun(
            "a & <b>", config: "",
            lines: [
                trainLine(1, loss: "4.0"), trainLine(2, loss: "null", grad: "null", logits: "[null, null]", skipped: 1),
                trainLine(3, loss: "3.0", grad: "0.0"), evalLine(3, "3.2"),
            ])
        try makeRun(
            "c", config: "",
            lines: (1...50).map { trainLine($0, loss: "\(4.0 - Double($0) / 25)") } + [evalLine(50, "2.5")])
        try makeRun("empty", config: "", lines: [])
        let runs = try RunHistory.load(["a & <b>", "c", "empty"].map { scratch.appendingPathComponent($0).path })

        let series = try parseChart(ComparisonChart(runs: runs).svg)
        XCTAssertEqual(
            Set(series.keys), ["train_loss", "val_loss", "grad_norm", "attn_logit"],
            "runs without telemetry: the classic panels")
        for (panel, names) in series {
            XCTAssertEqual(names, ["a & <b>", "c", "empty"], "panel \(panel)")
        }
        let one = try parseChart(ComparisonChart(runs: runs, panels: [.gradNorm]).svg)
        XCTAssertEqual(Array(one.keys), ["grad_norm"])
    }

    // MARK: - Stability telemetry

    /// A training line with the telemetry keys of docs/metrics.md (two layers).
    func telemetryLine(
        _ step: Int, entropy: String, q: String, k: String, update: String = "[0.001, 0.002]", lse: Double = 4.0
    ) -> String {
        String(trainLine(step, loss: "3.0").dropLast())
            + ", \"attn_entropy\": \(entropy), \"attn_entropy_min\": \(entropy), \"q_rms\": \(q), \"k_rms\": \(k), "
            + "\"update_ratio\": \(update), \"output_logit_max\": 9.5, \"output_lse_mean\": \(lse)}"
    }

    /// A run with telemetry beside one written before it existed: the new keys are read, the old
    /// run reads them as absent (no error, "—" in the table, no telemetry panels for it).
    func testTelemetryRowsAndOldRuns() throws {
        let new = try makeRun(
            "new", config: "[model]\nqk_norm = \"off\"\n",
            lines: [
                "{\"step\": 0, \"bigram_loss\": 2.4819}",
                telemetryLine(1, entropy: "[0.9, 0.8]", q: "[1.0, 2.0]", k: "[1.5, 1.0]", lse: 4.2),
                telemetryLine(
                    10, entropy: "[0.5, null]", q: "[3.0, 2.0]", k: "[7.0, 1.0]", update: "[0.05, 0.002]", lse: 5.0),
                telemetryLine(20, entropy: "[0.4, 0.1]", q: "[3.0, 2.0]", k: "[7.0, 1.0]", lse: 5.5),
                evalLine(20, "2.3"),
            ])
        let old = try makeRun(
            "old", config: "[model]\nqk_norm = \"head\"\n", lines: [trainLine(1, loss: "4.0"), evalLine(1, "3.0")])
        let runs = try RunHistory.load([new.path, old.path])
        XCTAssertEqual(runs[0].bigramLoss, 2.4819)
        XCTAssertNil(runs[1].bigramLoss)
        XCTAssertEqual(runs[0].training[1].telemetry.attnEntropy, [0.5, nil])
        XCTAssertEqual(runs[0].training[0].telemetry.outputLogitMax, 9.5)
        XCTAssertEqual(runs[1].training[0].telemetry, StabilityTelemetry())

        let table = ComparisonTable(runs: runs)
        let summary = table.summaries[0]
        XCTAssertEqual(summary.minAttnEntropy, LayerExtremum(value: 0.1, layer: 1, step: 20, metric: nil))
        XCTAssertEqual(
            summary.maxQKRMS, LayerExtremum(value: 7.0, layer: 0, step: 10, metric: "k"), "the first of equal maxima")
        XCTAssertEqual(summary.maxUpdateRatio, LayerExtremum(value: 0.05, layer: 0, step: 10, metric: nil))
        XCTAssertEqual(summary.finalOutputLogZ, 5.5)
        XCTAssertNil(table.summaries[1].minAttnEntropy)
        XCTAssertNil(table.summaries[1].finalOutputLogZ)
        let text = table.text
        for expected in [
            "bigram loss", "2.4819", "0.1 (layer 1, step 20)", "k 7 (layer 0, step 10)", "0.05 (layer 0, step 10)",
            "5.5",
        ] {
            XCTAssertTrue(text.contains(expected), "missing '\(expected)' in\n\(text)")
        }

        let series = try parseChart(ComparisonChart(runs: runs).svg)
        XCTAssertEqual(
            Set(series.keys), Set(ChartPanel.allCases.map(\.rawValue)),
            "the telemetry panels appear when a run has them")
        XCTAssertEqual(
            ChartPanel.attnEntropy.points(of: runs[0]).map(\.value), [0.8, nil, 0.1],
            "min over layers; a null breaks the curve")
        XCTAssertTrue(ChartPanel.attnEntropy.points(of: runs[1]).isEmpty)
        let svg = ComparisonChart(runs: runs, panels: [.trainLoss, .qkRMS]).svg
        XCTAssertTrue(svg.contains("bigram 2.482"), "the bigram loss is a reference line on the loss panel")
        XCTAssertEqual(svg.components(separatedBy: "class=\"bigram\"").count - 1, 1, "on loss panels only")
    }

    /// Log scale only where the values span a decade: q/k RMS 1–7 stays linear, 1–30 is logarithmic.
    func testLogScaleWhereValuesSpanDecades() throws {
        let narrow = try makeRun(
            "narrow", config: "",
            lines: [
                telemetryLine(1, entropy: "[0.9, 0.8]", q: "[1.0, 2.0]", k: "[1.5, 1.0]"),
                telemetryLine(2, entropy: "[0.9, 0.8]", q: "[1.0, 2.0]", k: "[1.5, 7.0]"),
            ])
        let wide = try makeRun(
            "wide", config: "",
            lines: [
                telemetryLine(1, entropy: "[0.9, 0.8]", q: "[1.0, 2.0]", k: "[1.5, 1.0]"),
                telemetryLine(2, entropy: "[0.9, 0.8]", q: "[30.0, 2.0]", k: "[1.5, 1.0]"),
            ])
        let narrowAxis = ComparisonChart(runs: try RunHistory.load([narrow.path])).valueAxis(.qkRMS)
        XCTAssertEqual(narrowAxis, ChartAxis.linear(2, 7))
        let wideAxis = ComparisonChart(runs: try RunHistory.load([wide.path])).valueAxis(.qkRMS)
        XCTAssertEqual(wideAxis, ChartAxis.logarithmic(2, 30))
        XCTAssertEqual(wideAxis.ticks, [2, 5, 10, 20, 50])
        XCTAssertFalse(
            ComparisonChart(runs: try RunHistory.load([wide.path])).valueAxis(.attnEntropy).isLog,
            "entropy is always linear")
    }
}
