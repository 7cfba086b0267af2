@testable import Study
import XCTest

/// OLMo 2's spike score on constructed series whose answers can be worked out by hand.
final class SpikeScoreTests: XCTestCase {
    /// Steps 1, 2, … for `values`.
    func series(_ values: [Double?]) -> [(step: Int, value: Double?)] {
        values.enumerated().map { ($0.offset + 1, $0.element) }
    }

    /// 1, 3, 1, 3, … (20 values): mean 2, sample standard deviation √(20/19) = 1.02598, so
    /// 7σ = 7.1818. A 21st value 9.1 is 7.1 from the mean (no spike), 9.2 is 7.2 (a spike).
    let alternating: [Double?] = (0..<20).map { $0 % 2 == 0 ? 1.0 : 3.0 }

    func testSevenStandardDeviationsFromThePreviousMean() {
        let below = SpikeScore(series(alternating + [9.1]))
        XCTAssertEqual(below.judged, 1, "only the 21st value has 20 before it")
        XCTAssertEqual(below.spikeSteps, [])
        XCTAssertNil(below.percent, "1 judged value: no percentage")
        let above = SpikeScore(series(alternating + [9.2]))
        XCTAssertEqual(above.spikeSteps, [21])
        let downwards = SpikeScore(series(alternating + [2 - 7.2]))
        XCTAssertEqual(downwards.spikeSteps, [21], "at least 7σ either side of the mean")
    }

    /// The 21st value 9.2 is a spike; the 22nd, 2, is judged against the 21 values before it
    /// (mean 2.3429, s = 1.8624): 0.34 away, no spike; so 1 of 2 judged values, 50%.
    func testPercentageOfJudgedValues() {
        let score = SpikeScore(series(alternating + [9.2, 2]))
        XCTAssertEqual(score.judged, 2)
        XCTAssertEqual(score.spikeSteps, [21])
        XCTAssertNil(score.percent, "2 judged values: fewer than SpikeScore.minimumJudged")
        let longer = SpikeScore(series(alternating + [9.2] + Array(alternating.prefix(19))))
        XCTAssertEqual(longer.judged, 20)
        XCTAssertEqual(longer.spikeSteps, [21])
        XCTAssertEqual(longer.percent, 5)
        // The compare row: "—" below the minimum, with the spikes there were.
        XCTAssertEqual(ComparisonTable.spikeScore(score), "— (1 of 2 judged, first step 21)")
        XCTAssertEqual(ComparisonTable.spikeScore(SpikeScore(series(alternating + [2]))), "—")
        XCTAssertEqual(ComparisonTable.spikeScore(longer), "5.00% (1 of 20, first step 21)")
        XCTAssertNil(
            SpikeScore(series(Array(alternating.prefix(19)) + [100])).percent,
            "fewer than 20 values before it: not judged")
        XCTAssertNil(SpikeScore([]).percent)
    }

    /// With a window of 4 and 4 values required: history 1, 3, 1, 3 has mean 2 and
    /// s = √(4/3) = 1.1547, 7s = 8.083; 10.1 is a spike (8.1 away). The next value, 3, is judged
    /// against 3, 1, 3, 10.1 only (the first 1 left the window).
    func testWindowSlides() {
        let score = SpikeScore(series([1, 3, 1, 3, 10.1, 3]), window: 4, minimumHistory: 4)
        XCTAssertEqual(score.spikeSteps, [5])
        XCTAssertEqual(score.judged, 2)
        XCTAssertEqual(
            SpikeScore(series([1, 3, 1, 3, 10.0]), window: 4, minimumHistory: 4).spikeSteps, [], "8.0 < 8.083")
    }

    /// A non-finite value is a spike when judged and stays out of the history; a value equal to
    /// the mean of a constant history is not a spike (0 ≥ 7 · 0 would say it is).
    func testNonFiniteAndConstantHistories() {
        let score = SpikeScore(series(alternating + [nil, 9.1]))
        XCTAssertEqual(score.spikeSteps, [21])
        XCTAssertEqual(score.judged, 2, "9.1 is judged against the 20 finite values, as without the null")
        let constant = [Double?](repeating: 2, count: 20)
        XCTAssertEqual(SpikeScore(series(constant + [2])).spikeSteps, [])
        XCTAssertEqual(SpikeScore(series(constant + [2.001])).spikeSteps, [21], "any departure from a constant history")
    }
}
