import Dispatch
import Formats
import Foundation
import Training

/// What the stability telemetry costs a real run: `Trainer` runs that differ only in
/// `train.log_interval` (10: every tenth step measured and logged; 1000: only step 1 and the
/// last), trained alternately — the order swapped every round, so that a machine getting slower
/// or faster does not favour one — on a synthetic corpus with evaluation off. The time compared
/// is each run's `elapsed_s` at its last step (training only: not the setup, not the final
/// checkpoint), after one uncounted warm-up run.
enum TelemetryCost {
    /// Runs `rounds` rounds of the two runs of `size` for `steps` steps each and prints every
    /// round's times and ratio, then the median ratio, its range, and the cost of one measured
    /// step relative to an unmeasured one (which makes `log_interval = 10` cost a tenth of it).
    /// `tokens` is the corpus (ids below 65), `shards` the batch shards per step.
    static func measure(_ size: Size, rounds: Int, steps: Int, tokens: [Int32], shards: Int) throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-bench-telemetry-\(getpid())")
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let corpus = work.appendingPathComponent("corpus.txt")
        try String(tokens.map { Character(UnicodeScalar(UInt8(33 + $0))) }).write(
            to: corpus, atomically: true, encoding: .utf8)
        let measured = (every10: loggedSteps(steps, interval: 10), every1000: loggedSteps(steps, interval: 1000))
        print("  \(size.name): \(steps) steps; logged (measured) steps: \(measured.every10) vs \(measured.every1000)")
        // Warm-up, not counted: the first run of a process fills the buffer pool and the caches.
        _ = try trainingSeconds(
            size, steps: min(steps, 20), logInterval: 10, corpus: corpus, shards: shards,
            folder: work.appendingPathComponent("warm-up"))
        var ratios: [Double] = []
        for round in 1...rounds {
            var seconds: [Int: Double] = [:]
            for interval in round % 2 == 1 ? [10, 1000] : [1000, 10] {
                seconds[interval] = try trainingSeconds(
                    size, steps: steps, logInterval: interval, corpus: corpus, shards: shards,
                    folder: work.appendingPathComponent("round\(round)-log\(interval)"))
            }
            let ratio = seconds[10]! / seconds[1000]!
            ratios.append(ratio)
            print(
                String(
                    format: "    round %d: log 10 %.2f s, log 1000 %.2f s, ratio %.4f", round, seconds[10]!,
                    seconds[1000]!, ratio))
        }
        ratios.sort()
        let median = quantile(ratios, 0.5)
        // time(10) / time(1000) = (steps + c·m10) / (steps + c·m1000), with c the extra cost of
        // a measured step relative to an unmeasured one: c = steps·(r − 1) / (m10 − r·m1000).
        let extra = Double(steps) * (median - 1) / (Double(measured.every10) - median * Double(measured.every1000))
        print(
            String(
                format:
                    "  %@ ratio log 10 / log 1000: median %.4f (range %.4f–%.4f over %d rounds); a measured step costs %+.1f%% of a step, so logging every 10 steps costs %+.2f%%",
                size.name, median, ratios.first!, ratios.last!, rounds, 100 * extra, 10 * extra))
    }

    /// Step by step, on the model alone (no run folder): a measured and an unmeasured step,
    /// alternately (the order swapped every pair), `pairs` times; prints the median and quartiles
    /// of the pairs' time ratios. Each pair's two steps run within seconds of each other, so a
    /// machine whose load changes disturbs this much less than whole runs; it leaves out what a
    /// logged step writes (one metrics line, one TensorBoard record).
    static func pairedSteps(_ size: Size, pairs: Int, tokens: [Int32], shards: Int) throws {
        let harness = try TrainingHarness(size, qkNorm: .head, corpus: tokens, shards: shards)
        for measuring in [true, false, true] { harness.step(measuring: measuring) }  // warm-up
        var ratios: [Double] = []
        for pair in 0..<pairs {
            var nanoseconds: [Bool: Double] = [:]
            for measuring in pair % 2 == 0 ? [true, false] : [false, true] {
                let t0 = DispatchTime.now().uptimeNanoseconds
                harness.step(measuring: measuring)
                nanoseconds[measuring] = Double(DispatchTime.now().uptimeNanoseconds - t0)
            }
            ratios.append(nanoseconds[true]! / nanoseconds[false]!)
        }
        ratios.sort()
        let median = quantile(ratios, 0.5)
        print(
            String(
                format:
                    "  %@ step by step (%d pairs, qk_norm head): a measured step takes %.4f× an unmeasured one (median; quartiles %.4f–%.4f), so logging every 10 steps costs %+.2f%%",
                size.name, pairs, median, quantile(ratios, 0.25), quantile(ratios, 0.75), 10 * (median - 1)))
    }

    /// Steps `qklab train` logs (and measures) out of `steps`: step 1, every `interval`-th, the last.
    static func loggedSteps(_ steps: Int, interval: Int) -> Int {
        (1...steps).filter { $0 == 1 || $0 % interval == 0 || $0 == steps }.count
    }

    /// Trains a new run of `size` in `folder` and returns its `elapsed_s` at the last step.
    static func trainingSeconds(_ size: Size, steps: Int, logInterval: Int, corpus: URL, shards: Int, folder: URL)
        throws -> Double
    {
        var config = TrainingConfig()
        (config.model.dModel, config.model.nLayer, config.model.nHead, config.model.blockSize) = (
            size.d, size.layers, size.heads, size.t
        )
        config.data.path = corpus.path
        (config.optim.warmupSteps, config.optim.beta2) = (min(100, steps / 2), 0.99)
        (config.train.batchSize, config.train.maxSteps, config.train.logInterval) = (size.b, steps, logInterval)
        (config.train.evalInterval, config.train.checkpointInterval, config.train.keepCheckpoints) = (0, 0, 1)
        config.train.shards = shards
        let trainer = try Trainer(
            config: config, folder: RunFolder(folder), configSource: "qklab-bench --telemetry-cost")
        trainer.progress = ConsoleProgress(quiet: true)
        try trainer.run()
        return try lastElapsedSeconds(RunFolder(folder).metrics)
    }

    /// `elapsed_s` of the last line of a metrics.jsonl.
    static func lastElapsedSeconds(_ metrics: URL) throws -> Double {
        let lines = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n")
        guard let last = lines.last,
            let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
            let seconds = (object["elapsed_s"] as? NSNumber)?.doubleValue
        else {
            throw RunError("\(metrics.path): its last line has no elapsed_s")
        }
        return seconds
    }
}
