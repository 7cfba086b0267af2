import Formats
import Foundation
import Study
import XCTest

final class SweepTests: XCTestCase {
    /// Wortsman et al.'s LR sensitivity by hand: losses 2.0, 1.5, 1.8 and a diverged point (at
    /// the initial loss 4.0): mean(0.5, 0, 0.3, 2.5) = 0.825.
    func testSensitivityArithmetic() {
        XCTAssertEqual(SweepSummary.sensitivity(finalLosses: [2.0, 1.5, 1.8, 4.0], initialLoss: 4.0), 0.825, accuracy: 1e-12)
        // A loss above the initial loss counts at the initial loss.
        XCTAssertEqual(SweepSummary.sensitivity(finalLosses: [1.0, 9.0], initialLoss: 4.0), 1.5, accuracy: 1e-12)
        XCTAssertEqual(SweepSummary.sensitivity(finalLosses: [1.2], initialLoss: 4.0), 0)
        XCTAssertEqual(SweepSummary.sensitivity(finalLosses: [], initialLoss: 4.0), 0)
    }

    func testPlanExpandsTheGridAndGroupsVariants() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-sweep-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = folder.appendingPathComponent("s.toml")
        try """
        base = "\(repository.path)/configs/smoke.toml"
        out = "\(folder.path)/out"
        [set]
        "train.max_steps" = 10
        [grid]
        "train.seed" = [0, 1]
        "model.qk_norm" = ["off", "head"]
        "optim.lr" = [1e-3, 1e-2]
        """.write(to: file, atomically: true, encoding: .utf8)
        let plan = try SweepPlan(file: file) { _, _ in }
        XCTAssertEqual(plan.points.count, 8)
        XCTAssertEqual(plan.points[0].name, "lr=0.001,qk_norm=off,seed=0")
        XCTAssertEqual(plan.points[0].overrides, ["optim.lr=0.001", "model.qk_norm=off", "train.seed=0"])
        XCTAssertEqual(Set(plan.points.map(\.variant)), ["qk_norm=off", "qk_norm=head"])
        XCTAssertEqual(plan.fixedOverrides, ["train.max_steps=10"])
        let runner = SweepRunner(plan: plan, executable: URL(fileURLWithPath: "/bin/false"), jobs: 2)
        XCTAssertEqual(try runner.action(for: plan.points[0]), .start)
        try FileManager.default.createDirectory(at: runner.folder(of: plan.points[0]).url, withIntermediateDirectories: true)
        try Data("completed\n".utf8).write(to: runner.folder(of: plan.points[0]).url.appendingPathComponent("finished"))
        XCTAssertEqual(try runner.action(for: plan.points[0]), .skip, "a finished point is not trained again")
    }

    /// The config loader (the trainer's, in `qklab sweep`) sees every point's overrides, and its
    /// refusal names the point.
    func testPlanRejectsBadKeys() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-bad-sweep-\(getpid()).toml")
        defer { try? FileManager.default.removeItem(at: file) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        try "base = \"\(repository.path)/configs/smoke.toml\"\n[grid]\n\"optim.learning_rate\" = [1e-3]\n".write(to: file, atomically: true, encoding: .utf8)
        var seen: [[String]] = []
        let refuseUnknown: (URL, [String]) throws -> Void = { base, overrides in
            XCTAssertEqual(base.path, repository.appendingPathComponent("configs/smoke.toml").path)
            seen.append(overrides)
            if let bad = overrides.first(where: { $0.hasPrefix("optim.learning_rate=") }) {
                throw ConfigError("unknown key '\(bad.prefix { $0 != "=" })'")
            }
        }
        XCTAssertThrowsError(try SweepPlan(file: file, loadConfig: refuseUnknown)) {
            XCTAssertEqual("\($0)", "\(file.path): point learning_rate=0.001: unknown key 'optim.learning_rate'")
        }
        XCTAssertEqual(seen, [["optim.learning_rate=0.001"]])
    }
}
