import Autograd
import Transformer
import XCTest

/// `DataParallel.localLossesAndGradients`, the step of one process under `mpirun`: each shard's
/// gradients and losses handed out separately, then added in shard order (as the trainer does
/// after the exchange), are bit-identical to one process running every shard.
final class DataParallelLocalShardsTests: XCTestCase {
    /// B=5, T=5 ids for a tiny model.
    private let tokens: [Int32] = (0..<25).map { Int32(($0 * 3 + $0 / 4) % 7) }
    private let targets: [Int32] = (0..<25).map { Int32(($0 * 5 + 1) % 7) }

    private func model(_ config: ModelConfig) throws -> TransformerModel {
        let model = try TransformerModel(config: config)
        randomizeForGradientCheck(model, seed: 3)
        return model
    }

    /// 3 shards of 5 rows, as processes of 1, 2 and 3 shards would run them (groups 0..<1 and
    /// 1..<3, or each alone): the shard-order sum of the handed-out gradients and the shard-order
    /// fold of the losses equal `lossAndGradients` bit for bit, telemetry included.
    func testShardGroupsSummedInShardOrderEqualOneProcess() throws {
        for config in [tinyConfig(), tinyConfig(blockNorm: .post, qkNorm: .full, tie: false)] {
            let whole = try model(config)
            let expected = DataParallel(model: whole, shards: 3)
                .lossAndGradients(tokens: tokens, targets: targets, batch: 5, length: 5, measuring: true)
            let expectedGradients = Array(
                UnsafeBufferPointer(start: whole.gradientBuffer.data, count: whole.gradientBuffer.count))
            for groups in [[0..<1, 1..<3], [0..<1, 1..<2, 2..<3], [0..<3]] {
                var gradients = [[Float]](repeating: [], count: 3)
                var losses = [ShardedLoss]()
                for group in groups {
                    let local = try model(config)
                    let parallel = DataParallel(model: local, shards: 3, localShards: group)
                    losses += parallel.localLossesAndGradients(
                        tokens: tokens, targets: targets, batch: 5, length: 5,
                        measuring: true
                    ) { shard, gradient in gradients[shard] = Array(gradient) }
                    XCTAssertTrue(
                        UnsafeBufferPointer(start: local.gradientBuffer.data, count: local.gradientBuffer.count)
                            .allSatisfy { $0 == 0 },
                        "gradients left at zero")
                }
                let summed = gradients.dropFirst().reduce(gradients[0]) { zip($0, $1).map { $0 + $1 } }
                XCTAssertEqual(summed.map(\.bitPattern), expectedGradients.map(\.bitPattern), "\(groups)")
                let folded = ShardedLoss.inShardOrder(losses)
                XCTAssertEqual(folded.loss.bitPattern, expected.loss.bitPattern, "\(groups)")
                XCTAssertEqual(folded.crossEntropy.bitPattern, expected.crossEntropy.bitPattern, "\(groups)")
                XCTAssertEqual(folded.attentionLogitMax, expected.attentionLogitMax, "\(groups)")
                XCTAssertEqual(folded.attentionScoreMax, expected.attentionScoreMax, "\(groups)")
                XCTAssertEqual(folded.telemetry, expected.telemetry, "\(groups)")
            }
        }
    }
}
