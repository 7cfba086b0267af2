import Foundation
import Study
import XCTest

/// Wortsman et al. 2023's LR sensitivity (§2.2) and its window rule (App. B, Fig. 6), with every
/// expected number computed by hand in the comments.
extension SweepTests {
    /// Five learning rates over four decades, ℓ0 = 4.0, losses 3.0, 2.0, 1.5, 1.6 and a diverged
    /// one (+∞, counted at ℓ0). Windows of three decades: [1e-4, 1e-1]: best 1.5,
    /// (1.5 + 0.5 + 0 + 0.1) / 4 = 0.525; [1e-3, 1]: (0.5 + 0 + 0.1 + 2.5) / 4 = 0.775. The minimum
    /// is 0.525 over [1e-4, 0.1]; the whole grid would give (1.5 + 0.5 + 0 + 0.1 + 2.5) / 5 = 0.92.
    func testWindowRuleTakesTheSmallestThreeDecadeWindow() throws {
        let rates = [1e-4, 1e-3, 1e-2, 1e-1, 1.0], losses = [3.0, 2.0, 1.5, 1.6, .infinity]
        let windowed = try XCTUnwrap(LRSensitivity.windowed(rates: rates, finalLosses: losses, initialLoss: 4.0))
        XCTAssertEqual(windowed.value, 0.525, accuracy: 1e-12)
        XCTAssertEqual(windowed.window, 1e-4...1e-1)
        XCTAssertEqual(LRSensitivity.value(finalLosses: losses, initialLoss: 4.0)!, 0.92, accuracy: 1e-12)
        // Exactly three decades (the paper's grid 3e-4 … 3e-1): no window, the whole grid.
        let paper = try XCTUnwrap(
            LRSensitivity.windowed(
                rates: [3e-4, 3e-3, 3e-2, 3e-1], finalLosses: [2.0, 1.5, 1.6, 3.0], initialLoss: 4.0))
        XCTAssertNil(paper.window)
        XCTAssertEqual(paper.value, (0.5 + 0 + 0.1 + 1.5) / 4, accuracy: 1e-12)
        // A narrower window by choice: two decades over the same five rates: [1e-4, 1e-2] gives
        // (1.5 + 0.5 + 0) / 3 = 0.6667, [1e-3, 1e-1] (0.5 + 0 + 0.1) / 3 = 0.2, [1e-2, 1] (0 + 0.1 + 2.5) / 3.
        let two = try XCTUnwrap(
            LRSensitivity.windowed(rates: rates, finalLosses: losses, initialLoss: 4.0, decades: 2))
        XCTAssertEqual(two.value, 0.2, accuracy: 1e-12)
        XCTAssertEqual(two.window, 1e-3...1e-1)
    }

    /// Through point folders: the summary reports the winning window beside the sensitivity.
    func testSummaryNamesTheWinningWindow() throws {
        let plan = try plan(grid: "\"optim.lr\" = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]")
        let runner = runner(plan)
        for (name, final) in [
            ("lr=0.0001", 3.0), ("lr=0.001", 2.0), ("lr=0.01", 1.5), ("lr=0.1", 1.6), ("lr=1.0", 3.9),
        ] {
            try writePoint(runner, try point(plan, name), lines: lines(final: final), checkpoint: 60)
        }
        // Windows: [1e-4, 1e-1] 0.525 as above; [1e-3, 1] (0.5 + 0 + 0.1 + 2.4) / 4 = 0.75.
        let summary = SweepSummary(runner: runner)
        XCTAssertEqual(summary.variants[0].sensitivity!, 0.525, accuracy: 1e-12)
        XCTAssertEqual(summary.variants[0].sensitivityWindow, 1e-4...1e-1)
        assertContains(
            SweepSummaryText(summary).text,
            ["window", "0.5250", "0.0001–0.1", "smallest over the 3-decade windows", "App. B", "§2.2"])
    }

    /// A final loss above ℓ0 counts at ℓ0; one above the bigram loss but below ℓ0 counts as it is.
    func testOnlyTheInitialLossCapsAFinalLoss() {
        // (min(1, 4) − 1 + min(9, 4) − 1) / 2 = 1.5; (0 + (3.0 − 1.0)) / 2 = 1.0 whatever the bigram loss.
        XCTAssertEqual(LRSensitivity.value(finalLosses: [1.0, 9.0], initialLoss: 4.0)!, 1.5, accuracy: 1e-12)
        XCTAssertEqual(LRSensitivity.value(finalLosses: [1.0, 3.0], initialLoss: 4.0)!, 1.0, accuracy: 1e-12)
    }
}
