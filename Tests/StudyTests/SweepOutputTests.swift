import Formats
import Foundation
import Study
import TestSupport
import XCTest

/// A sweep writes only into a folder that is new, empty or a sweep's own (issue 14, item 8's
/// kind: never write into someone's folder, never replace a file QKLab did not create).
final class SweepOutputTests: ScratchTestCase {
    func testOutputMustBeNewEmptyOrASweeps() throws {
        XCTAssertNoThrow(try SweepOutput(scratch.appendingPathComponent("new")).checkOwnership())
        let empty = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertNoThrow(try SweepOutput(empty).checkOwnership())
        let sweeps = scratch.appendingPathComponent("sweep")
        try FileManager.default.createDirectory(at: sweeps.appendingPathComponent("points"), withIntermediateDirectories: true)
        try Data("old summary\n".utf8).write(to: sweeps.appendingPathComponent("summary.txt"))
        XCTAssertNoThrow(try SweepOutput(sweeps).checkOwnership())
        let own = scratch.appendingPathComponent("own")
        try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: own.appendingPathComponent("summary.txt"))
        XCTAssertThrowsError(try SweepOutput(own).checkOwnership()) {
            XCTAssertEqual("\($0)", "sweep output \(own.path) is not empty and is not a sweep's (it has no points/ folder): change out in the sweep file or empty the folder")
        }
        XCTAssertEqual(try String(contentsOf: own.appendingPathComponent("summary.txt"), encoding: .utf8), "my notes\n")
        let file = scratch.appendingPathComponent("file")
        try Data().write(to: file)
        XCTAssertThrowsError(try SweepOutput(file).checkOwnership()) { XCTAssertTrue("\($0)".contains("is a file"), "\($0)") }
    }
}

/// A point recorded by an older QKLab lacks the keys added since; those keys default to the
/// earlier behaviour, so the point is reused when the sweep plans their default and refused when
/// it plans anything else (upgrading QKLab must not throw a finished sweep away, nor reuse it
/// silently under a new setting).
final class SweepRecordUpgradeTests: ScratchTestCase {
    func testKeysAnOlderRecordLacksCompareAsTheirDefault() throws {
        let folder = scratch.appendingPathComponent("point")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["point.toml", "config.toml"] {
            try "[model]\nqk_norm = \"head\"\n[train]\nmax_steps = 2\n".write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try "{\"step\": 1, \"loss\": 4.1}\n".write(to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let record = SweepPointRecord(RunFolder(folder))
        func table(_ ropeFraction: String) throws -> ConfigTable {
            try ConfigTable(text: "[model]\nqk_norm = \"head\"\nrope_fraction = \(ropeFraction)\n[train]\nmax_steps = 2\n", source: "test")
        }
        let defaults = try table("1.0")
        XCTAssertEqual(record.status(planned: try table("1.0"), defaults: defaults), .stopped(step: 1), "the default: the old point stands")
        XCTAssertEqual(record.status(planned: try table("0.5"), defaults: defaults),
                       .configChanged(differences: ["model.rope_fraction: (absent) → 0.5"]))
        XCTAssertEqual(record.status(planned: try table("1.0")), .configChanged(differences: ["model.rope_fraction: (absent) → 1"]),
                       "without the defaults nothing can be assumed")
    }
}
