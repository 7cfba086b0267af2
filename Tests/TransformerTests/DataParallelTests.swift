import Autograd
import Transformer
import XCTest

final class DataParallelTests: XCTestCase {
    /// B=5, T=5 ids for a tiny model.
    private let tokens: [Int32] = (0..<25).map { Int32(($0 * 3 + $0 / 4) % 7) }
    private let targets: [Int32] = (0..<25).map { Int32(($0 * 5 + 1) % 7) }

    /// Loss and every parameter's gradient after one step of `run` on a fresh model.
    private func step(_ config: ModelConfig, _ run: (TransformerModel) -> Float) throws -> (
        loss: Float, gradients: [[Float]]
    ) {
        let model = try TransformerModel(config: config)
        randomizeForGradientCheck(model, seed: 3)
        let loss = run(model)
        return (loss, model.parameters.map { $0.tensor.grad?.values ?? [] })
    }

    private func unsharded(_ model: TransformerModel) -> Float {
        let result = model.loss(tokens: tokens, targets: targets, batch: 5, length: 5)
        result.loss.backward()
        return result.loss.item
    }

    private func sharded(_ shards: Int) -> (TransformerModel) -> Float {
        {
            DataParallel(model: $0, shards: shards).lossAndGradients(
                tokens: self.tokens, targets: self.targets, batch: 5, length: 5
            ).loss
        }
    }

    /// One shard is exactly the unsharded step.
    func testOneShardIsBitIdenticalToUnshardedStep() throws {
        let reference = try step(tinyConfig(), unsharded)
        let oneShard = try step(tinyConfig(), sharded(1))
        XCTAssertEqual(oneShard.loss, reference.loss)
        XCTAssertEqual(oneShard.gradients, reference.gradients)
    }

    /// Shards of unequal size (5 rows into 2 and 3) give the whole batch's mean loss and gradient,
    /// up to rounding, in every layout that changes which parameters exist.
    func testShardsSumToTheWholeBatch() throws {
        for config in [
            tinyConfig(), tinyConfig(blockNorm: .post, qkNorm: .full, tie: false), tinyConfig(qkNorm: .off, kvHeads: 1),
        ] {
            let reference = try step(config, unsharded)
            for shards in [2, 3, 5, 8] {
                let result = try step(config, sharded(shards))
                XCTAssertEqual(result.loss, reference.loss, accuracy: 1e-5 * abs(reference.loss), "\(shards) shards")
                for (gradient, expected) in zip(result.gradients, reference.gradients) {
                    XCTAssertEqual(gradient.count, expected.count)
                    let scale = expected.map(abs).max() ?? 0
                    for (value, expectedValue) in zip(gradient, expected) {
                        XCTAssertEqual(value, expectedValue, accuracy: 1e-5 * max(scale, 1e-3), "\(shards) shards")
                    }
                }
            }
        }
    }

    /// Shards run at the same time, yet two runs agree bit for bit (gradients add in shard order).
    func testShardedStepIsDeterministic() throws {
        let first = try step(tinyConfig(), sharded(2))
        let second = try step(tinyConfig(), sharded(2))
        XCTAssertEqual(first.loss, second.loss)
        XCTAssertEqual(first.gradients, second.gradients)
    }

    /// A second step on the same shards (weights unchanged, gradients zeroed) gives the same
    /// gradients: nothing of the first step is left in the replicas.
    func testRepeatedStepStartsFromZero() throws {
        let model = try TransformerModel(config: tinyConfig())
        randomizeForGradientCheck(model, seed: 3)
        let shards = DataParallel(model: model, shards: 2)
        _ = shards.lossAndGradients(tokens: tokens, targets: targets, batch: 5, length: 5)
        let first = model.gradientBuffer.values
        model.zeroGradients()
        _ = shards.lossAndGradients(tokens: tokens, targets: targets, batch: 5, length: 5)
        XCTAssertEqual(model.gradientBuffer.values, first)
    }

    /// After the first step every tensor buffer comes from the shards' pools, even though the two
    /// shards run at the same time.
    func testStepsAfterTheFirstAllocateNoTensorMemory() throws {
        let model = try TransformerModel(config: tinyConfig())
        let shards = DataParallel(model: model, shards: 2)
        func step() {
            model.zeroGradients()
            _ = shards.lossAndGradients(tokens: tokens, targets: targets, batch: 5, length: 5)
        }
        step()
        let before = BufferPool.statistics.systemAllocations
        for _ in 0..<5 { step() }
        XCTAssertEqual(BufferPool.statistics.systemAllocations, before)
    }

    /// A replica shares the weights: writing through one is seen by the other.
    func testReplicaSharesWeights() throws {
        let model = try TransformerModel(config: tinyConfig())
        let replica = TransformerModel(sharingWeightsOf: model)
        XCTAssertEqual(replica.parameters.map(\.name), model.parameters.map(\.name))
        model.parameters[3].tensor.data[0] = 42
        XCTAssertEqual(replica.parameters[3].tensor.data[0], 42)
        XCTAssertFalse(replica.parameters[3].tensor === model.parameters[3].tensor)
    }
}
