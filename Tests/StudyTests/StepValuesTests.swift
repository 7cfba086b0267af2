import Foundation
@testable import Study
import TestSupport
import XCTest

/// `compare --at-step S`: each run's logged value of a per-step key at step S, numbers and
/// per-layer lists alike; a step or key a run did not log reads "—".
final class StepValuesTests: ScratchTestCase {
    func testValuesAtTheChosenStepsOfEachRun() throws {
        let early = try run(
            "early",
            [
                "{\"step\": 10, \"loss\": 3.0, \"attn_logit_max\": [9.5, 2.0]}",
                "{\"step\": 10, \"val_loss\": 3.5}",
                "{\"step\": 20, \"loss\": 2.0, \"attn_logit_max\": [12.0, null]}",
            ])
        let late = try run("late", ["{\"step\": 20, \"loss\": 1.5}"])
        let values = StepValues(runs: [early, late], steps: [10, 20], keys: ["attn_logit_max", "loss"])
        XCTAssertEqual(values.values[0][10]?["attn_logit_max"], .list([9.5, 2.0]))
        XCTAssertEqual(values.values[0][20]?["attn_logit_max"], .list([12.0, nil]))
        XCTAssertEqual(values.values[0][10]?["loss"], .number(3.0), "the training line, not the evaluation line")
        XCTAssertNil(values.values[1][10], "no line of step 10")
        XCTAssertNil(values.values[1][20]?["attn_logit_max"])
        XCTAssertEqual(values.values[1][20]?["loss"], .number(1.5))
        let text = values.text
        for part in ["steps 10, 20", "attn_logit_max @ 10", "[9.5, 2]", "[12, —]", "loss @ 20", "1.5"] {
            XCTAssertTrue(text.contains(part), "missing '\(part)' in\n\(text)")
        }
        let every = StepValues(runs: [early], steps: [20])
        XCTAssertEqual(every.keys, ["attn_logit_max", "loss"], "every quantity but step, as first met")
    }

    func run(_ name: String, _ lines: [String]) throws -> RunHistory {
        let folder = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "[train]\nmax_steps = 20\n".write(
            to: folder.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
        try lines.map { $0 + "\n" }.joined().write(
            to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        return try RunHistory(folder: folder)
    }
}
