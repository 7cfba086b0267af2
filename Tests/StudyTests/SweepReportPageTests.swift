import Foundation
import Study
import XCTest

/// `qklab sweep FILE --report PAGE.md`: the page is written from the sweep folder, its charts
/// copied beside it, a regeneration keeps the hand-written interpretation, and a page QKLab did
/// not write is never overwritten.
extension SweepTests {
    func testReportPageIsGeneratedAndKeepsItsInterpretation() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan)
        try writePoint(runner, try point(plan, "lr=0.001"), lines: lines(final: 2.0), checkpoint: 60)
        try writePoint(runner, try point(plan, "lr=0.01"), lines: lines(final: 1.5), checkpoint: 60)
        let summary = SweepSummary(runner: runner)
        let charts = try SweepOutput(plan.output).write(summary)
        let pageURL = scratch.appendingPathComponent("docs/results/demo.md")
        try FileManager.default.createDirectory(
            at: pageURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let page = SweepReportPage(
            page: pageURL, command: "qklab sweep sweep.toml --report docs/results/demo.md",
            sweepFile: scratch.appendingPathComponent("sweep.toml"))
        try page.write(summary, charts: charts)
        var text = try String(contentsOf: pageURL, encoding: .utf8)
        // (2.0 − 1.5 + 0) / 2 = 0.25, as summary.txt says.
        assertContains(
            text,
            [
                SweepReportPage.mark, "qklab sweep sweep.toml --report docs/results/demo.md",
                "\"optim.lr\" = [1e-3, 1e-2]",
                "](demo/lr_sweep.svg)", "0.2500", "§2.2", "_Not written yet._", SweepReportPage.interpretationStart,
            ])
        XCTAssertEqual(
            try Data(contentsOf: pageURL.deletingPathExtension().appendingPathComponent("lr_sweep.svg")),
            try Data(contentsOf: charts[0]), "the chart is copied beside the page")

        // A hand-written interpretation survives a regeneration; the tables are rewritten.
        text = text.replacingOccurrences(of: "_Not written yet._", with: "QK-Norm wins here, by hand.")
            .replacingOccurrences(of: "0.2500", with: "9.9999")
        try text.write(to: pageURL, atomically: true, encoding: .utf8)
        try page.write(summary, charts: charts)
        text = try String(contentsOf: pageURL, encoding: .utf8)
        assertContains(text, ["QK-Norm wins here, by hand.", "0.2500"])
        XCTAssertFalse(text.contains("9.9999"), "numbers come from the sweep, not from the old page")

        // A page QKLab did not write is refused in one line and left as it was.
        let mine = "# My own notes\n"
        try mine.write(to: pageURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try page.write(summary, charts: charts)) {
            assertContains("\($0)", ["demo.md was not written by qklab sweep --report", "never overwrites"])
        }
        XCTAssertEqual(try String(contentsOf: pageURL, encoding: .utf8), mine)
    }

    /// `--summary-only` never replaces a summary with one that judges no point, and names point
    /// folders that are not in the grid.
    func testSummaryThatJudgesNoPointLeavesThePreviousOneInPlace() throws {
        let plan = try plan(set: "\"train.max_steps\" = 200", grid: "\"optim.lr\" = [1e-3, 1e-2]")
        let runner = runner(plan)
        let output = SweepOutput(plan.output)
        for rate in ["1e-3", "1e-2"] {  // trained for 60 steps: every point "config changed" now
            try writePoint(
                runner, try point(plan, rate == "1e-3" ? "lr=0.001" : "lr=0.01"), lines: lines(final: 2.0),
                checkpoint: 60, configOverrides: ["train.max_steps=60", "optim.lr=\(rate)"])
        }
        try FileManager.default.createDirectory(
            at: output.points.appendingPathComponent("lr=0.3"), withIntermediateDirectories: true)
        let summary = SweepSummary(runner: runner)
        XCTAssertFalse(summary.judgesAnyPoint)
        XCTAssertNil(output.reasonToKeepPrevious(instead: summary), "no summary there yet: nothing to keep")
        try output.write(summary)
        let reason = try XCTUnwrap(output.reasonToKeepPrevious(instead: summary))
        assertContains(reason, ["left as they were", "no point of this grid has a result", "2 config changed"])
        XCTAssertEqual(summary.foldersOutsideGrid, ["lr=0.3"])
        let text = SweepSummaryText(summary).text
        assertContains(text, ["points/ also holds 1 folder outside this grid (lr=0.3)"])
        XCTAssertFalse(text.contains("bigram loss"), "no point was judged, so nothing is said of a bigram loss")
    }
}
