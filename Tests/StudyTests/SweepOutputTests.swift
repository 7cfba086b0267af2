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
