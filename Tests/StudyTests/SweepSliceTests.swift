import Formats
import Foundation
import Study
import XCTest

final class SweepSliceTests: XCTestCase {
    func testRoundRobinByHand() throws {
        let points = Array(0..<7)
        XCTAssertEqual(try SweepSlice(index: 0, count: 3).select(points), [0, 3, 6])
        XCTAssertEqual(try SweepSlice(index: 1, count: 3).select(points), [1, 4])
        XCTAssertEqual(try SweepSlice(index: 2, count: 3).select(points), [2, 5])
        XCTAssertEqual(try SweepSlice(index: 0, count: 1).select(points), points)
        XCTAssertEqual(try SweepSlice(index: 5, count: 8).select(points), [5])
        XCTAssertEqual(try SweepSlice(index: 7, count: 8).select(points), [])
    }

    func testSlicesPartitionThePointsAndDifferBySizeAtMostOne() throws {
        for total in 0...20 {
            let points = Array(0..<total)
            for count in 1...9 {
                let slices = try (0..<count).map { try SweepSlice(index: $0, count: count).select(points) }
                XCTAssertEqual(slices.flatMap { $0 }.sorted(), points, "\(total) points, \(count) slices")
                XCTAssertLessThanOrEqual(slices.map(\.count).max()! - slices.map(\.count).min()!, 1)
            }
        }
    }

    func testParsingAndItsErrors() throws {
        XCTAssertEqual(try SweepSlice(parsing: "2/8"), try SweepSlice(index: 2, count: 8))
        XCTAssertEqual(try SweepSlice(parsing: "0/1").description, "0/1")
        for (text, message) in [
            ("3", "--shard '3': expected i/n, e.g. 0/4 (slice i of n, 0-based)"),
            ("a/4", "--shard 'a/4': expected i/n, e.g. 0/4 (slice i of n, 0-based)"),
            ("1/2/3", "--shard '1/2/3': expected i/n, e.g. 0/4 (slice i of n, 0-based)"),
            ("4/4", "--shard 4/4: expected i/n with n ≥ 1 and 0 ≤ i < n (0-based, e.g. 0/4 … 3/4)"),
            ("-1/4", "--shard -1/4: expected i/n with n ≥ 1 and 0 ≤ i < n (0-based, e.g. 0/4 … 3/4)"),
            ("0/0", "--shard 0/0: expected i/n with n ≥ 1 and 0 ≤ i < n (0-based, e.g. 0/4 … 3/4)"),
        ] {
            XCTAssertThrowsError(try SweepSlice(parsing: text), text) { XCTAssertEqual("\($0)", message) }
        }
    }

    func testARestrictedPlanKeepsTheSweepAndOnlyItsSlicesPoints() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-sweep-slice-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("s.toml")
        try """
        base = "base.toml"
        [set]
        "train.max_steps" = 10
        [grid]
        "optim.lr" = [1e-3, 1e-2, 1e-1]
        "train.seed" = [0, 1]
        """.write(to: file, atomically: true, encoding: .utf8)
        // a distinct "resolved config" per point
        let plan = try SweepPlan(file: file) { _, overrides in overrides.joined(separator: "\n") }
        let slice = try plan.restricted(to: SweepSlice(index: 1, count: 4))
        XCTAssertEqual(slice.points.map(\.name), ["lr=0.001,seed=1", "lr=0.1,seed=1"], "positions 1 and 5 of 6")
        XCTAssertEqual(slice.base, plan.base)
        XCTAssertEqual(slice.output, plan.output)
        XCTAssertEqual(slice.fixedOverrides, ["train.max_steps=10"])
    }
}
