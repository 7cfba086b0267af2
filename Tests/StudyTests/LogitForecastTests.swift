import Foundation
import Study
import XCTest

/// The forecast of the max attention logit from smaller models (Wortsman et al. 2023, Fig. 9) on
/// synthetic metrics whose logits follow a known quadratic in log10(non-embedding parameters).
extension SweepTests {
    static let threeSizes = """
        "optim.lr" = [1e-2]
        [grid.size]
        a = {"model.d_model" = 16}
        b = {"model.d_model" = 32}
        c = {"model.d_model" = 64}
        """

    /// Writes each size's run with `parameters` and, at step 20, layer logits [logit, logit / 2];
    /// `line` is the point's `qk_norm` value where the grid has that axis.
    func writeForecastPoints(_ plan: SweepPlan, line: String? = nil, sizes: [(String, Int, Double)]) throws {
        let runner = runner(plan)
        for (size, parameters, logit) in sizes {
            try writePoint(
                runner, try point(plan, "lr=0.01,\(line.map { "qk_norm=\($0)," } ?? "")size=\(size)"),
                lines: [
                    facts(parameters),
                    "{\"step\": 20, \"loss\": 3.0, \"grad_norm\": 1.0, \"attn_logit_max\": [\(logit), \(logit / 2)]}",
                ], checkpoint: 60)
        }
    }

    /// log10(logit) = 0.5 + 0.2x + 0.1x², x = log10(N): N = 1e3, 1e4, 1e5 give 10^2.0, 10^2.9,
    /// 10^4.0. At N = 1e6 the quadratic gives 10^(0.5 + 1.2 + 3.6) = 10^5.3 (above 1e4: flagged);
    /// the line through the three points has slope 1.0 and passes (4, 2.9667): 10^4.9667 at x = 6.
    /// Layer 0 holds the larger logit, so the max over layers is the same fit.
    func testForecastFitsTheKnownQuadratic() throws {
        let plan = try plan(grid: Self.threeSizes)
        try writeForecastPoints(
            plan, sizes: [("a", 1000, pow(10, 2.0)), ("b", 10_000, pow(10, 2.9)), ("c", 100_000, pow(10, 4.0))])
        let forecast = try LogitForecast(runner: runner(plan), step: 20, targetParameters: { _ in 1_000_000 })
        XCTAssertEqual(forecast.rows.count, 1)
        let row = forecast.rows[0]
        XCTAssertEqual(row.sizes, [1000, 10_000, 100_000])
        XCTAssertEqual(log10(row.layer0!.quadratic!), 5.3, accuracy: 1e-9)
        let meanY: Double = (2.0 + 2.9 + 4.0) / 3
        XCTAssertEqual(log10(row.layer0!.linear!), meanY + 2.0, accuracy: 1e-9)  // slope 1.0, x̄ = 4, x = 6
        XCTAssertEqual(row.allLayers, row.layer0)
        assertContains(
            forecast.text, ["1000000 non-embedding parameters", "1.995e+05 !", "quadratic forecast above it"])
        // A threshold above the forecast flags nothing.
        let relaxed = try LogitForecast(
            runner: runner(plan), step: 20, targetParameters: { _ in 1_000_000 }, threshold: 1e6)
        assertContains(relaxed.text, ["no quadratic forecast is above it"])
    }

    /// Each line is forecast at its own parameter count: the target is asked of one point of the
    /// line, whose overrides without the shape keys say what the line is.
    func testEachLineIsForecastAtItsOwnSize() throws {
        let plan = try plan(grid: "\"model.qk_norm\" = [\"off\", \"head\"]\n" + Self.threeSizes)
        for line in ["off", "head"] {
            try writeForecastPoints(
                plan, line: line, sizes: [("a", 1000, 100), ("b", 10_000, 800), ("c", 100_000, 5000)])
        }
        var asked: [[String]] = []
        let forecast = try LogitForecast(runner: runner(plan), step: 20) { point in
            asked.append(point.overridesWithoutShape)
            return point.overridesWithoutShape.contains("model.qk_norm=head") ? 1_000_100 : 1_000_000
        }
        XCTAssertEqual(asked, [["optim.lr=0.01", "model.qk_norm=off"], ["optim.lr=0.01", "model.qk_norm=head"]])
        XCTAssertEqual(forecast.rows.map(\.line), ["qk_norm=off", "qk_norm=head"])
        XCTAssertEqual(forecast.rows.map(\.targetParameters), [1_000_000, 1_000_100])
        XCTAssertNotEqual(forecast.rows[0].layer0, forecast.rows[1].layer0, "fitted to different sizes")
        assertContains(forecast.text, ["qk_norm=off: 1000000, qk_norm=head: 1000100"])
    }

    /// One line of error each: a step no point logged, fewer than three sizes, no size axis.
    func testForecastRefusesWhatItCannotFit() throws {
        let plan = try plan(grid: Self.threeSizes)
        try writeForecastPoints(plan, sizes: [("a", 1000, 100), ("b", 10_000, 800)])
        XCTAssertThrowsError(try LogitForecast(runner: runner(plan), step: 30, targetParameters: { _ in 1_000_000 })) {
            assertContains("\($0)", ["no point logged step 30"])
        }
        XCTAssertThrowsError(try LogitForecast(runner: runner(plan), step: 20, targetParameters: { _ in 1_000_000 })) {
            assertContains("\($0)", ["fewer than three model sizes logged step 20"])
        }
        let flat = try self.plan(grid: "\"optim.lr\" = [1e-3, 1e-2]")
        XCTAssertThrowsError(try LogitForecast(runner: runner(flat), step: 20, targetParameters: { _ in 1_000_000 })) {
            assertContains("\($0)", ["the grid has no size axis"])
        }
    }

    /// The normal equations recover a polynomial exactly from exact points.
    func testLeastSquaresRecoversAPolynomial() throws {
        let points = [0.0, 1, 2, 3, 4].map { x in (x, 1.5 - 2 * x + 0.25 * x * x) }
        let coefficients = try XCTUnwrap(LogitForecast.leastSquares(points, degree: 2))
        for (found, expected) in zip(coefficients, [1.5, -2, 0.25]) { XCTAssertEqual(found, expected, accuracy: 1e-9) }
    }
}
