import Multiprocess
import XCTest

final class ShardLayoutTests: XCTestCase {
    func testGroupsAreContiguousCoverEveryShardOnceAndDifferByAtMostOne() throws {
        for processes in 1...6 {
            for shards in processes...(3 * processes + 2) {
                let layout = try ShardLayout(shards: shards, processes: processes)
                let groups = (0..<processes).map(layout.shards(of:))
                XCTAssertEqual(groups.flatMap { Array($0) }, Array(0..<shards), "S=\(shards) N=\(processes)")
                let sizes = groups.map(\.count)
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "S=\(shards) N=\(processes)")
                XCTAssertGreaterThan(sizes.min()!, 0)
            }
        }
    }

    func testHandComputedGroups() throws {
        let layout = try ShardLayout(shards: 5, processes: 2)
        XCTAssertEqual(layout.shards(of: 0), 0..<2)
        XCTAssertEqual(layout.shards(of: 1), 2..<5)
    }

    func testFewerShardsThanProcessesIsAnErrorThatSaysWhatToDo() {
        XCTAssertThrowsError(try ShardLayout(shards: 2, processes: 4)) { error in
            XCTAssertEqual(
                "\(error)",
                "train.shards = 2 is fewer than the 4 processes; start at most 2 processes or use a run with more shards"
            )
        }
        XCTAssertThrowsError(try ShardLayout(shards: 2, processes: 0))
    }
}
