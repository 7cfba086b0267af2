import Autograd
import Foundation
import Formats
import Transformer

/// A training step's forward and backward spread over the processes of a `TrainingJob`
/// (docs/spec/cli.md, "Beyond one machine"): every process draws the same full batch, runs its
/// contiguous group of the `train.shards` shards, and the shards' gradients and losses are
/// gathered on every process (MPI_Allgatherv of per-shard buffers) and combined in global shard
/// order, as one process running every shard combines them. So clipping and AdamW see the same
/// bits on every process, and the run's numbers depend on `train.shards` alone.
///
/// Costs per step: each process receives (S − own)·P floats of gradients (P parameters) and
/// holds S·P floats for the exchange.
final class DistributedStep {
    let job: TrainingJob
    let gradients: any GradientExchange
    let losses: any ShardBuffers<Double>
    /// S, and the model's layers and query heads (the size of a shard's loss numbers).
    let shards: Int, layers: Int, heads: Int
    /// Seconds spent in `exchange()` (transfer, and waiting for the slowest process) over `steps`.
    private(set) var exchangeSeconds = 0.0, steps = 0

    /// - Throws: when `shards` (after `min(train.shards, batch_size)`) is fewer than the processes.
    init(job: TrainingJob, shards: Int, parameterCount: Int, model: ModelConfig) throws {
        self.job = job
        (self.shards, layers, heads) = (shards, model.nLayer, model.nHead)
        gradients = try job.gradientExchange(shards: shards, count: parameterCount)
        losses = try job.numberExchange(shards: shards, count: ShardedLoss.numberCount(layers: layers, heads: heads))
    }

    /// The shards this process runs.
    var localShards: Range<Int> { gradients.localShards }

    /// The batch's loss over every shard, with the shard-order sum of every shard's gradients in
    /// `dataParallel.model`'s gradient buffer (which it overwrites).
    func lossAndGradients(_ dataParallel: DataParallel, batch: Batch, measuring: Bool) -> ShardedLoss {
        let local = dataParallel.localLossesAndGradients(
            tokens: batch.inputs, targets: batch.targets, batch: batch.batchSize,
            length: batch.length, measuring: measuring
        ) { shard, gradient in
            gradients.withLocalBuffer(of: shard) { _ = $0.update(fromContentsOf: gradient) }
        }
        for (shard, loss) in zip(localShards, local) {
            losses.withLocalBuffer(of: shard) { loss.write(into: $0, heads: heads) }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        gradients.exchange()
        losses.exchange()
        exchangeSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        steps += 1
        let buffer = dataParallel.model.gradientBuffer
        gradients.sumInShardOrder(into: UnsafeMutableBufferPointer(start: buffer.data, count: buffer.count))
        return ShardedLoss.inShardOrder(
            (0..<shards).map { ShardedLoss(numbers: losses.buffer(of: $0), layers: layers, heads: heads) })
    }

    /// Process 0's pending stop signal (0 for none) on every process, so that all stop after the
    /// same step (a collective, once per step).
    func agreedStopSignal(_ local: Int32) -> Int32 {
        Int32(job.broadcastFromFirst([Double(local)])[0])
    }

    /// Checks that this process starts from the same step, corpus and config as process 0 (three
    /// broadcasts, which every process completes before any of them throws): a process that
    /// resumed from another checkpoint, read another corpus or was given another config (an
    /// `--set`, another `train.shards`) would silently train something else, or fail in the first
    /// exchange with MPI's own message.
    /// - Throws: `RunError` naming what differs (the first differing key, both values), on the
    ///   process that differs.
    func checkSameStart(step: Int, corpus: CorpusFingerprint, config: TrainingConfig, folder: String) throws {
        let mine = [Double(step), Double(corpus.bytes)] + corpus.fnv1a64.utf8.prefix(16).map(Double.init)
        let padded = mine + Array(repeating: 0, count: 18 - mine.count)
        let first = job.broadcastFromFirst(padded)
        let configLines = Self.agreedKeys(config)
        let firstConfigLines = broadcastTextFromFirst(configLines.joined(separator: "\n")).split(separator: "\n").map(
            String.init)
        guard first == padded else {
            let firstHash = String(decoding: first[2...].prefix { $0 != 0 }.map { UInt8($0) }, as: UTF8.self)
            throw RunError(
                "process \(job.rank) starts at step \(step) with corpus \(corpus), process 0 at step \(Int(first[0])) "
                    + "with a corpus of \(Int(first[1])) bytes (FNV-1a \(firstHash)): every process must read the same run folder \(folder) and corpus "
                    + "(a shared file system, or identical copies)")
        }
        if let (line, theirs) = zip(configLines, firstConfigLines).first(where: { $0 != $1 }) {
            let hint =
                line.hasPrefix("train.shards ") ? "; left out, train.shards is each machine's core count: set it" : ""
            throw RunError(
                "process \(job.rank) has \(line) where process 0 has \(theirs): every process must train the same config "
                    + "(only \(Self.perProcessKeys.sorted().joined(separator: ", ")) may differ)\(hint)")
        }
    }

    /// Keys a process may set for itself: how many threads it runs, where it finds the corpus
    /// (whose contents are compared instead) and the run folder's name.
    static let perProcessKeys: Set<String> = ["train.threads", "data.path", "run.dir", "run.name"]

    /// `section.key = value` for every other key of `config`, in `ConfigSchema`'s order.
    static func agreedKeys(_ config: TrainingConfig) -> [String] {
        ConfigSchema.keys.filter { !perProcessKeys.contains($0.path) }.map {
            "\($0.path) = \($0.read(config).map(\.description) ?? "unset")"
        }
    }

    /// Process 0's `text` on every process (two collectives: its length, then its bytes).
    private func broadcastTextFromFirst(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let count = Int(job.broadcastFromFirst([Double(bytes.count)])[0])
        let sent = (bytes + Array(repeating: 0, count: max(0, count - bytes.count))).prefix(count).map(Double.init)
        return String(decoding: job.broadcastFromFirst(Array(sent)).map { UInt8($0) }, as: UTF8.self)
    }

    /// The exchange's share of the run, for the last line: `gradient exchange 2.10 ms/step over 2000
    /// steps (4 shards of 0.12 MB gathered by each of 2 processes, including waits for the slowest)`.
    var summary: String {
        let perStep = steps > 0 ? exchangeSeconds / Double(steps) * 1000 : 0
        let megabytesPerShard = Double(gradients.buffer(of: 0).count * MemoryLayout<Float>.size) / 1e6
        return String(
            format:
                "gradient exchange %.2f ms/step over %d steps (%d shards of %.2f MB gathered by each of %d processes, "
                + "including waits for the slowest)", perStep, steps, shards, megabytesPerShard, job.processCount)
    }
}
