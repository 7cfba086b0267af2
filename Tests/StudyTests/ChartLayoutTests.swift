import Foundation
@testable import Study
import TestSupport
import XCTest

/// Chart legibility (issue 35 item 6): labels never overlap, coincident lines stay visible, and
/// each axis uses one notation.
final class ChartLayoutTests: ScratchTestCase {
    /// Label boxes [y − h, y] never overlap, whatever the wanted positions, and stay in bounds
    /// when there is room.
    func testPlacedLabelBoxesDoNotOverlap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let wanted = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                Double.random(in: 0...200, using: &generator)
            }
            let placed = ChartLabels.place(wanted, height: 14, within: 20...200)
            let sorted = placed.sorted()
            for (upper, lower) in zip(sorted, sorted.dropFirst()) {
                XCTAssertGreaterThanOrEqual(lower - upper, 14 - 1e-9, "\(wanted) → \(placed)")
            }
            XCTAssertTrue(placed.allSatisfy { $0 >= 20 - 1e-9 && $0 <= 200 + 1e-9 }, "\(wanted) → \(placed)")
        }
        XCTAssertEqual(ChartLabels.place([100, 50], height: 14, within: 0...300), [100, 50], "far apart: unmoved")
    }

    /// Two runs on two corpora with close bigram losses: both labels are drawn, apart, each
    /// naming its corpus.
    func testBigramLabelsOfTwoCorporaAreApartAndNamed() throws {
        var runs: [RunHistory] = []
        for (name, corpus, bigram) in [("a", "kjv.txt", 2.407), ("b", "tinyshakespeare.txt", 2.410)] {
            let folder = scratch.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "[data]\npath = \"data/\(corpus)\"\n[train]\nmax_steps = 20\n".write(
                to: folder.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
            try [
                "{\"step\": 0, \"bigram_loss\": \(bigram), \"non_embedding_parameters\": 10}",
                "{\"step\": 1, \"loss\": 4.0, \"grad_norm\": 1.0, \"attn_logit_max\": [1.0]}",
                "{\"step\": 20, \"loss\": 2.0, \"grad_norm\": 1.0, \"attn_logit_max\": [2.0]}",
            ].map { $0 + "\n" }.joined().write(
                to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
            runs.append(try RunHistory(folder: folder))
        }
        let svg = ComparisonChart(runs: runs, panels: [.trainLoss]).svg
        let labels = svg.components(separatedBy: "<text class=\"bigram-label\"").dropFirst().map { element in
            (
                y: Double(element.components(separatedBy: "y=\"")[1].components(separatedBy: "\"")[0])!,
                text: element.components(separatedBy: ">")[1].components(separatedBy: "<")[0]
            )
        }
        XCTAssertEqual(labels.count, 2)
        XCTAssertGreaterThanOrEqual(abs(labels[0].y - labels[1].y), ChartLabels.lineHeight - 1e-9)
        XCTAssertEqual(
            Set(labels.map(\.text)), ["bigram 2.407 (kjv.txt)", "bigram 2.410 (tinyshakespeare.txt)"])
    }

    /// Series styles differ in dash pattern and marker shape, so two variants with equal values
    /// both show: the upper one's gaps reveal the lower, and their markers differ.
    func testCoincidentSeriesStayVisible() {
        let styles = (0..<4).map { SeriesStyle(index: $0) }
        XCTAssertEqual(Set(styles.map(\.dash)).count, 4)
        XCTAssertEqual(Set(styles.compactMap(\.shape)).count, 4)
        XCTAssertTrue(styles.dropFirst().allSatisfy { !$0.dash.isEmpty }, "every later series has gaps")
        XCTAssertNotEqual(
            styles[0].marker(x: 1, y: 1, open: false).prefix(6), styles[1].marker(x: 1, y: 1, open: false).prefix(6))
    }

    /// One notation per axis: a log axis over 1e4 … 1e6 reads 1e4, 1e5, 1e6 (not 10000, 100000,
    /// 1e6); one within plain range stays plain.
    func testOneNotationPerAxis() {
        XCTAssertEqual(ChartAxis.labels([10_000, 100_000, 1_000_000]), ["1e4", "1e5", "1e6"])
        XCTAssertEqual(ChartAxis.labels([0.001, 0.01, 0.1]), ["0.001", "0.01", "0.1"])
        XCTAssertEqual(ChartAxis.labels([1e-5, 1e-4, 0.001]), ["1e-5", "1e-4", "1e-3"])
        XCTAssertEqual(ChartAxis.labels([0, 0.5, 1]), ["0", "0.5", "1"])
        for axis in [ChartAxis.logarithmic(3e3, 2e6), .logarithmic(1e-6, 1), .logarithmic(100, 1e9)] {
            let labels = axis.tickLabels
            let scientific = labels.filter { $0.contains("e") }.count
            XCTAssertTrue(scientific == 0 || scientific == labels.count, "\(labels)")
        }
    }

    /// A legend label too long for the legend column keeps what tells variants apart: the values
    /// without their keys, and only then a cut.
    func testLongLegendLabelsKeepTheirValues() {
        XCTAssertEqual(ChartFrame.shortened("qk_norm=off", toFit: 170), "qk_norm=off")
        XCTAssertEqual(
            ChartFrame.shortened("optimizer=muon,size=d64l2,stabilizer=qkclip30", toFit: 170),
            "muon, d64l2, qkclip30")
        let cut = ChartFrame.shortened("optimizer=muon,size=d64l2,stabilizer=qkclip30", toFit: 65)
        XCTAssertEqual(cut, "muon, d64…")
    }
}
