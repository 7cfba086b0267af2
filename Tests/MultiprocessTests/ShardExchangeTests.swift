import Multiprocess
import XCTest

/// The shard-order sum in a job of one process (scripts/mpi_test.sh runs the same comparison
/// under `mpirun -np 2` and `-np 4` through qklab-mpi-check).
final class ShardExchangeTests: XCTestCase {
    /// Three shards whose sum depends on the order: (1e8 + 1) − 1e8 = 0 in Float, (1e8 − 1e8) + 1 = 1.
    let shards: [[Float]] = [[1e8, 0.5, -0.0], [1, 0.25, -0.0], [-1e8, 1e-8, 0]]

    func testShardOrderSumAddsLeftToRightInShardOrder() {
        let all = shards.flatMap { $0 }
        var sum = [Float](repeating: .nan, count: 3)
        all.withUnsafeBufferPointer { all in
            sum.withUnsafeMutableBufferPointer { shardOrderSum(all, shards: 3, into: $0) }
        }
        let big: Float = 1e8, negativeZero: Float = -0.0
        let expected: [Float] = [(big + 1) - big, (0.5 + 0.25) + 1e-8, (negativeZero + negativeZero) + 0]
        XCTAssertEqual(sum.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(sum[0], 0, "1 is lost next to 1e8 when added in shard order")
        XCTAssertEqual(sum[2].sign, .plus)
    }

    func testOneShardIsCopiedExactly() {
        let one: [Float] = [-0.0, .infinity, 3]
        var sum = [Float](repeating: .nan, count: 3)
        one.withUnsafeBufferPointer { one in
            sum.withUnsafeMutableBufferPointer { shardOrderSum(one, shards: 1, into: $0) }
        }
        XCTAssertEqual(sum.map(\.bitPattern), one.map(\.bitPattern))
    }

    func testExchangeInAJobOfOneProcessSumsItsOwnShards() throws {
        let group = try ProcessGroup.start(environment: [:])
        let exchange = try ShardExchange<Float>(group: group, layout: ShardLayout(shards: 3, processes: 1), count: 3)
        XCTAssertEqual(exchange.localShards, 0..<3)
        for shard in 0..<3 { exchange.withLocalBuffer(of: shard) { _ = $0.initialize(from: shards[shard]) } }
        exchange.exchange()
        XCTAssertEqual(Array(exchange.buffer(of: 1)), shards[1])
        var sum = [Float](repeating: .nan, count: 3)
        sum.withUnsafeMutableBufferPointer { exchange.sumInShardOrder(into: $0) }
        XCTAssertEqual(sum[0], 0)
    }

    func testALayoutForAnotherProcessCountIsRefused() throws {
        let group = try ProcessGroup.start(environment: [:])
        XCTAssertThrowsError(
            try ShardExchange<Float>(group: group, layout: ShardLayout(shards: 4, processes: 2), count: 1)
        ) { error in
            XCTAssertEqual("\(error)", "a shard layout for 2 processes used in a job of 1")
        }
    }
}
