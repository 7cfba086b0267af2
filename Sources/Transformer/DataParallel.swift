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
/// OpenBLAS splits a product into blocks of its output, so threads change no bit: the tests
/// train on 1, 2 and 3 threads.)
public final class DataParallel {
    /// The model that receives the summed gradients (shard 0 runs on it).
    public let model: TransformerModel
    /// Models for shards 1…n−1, sharing `model`'s weights.
    let replicas: [TransformerModel]
    /// One buffer pool per shard: a shard takes the same buffers every step.
    let pools: [BufferPool]

    /// `shards` copies of the step (at least 1); a batch with fewer rows uses fewer.
    public init(model: TransformerModel, shards: Int) {
        self.model = model
        replicas = (1..<max(1, shards)).map { _ in TransformerModel(sharingWeightsOf: model) }
        pools = (0..<max(1, shards)).map { _ in BufferPool() }
    }

    /// Number of shards a batch is split into (at most its row count).
    public var shardCount: Int { replicas.count + 1 }

    /// Forward and backward of the mean loss over `tokens` → `targets` (both `batch·length` ids),
    /// leaving the gradient in `model`'s parameters (added to what they held, like `backward()`);
    /// with `measuring`, the step's telemetry merged over shards in shard order.
    public func lossAndGradients(tokens: [Int32], targets: [Int32], batch: Int, length: Int,
                                 measuring: Bool = false) -> ShardedLoss {
        precondition(Tape.isRecording, "lossAndGradients inside Tape.withoutGradients")
        let shards = min(shardCount, batch)
        let rowRanges = (0..<shards).map { (($0 * batch) / shards)..<((($0 + 1) * batch) / shards) }
        let models = [model] + replicas
        func run(_ shard: Int) -> ShardedLoss {
            BufferPool.withPool(pools[shard]) {
                let rows = rowRanges[shard], tokenRange = (rows.lowerBound * length)..<(rows.upperBound * length)
                let weight = Float(rows.count) / Float(batch)
                let result = models[shard].loss(tokens: Array(tokens[tokenRange]), targets: Array(targets[tokenRange]),
                                                batch: rows.count, length: length, measuring: measuring)
                scale(result.loss, by: weight).backward()
                return ShardedLoss(loss: result.loss.item * weight, crossEntropy: result.crossEntropy * weight,
                                   attentionLogitMax: result.attentionLogitMax, telemetry: result.telemetry)
            }
        }
        if shards == 1 { return run(0) }     // one shard keeps BLAS's own threads
        var results = [ShardedLoss?](repeating: nil, count: shards)
        results.withUnsafeMutableBufferPointer { results in
            BLAS.withSingleThread {
                Parallel.forEachChunk(shards, grain: 1) { range in
                    for shard in range { results[shard] = run(shard) }
                }
            }
        }
        for replica in models[1..<shards] { moveGradients(of: replica) }
        return results.dropFirst().reduce(results[0]!) { $0.merged(with: $1!) }
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
    /// The step's stability telemetry over all shards, when measured.
    public let telemetry: ModelTelemetry?

    /// Sums of the (already weighted) losses; maxima of the logit maxima (NaN wins); telemetry
    /// merged (`self` is the earlier shard).
    func merged(with other: ShardedLoss) -> ShardedLoss {
        ShardedLoss(loss: loss + other.loss, crossEntropy: crossEntropy + other.crossEntropy,
                    attentionLogitMax: zip(attentionLogitMax, other.attentionLogitMax).map(nanPropagatingMax),
                    telemetry: telemetry.flatMap { mine in other.telemetry.map { mine.merged(with: $0) } })
    }
}
