import Study
import XCTest

/// Chart ticks at round numbers: multiples of 1, 2, 5 × 10ᵏ (linear), 1-2-5 or whole decades (log).
final class ChartAxisTests: XCTestCase {
    /// About six ticks: the step is range/5 rounded up to 1, 2 or 5 × 10ᵏ; the bounds are the
    /// ticks enclosing the data. 1.55–2.81 (a sweep's final losses): 0.252 → 0.5, ticks 1.5–3.
    func testLinearTicks() {
        XCTAssertEqual(ChartAxis.linear(0, 1000).ticks, [0, 200, 400, 600, 800, 1000])
        XCTAssertEqual(ChartAxis.linear(0, 1037).ticks, [0, 500, 1000, 1500], "range/5 = 207 rounds up to 500")
        XCTAssertEqual(ChartAxis.linear(1.55, 2.81).ticks, [1.5, 2, 2.5, 3])
        XCTAssertEqual(ChartAxis.linear(1.55, 2.07).ticks, [1.4, 1.6, 1.8, 2, 2.2], "range/5 = 0.104 rounds up to 0.2")
        XCTAssertEqual(
            ChartAxis.linear(0.0012, 0.0031).ticks, [0.001, 0.0015, 0.002, 0.0025, 0.003, 0.0035],
            "0.00038 rounds up to 0.0005; values are the decimals, not 3 × 0.0005 = 0.0015000000000000002")
        XCTAssertEqual(ChartAxis.linear(-3, 7).ticks, [-4, -2, 0, 2, 4, 6, 8])
        let axis = ChartAxis.linear(1.55, 2.81)
        XCTAssertEqual([axis.lower, axis.upper], [1.5, 3])
        XCTAssertEqual(axis.fraction(2.25), 0.5)
        XCTAssertEqual(
            ChartAxis.linear(5, 5).ticks, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6], "an empty range is widened by 10%: 4.5–5.5"
        )
    }

    func testLogTicks() {
        XCTAssertEqual(ChartAxis.logarithmic(3, 70).ticks, [2, 5, 10, 20, 50, 100], "two decades or less: 1-2-5")
        XCTAssertEqual(ChartAxis.logarithmic(0.0012, 0.004).ticks, [0.001, 0.002, 0.005])
        XCTAssertEqual(ChartAxis.logarithmic(1, 1000).ticks, [1, 10, 100, 1000], "three decades: every decade")
        XCTAssertEqual(ChartAxis.logarithmic(0.2, 84000).ticks, [0.1, 1, 10, 100, 1000, 1e4, 1e5])
        XCTAssertEqual(
            ChartAxis.logarithmic(1e-5, 1e8).ticks, [1e-5, 0.01, 10, 1e4, 1e7, 1e10], "13 decades: every third")
        let axis = ChartAxis.logarithmic(1, 1000)
        XCTAssertTrue(axis.isLog)
        XCTAssertEqual(axis.fraction(10)!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertNil(axis.fraction(0), "a log axis cannot place 0")
    }

    func testLabels() {
        XCTAssertEqual(
            ChartAxis.linear(0.0012, 0.0031).ticks.map(ChartAxis.label),
            ["0.001", "0.0015", "0.002", "0.0025", "0.003", "0.0035"])
        XCTAssertEqual([1e-5, 1e29, 2000, 0.5].map(ChartAxis.label), ["1e-5", "1e29", "2000", "0.5"])
    }
}
