import Formats
import XCTest

final class CountedTests: XCTestCase {
    func testOneIsSingular() {
        XCTAssertEqual(counted(1, "thread"), "1 thread")
        XCTAssertEqual(counted(0, "thread"), "0 threads")
        XCTAssertEqual(counted(2, "batch shard"), "2 batch shards")
        XCTAssertEqual(counted(1, "process", plural: "processes"), "1 process")
        XCTAssertEqual(counted(3, "process", plural: "processes"), "3 processes")
    }
}
