import Formats
import Foundation
import Training
import XCTest

/// The trainer's `mpirun` path (`Trainer(…, job:)`) inside one process: a job whose only process
/// holds every shard runs each shard's gradients and losses through the exchange buffers, the
/// shard-order sum and the numbers encoding of `ShardedLoss`. Its run must equal the ordinary
/// run bit for bit (the multi-process runs are checked by scripts/mpi_train_test.py).
final class DistributedStepTests: SmokeRunTestCase {
    func testOneProcessJobEqualsTheOrdinaryRun() throws {
        try assertOneProcessJobEqualsTheOrdinaryRun([])
    }

    /// QK-Clip reads every shard's per-head maxima through the numbers encoding.
    func testOneProcessJobEqualsTheOrdinaryRunWithQKClip() throws {
        try assertOneProcessJobEqualsTheOrdinaryRun(["model.qk_norm=off", "optim.qk_clip_tau=0.05"])
        let clipped = try MetricsReader.read(folder("job").metrics).compactMap { $0["qk_clip_heads"] as? [Int] }
        XCTAssertTrue(clipped.contains { $0.contains { $0 > 0 } }, "\(clipped)")
    }

    func assertOneProcessJobEqualsTheOrdinaryRun(_ overrides: [String]) throws {
        let config = try smokeConfig(
            [
                "train.shards=3", "train.max_steps=12", "optim.decay_steps=12", "train.log_interval=3",
                "train.eval_interval=6", "train.checkpoint_interval=6",
            ] + overrides)
        let ordinary = try train(config, in: "ordinary")
        let viaJob = folder("job")
        let trainer = try Trainer(config: config, folder: viaJob, configSource: "test", job: OneProcessJob())
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: viaJob.config.path), "nothing but the lock before run()")
        try trainer.checkSameStart()
        try trainer.run()
        XCTAssertEqual(try numbers(viaJob), try numbers(ordinary))
        XCTAssertEqual(try finalWeights(viaJob), try finalWeights(ordinary))
        XCTAssertTrue(try text(viaJob.info).contains("3 batch shards, 1 process (here)"))
    }
}

/// A job of one process that holds every shard: the exchange has nothing to gather.
final class OneProcessJob: TrainingJob {
    var rank: Int { 0 }
    var processCount: Int { 1 }
    var hosts: [String] { ["here"] }
    func gradientExchange(shards: Int, count: Int) throws -> any GradientExchange {
        LocalShards<Float>(shards: shards, count: count)
    }
    func numberExchange(shards: Int, count: Int) throws -> any ShardBuffers<Double> {
        LocalShards<Double>(shards: shards, count: count)
    }
    func broadcastFromFirst(_ values: [Double]) -> [Double] { values }
    func barrier() {}
}

/// Every shard's buffer in this process.
final class LocalShards<Number: BinaryFloatingPoint>: ShardBuffers {
    let count: Int
    var buffers: [[Number]]
    init(shards: Int, count: Int) {
        (self.count, buffers) = (count, Array(repeating: Array(repeating: 0, count: count), count: shards))
    }
    var localShards: Range<Int> { 0..<buffers.count }
    func withLocalBuffer<R>(of shard: Int, _ body: (UnsafeMutableBufferPointer<Number>) throws -> R) rethrows -> R {
        try buffers[shard].withUnsafeMutableBufferPointer { try body($0) }
    }
    func exchange() {}
    func buffer(of shard: Int) -> ArraySlice<Number> { buffers[shard][...] }
}

extension LocalShards: GradientExchange where Number == Float {
    func sumInShardOrder(into destination: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<count { destination[i] = buffers.dropFirst().reduce(buffers[0][i]) { $0 + $1[i] } }
    }
}
