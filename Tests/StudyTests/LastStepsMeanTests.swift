import Foundation
@testable import Study
import TestSupport
import XCTest

/// `compare --mean-last K`: the mean over the last K logged steps of any per-step key, numbers
/// and per-layer lists alike, keys it has not heard of included.
final class LastStepsMeanTests: ScratchTestCase {
    func testMeanOverTheLastLoggedStepsOfNumbersAndLists() throws {
        let folder = scratch.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "[train]\nmax_steps = 30\n".write(
            to: folder.appendingPathComponent("config.toml"), atomically: true, encoding: .utf8)
        // grad_rms_q_proj is a key this version does not know: reduced all the same.
        try [
            "{\"step\": 10, \"loss\": 3.0, \"grad_norm\": 9.0, \"grad_rms_q_proj\": [9.0, 9.0]}",
            "{\"step\": 10, \"val_loss\": 3.5}",
            "{\"step\": 20, \"loss\": 2.0, \"grad_norm\": 1.0, \"grad_rms_q_proj\": [1.0, null]}",
            "{\"step\": 30, \"loss\": 1.0, \"grad_norm\": 3.0, \"grad_rms_q_proj\": [3.0, 4.0]}",
        ].map { $0 + "\n" }.joined().write(
            to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let run = try RunHistory(folder: folder)
        let mean = LastStepsMean(runs: [run], count: 2)
        // The last two training lines (steps 20 and 30); the null is left out of layer 1's mean.
        XCTAssertEqual(mean.values[0]["loss"], .number(1.5))
        XCTAssertEqual(mean.values[0]["grad_norm"], .number(2.0))
        XCTAssertEqual(mean.values[0]["grad_rms_q_proj"], .list([2.0, 4.0]))
        XCTAssertNil(mean.values[0]["val_loss"], "evaluation lines are not training steps")
        XCTAssertFalse(mean.keys.contains("step"))
        let only = LastStepsMean(runs: [run], count: 5, keys: ["grad_norm"])
        XCTAssertEqual(only.keys, ["grad_norm"])
        XCTAssertEqual(only.values[0]["grad_norm"], .number(13.0 / 3))
        assertContains(only.text, ["last 5 logged steps", "grad_norm", "4.333"])
    }

    func assertContains(_ text: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        for part in expected {
            XCTAssertTrue(text.contains(part), "missing '\(part)' in\n\(text)", file: file, line: line)
        }
    }
}
