import Autograd

/// A training forward + backward split by batch rows into shards that run at the same time on
/// the kernel threads (`Parallel.threadCount`, several shards in turn on one thread when there
/// are more shards than threads), each with single-threaded BLAS and its own tape.
///
/// Small matrices do not speed up by splitting one product across cores (OpenBLAS's threads
/// spend as long synchronising as computing), but independent halves of the batch do: a shard
/// never waits for the other until the end, when their gradients are added up.
///
/// Shard 0 runs on `model`, shard s > 0 on a replica that shares `model`'s weights and has its
/// own gradients. Each shard's loss is the mean over its tokens, weighted by its share of the
/// batch rows, so the sum of the shards' losses and gradients is the whole batch's mean (up to
/// float rounding: the order of the sums differs from one unsplit batch). The shard count is
/// fixed at creation, and losses and gradients are summed in shard order, so results depend on
/// the shard count and nothing else — not on the thread count or on scheduling (a training run
/// stores its count as `train.shards`); with one shard they are bit-identical to `model.loss` +
/// `backward()`. (Inside a shard, QKLab's kernels split work only into independent rows, and
/// OpenBLAS computes each product on the calling thread (`BLAS`), so threads change no bit: the
/// tests train on 1, 2 and 3 threads.)
///
/// Under `mpirun`, a process runs only its `localShards` and hands their gradients out one by one
/// (`localLossesAndGradients`); the trainer gathers every shard's gradients and adds them in the
/// same shard order, so the sum is bit-identical to one process running every shard.
public final class DataParallel {
    /// The model that receives the summed gradients (it runs the first of `localShards`).
    public let model: TransformerModel
    /// Models for the other local shards, sharing `model`'s weights.
    let replicas: [TransformerModel]
    /// One buffer pool per local shard: a shard takes the same buffers every step.
    let pools: [BufferPool]
    /// S: the number of shards a batch is split into (at most its row count).
    public let shardCount: Int
    /// The shards this process runs: all of them, or under `mpirun` its contiguous group
    /// (docs/spec/cli.md, "Beyond one machine"), whose gradients `localLossesAndGradients` hands out.
    public let localShards: Range<Int>

    /// `shards` copies of the step (at least 1); a batch with fewer rows uses fewer. With
    /// `localShards`, only those shards run here (replicas for them alone).
    public init(model: TransformerModel, shards: Int, localShards: Range<Int>? = nil) {
        self.model = model
        shardCount = max(1, shards)
        self.localShards = localShards ?? 0..<shardCount
        precondition(
            !self.localShards.isEmpty && self.localShards.upperBound <= shardCount,
            "local shards \(self.localShards) of \(shardCount)")
        replicas = (1..<self.localShards.count).map { _ in TransformerModel(sharingWeightsOf: model) }
        pools = self.localShards.map { _ in BufferPool() }
    }

    /// Forward and backward of the mean loss over `tokens` → `targets` (both `batch·length` ids),
    /// leaving the gradient in `model`'s parameters (added to what they held, like `backward()`);
    /// with `measuring`, the step's telemetry merged over shards in shard order. Runs every shard.
    public func lossAndGradients(
        tokens: [Int32], targets: [Int32], batch: Int, length: Int,
        measuring: Bool = false
    ) -> ShardedLoss {
        precondition(
            localShards.count == shardCount, "lossAndGradients runs every shard; this process runs \(localShards)")
        let shards = min(shardCount, batch)
        let results = run(
            0..<shards, of: shards, tokens: tokens, targets: targets, batch: batch, length: length, measuring: measuring
        )
        for replica in replicas.prefix(shards - 1) { moveGradients(of: replica) }
        return ShardedLoss.inShardOrder(results)
    }

    /// Forward and backward of this process's `localShards` only: hands each shard's gradient
    /// (the model's gradient buffer layout; its share of the batch mean) to `deliver` in shard
    /// order and leaves every local model's gradients at zero. Returns the local shards' weighted
    /// losses in shard order. The batch must have at least `shardCount` rows.
    public func localLossesAndGradients(
        tokens: [Int32], targets: [Int32], batch: Int, length: Int, measuring: Bool = false,
        deliver: (_ shard: Int, _ gradients: UnsafeBufferPointer<Float>) -> Void
    ) -> [ShardedLoss] {
        precondition(batch >= shardCount, "a batch of \(batch) rows cannot make \(shardCount) shards")
        let results = run(
            localShards, of: shardCount, tokens: tokens, targets: targets, batch: batch, length: length,
            measuring: measuring)
        for (shard, shardModel) in zip(localShards, [model] + replicas) {
            deliver(
                shard,
                UnsafeBufferPointer(start: shardModel.gradientBuffer.data, count: shardModel.gradientBuffer.count))
            shardModel.zeroGradients()
        }
        return results
    }

    /// Runs `shards` of the batch's row split into `total` shards, shard `localShards.lowerBound
    /// + i` on the i-th local model, at the same time on the kernel threads (in turn when there
    /// are more shards than threads); each shard's loss weighted by its share of the rows.
    private func run(
        _ shards: Range<Int>, of total: Int, tokens: [Int32], targets: [Int32], batch: Int, length: Int,
        measuring: Bool
    ) -> [ShardedLoss] {
        precondition(Tape.isRecording, "lossAndGradients inside Tape.withoutGradients")
        let models = [model] + replicas
        func run(_ shard: Int) -> ShardedLoss {
            let index = shard - localShards.lowerBound, started = OpProfile.begin()
            defer { OpProfile.endShard(index, of: shards.count, started) }
            return BufferPool.withPool(pools[index]) {
                let rows = ((shard * batch) / total)..<(((shard + 1) * batch) / total)
                let tokenRange = (rows.lowerBound * length)..<(rows.upperBound * length)
                let weight = Float(rows.count) / Float(batch)
                let result = models[index].loss(
                    tokens: Array(tokens[tokenRange]), targets: Array(targets[tokenRange]),
                    batch: rows.count, length: length, measuring: measuring)
                scale(result.loss, by: weight).backward()
                return ShardedLoss(
                    loss: result.loss.item * weight, crossEntropy: result.crossEntropy * weight,
                    attentionLogitMax: result.attentionLogitMax, attentionScoreMax: result.attentionScoreMax,
                    telemetry: result.telemetry)
            }
        }
        if shards.count == 1 { return [run(shards.lowerBound)] }  // one shard keeps the kernels' threads
        var results = [ShardedLoss?](repeating: nil, count: shards.count)
        results.withUnsafeMutableBufferPointer { results in
            Parallel.forEachChunk(shards.count, grain: 1) { range in
                for index in range { results[index] = run(shards.lowerBound + index) }
            }
        }
        return results.map { $0! }
    }

    /// `model`'s gradients += `replica`'s, leaving the replica's at zero for the next step (they
    /// start at zero): one pass over the two gradient buffers.
    private func moveGradients(of replica: TransformerModel) {
        let destination = model.gradientBuffer.data, source = replica.gradientBuffer.data
        Parallel.forEachChunk(model.gradientBuffer.count, grain: 1 << 14) { range in
            forEachVector(range) { i, lanes in
                store(load(destination, i, lanes) + load(source, i, lanes), destination, i, lanes)
                store(Vector(), source, i, lanes)
            }
        }
    }
}

/// The loss of a sharded step.
public struct ShardedLoss {
    /// The optimised objective (cross-entropy + z-loss), mean over the batch.
    public let loss: Float
    /// Plain mean cross-entropy.
    public let crossEntropy: Float
    /// Per layer, the largest attention logit over all shards.
    public let attentionLogitMax: [Float]
    /// `[L][H]`: per layer and query head, the largest attention score over all shards (S_max^h).
    public let attentionScoreMax: [[Float]]
    /// The step's stability telemetry over all shards, when measured.
    public let telemetry: ModelTelemetry?

    public init(
        loss: Float, crossEntropy: Float, attentionLogitMax: [Float], attentionScoreMax: [[Float]],
        telemetry: ModelTelemetry?
    ) {
        (self.loss, self.crossEntropy, self.attentionLogitMax, self.attentionScoreMax, self.telemetry) = (
            loss, crossEntropy, attentionLogitMax, attentionScoreMax, telemetry
        )
    }

    /// The shards' losses combined in shard order: ((shard 0 ⊕ shard 1) ⊕ shard 2) ⊕ …, as one
    /// process running every shard combines them (so the result does not depend on where the
    /// shards ran).
    public static func inShardOrder(_ shards: [ShardedLoss]) -> ShardedLoss {
        shards.dropFirst().reduce(shards[0]) { $0.merged(with: $1) }
    }

    /// Sums of the (already weighted) losses; maxima of the logit maxima (NaN wins); telemetry
    /// merged (`self` is the earlier shard).
    func merged(with other: ShardedLoss) -> ShardedLoss {
        ShardedLoss(
            loss: loss + other.loss, crossEntropy: crossEntropy + other.crossEntropy,
            attentionLogitMax: zip(attentionLogitMax, other.attentionLogitMax).map(nanPropagatingMax),
            attentionScoreMax: zip(attentionScoreMax, other.attentionScoreMax).map {
                zip($0, $1).map(nanPropagatingMax)
            },
            telemetry: telemetry.flatMap { mine in other.telemetry.map { mine.merged(with: $0) } })
    }
}
