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
        try FileManager.default.createDirectory(
            at: sweeps.appendingPathComponent("points"), withIntermediateDirectories: true)
        // A summary and a chart of a version before the marks count as the sweep's own.
        try Data("point        final loss   max attn logit   diverged\nlr=0.001  2.0\n".utf8).write(
            to: sweeps.appendingPathComponent("summary.txt"))
        try Data(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"440\" font-family=\"sans-serif\" font-size=\"12\">\n</svg>\n"
                .utf8
        )
        .write(to: sweeps.appendingPathComponent("lr_sweep.svg"))
        try Data(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"80\"><text x=\"10\" y=\"40\">no finished points yet</text></svg>\n"
                .utf8
        )
        .write(to: sweeps.appendingPathComponent("loss_vs_lr_by_size.svg"))
        XCTAssertNoThrow(try SweepOutput(sweeps).checkOwnership())
        let own = scratch.appendingPathComponent("own")
        try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: own.appendingPathComponent("summary.txt"))
        XCTAssertThrowsError(try SweepOutput(own).checkOwnership()) {
            XCTAssertEqual(
                "\($0)",
                "sweep output \(own.path) is not empty and is not a sweep's (it has no points/ folder): change out in the sweep file or empty the folder"
            )
        }
        XCTAssertEqual(try String(contentsOf: own.appendingPathComponent("summary.txt"), encoding: .utf8), "my notes\n")
        // In a sweep's folder, a summary or chart of someone's own (or a folder by that name) is refused and kept.
        for (name, text) in [
            ("summary.txt", "my notes\n"), ("lr_sweep.svg", "<svg>mine</svg>\n"),
            ("lr_sensitivity_scaling.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\">\n"),
        ] {
            let folder = scratch.appendingPathComponent("mixed-\(name)")
            try FileManager.default.createDirectory(
                at: folder.appendingPathComponent("points"), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: folder.appendingPathComponent(name))
            XCTAssertThrowsError(try SweepOutput(folder).checkOwnership()) {
                XCTAssertEqual(
                    "\($0)",
                    "sweep output \(folder.path)/\(name) was not written by qklab sweep, and QKLab never overwrites such a file: move it away"
                )
            }
            XCTAssertEqual(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8), text)
        }
        let withFolder = scratch.appendingPathComponent("folder-named-summary")
        try FileManager.default.createDirectory(
            at: withFolder.appendingPathComponent("points"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: withFolder.appendingPathComponent("summary.txt"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try SweepOutput(withFolder).checkOwnership()) {
            XCTAssertTrue("\($0)".contains("was not written by qklab sweep"), "\($0)")
        }
        let file = scratch.appendingPathComponent("file")
        try Data().write(to: file)
        XCTAssertThrowsError(try SweepOutput(file).checkOwnership()) {
            XCTAssertTrue("\($0)".contains("is a file"), "\($0)")
        }
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
            try "[model]\nqk_norm = \"head\"\n[train]\nmax_steps = 2\n".write(
                to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try "{\"step\": 1, \"loss\": 4.1}\n".write(
            to: folder.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let record = SweepPointRecord(RunFolder(folder))
        func table(_ ropeFraction: String) throws -> ConfigTable {
            try ConfigTable(
                text: "[model]\nqk_norm = \"head\"\nrope_fraction = \(ropeFraction)\n[train]\nmax_steps = 2\n",
                source: "test")
        }
        let defaults = try table("1.0")
        XCTAssertEqual(
            record.status(planned: try table("1.0"), defaults: defaults), .stopped(step: 1),
            "the default: the old point stands")
        XCTAssertEqual(
            record.status(planned: try table("0.5"), defaults: defaults),
            .configChanged(differences: ["model.rope_fraction: (absent) → 0.5"]))
        XCTAssertEqual(
            record.status(planned: try table("1.0")),
            .configChanged(differences: ["model.rope_fraction: (absent) → 1"]),
            "without the defaults nothing can be assumed")
    }
}
