import Formats
import Foundation
import Training
import XCTest

/// `train.shards` (docs/spec/cli.md, "Determinism and batch shards"): a run's numbers depend on its
/// shard count only; threads decide where shards run, so a resume on any thread count continues
/// bit for bit.
final class ShardsEndToEndTests: SmokeRunTestCase {
    /// 40 steps on 2 threads straight, against 10 + 10 + 10 + 10 resumed on 1, 2, 3 and 1 threads:
    /// every metrics number (loss, lr, gradient norms, attention-logit maxima, val loss) and the
    /// final weights are identical.
    func assertResumeOnAnyThreadCountIsBitIdentical(
        _ layout: [String], shards: Int?, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let common =
            layout + [
                "train.max_steps=40", "optim.decay_steps=40", "train.eval_interval=5", "train.checkpoint_interval=0",
            ]
            + (shards.map { ["train.shards=\($0)"] } ?? [])
        let straight = try train(try smokeConfig(common + ["train.threads=2"]), in: "straight")
        let pieces = try train(try smokeConfig(common + ["train.threads=1", "train.max_steps=10"]), in: "pieces")
        for (threads, maxSteps) in [(2, 20), (3, 30), (1, 40)] {
            try resume(pieces, ["train.threads=\(threads)", "train.max_steps=\(maxSteps)"])
        }
        let expected = try numbers(straight)
        // the bigram line (step 0), 40 steps, 8 evaluations
        XCTAssertEqual(expected.count, 1 + 40 + 8, file: file, line: line)
        XCTAssertEqual(
            try numbers(pieces), expected, "metrics differ after resumes on other thread counts", file: file, line: line
        )
        XCTAssertEqual(try finalWeights(pieces), try finalWeights(straight), file: file, line: line)
        let recorded = try state(pieces).config.train.shards
        XCTAssertEqual(recorded, shards ?? ProcessInfo.processInfo.activeProcessorCount, file: file, line: line)
        XCTAssertTrue(try text(pieces.config).contains("shards = \(recorded!)\n"), file: file, line: line)
    }

    func testQwen3LayoutOnThreeShards() throws {
        try assertResumeOnAnyThreadCountIsBitIdentical(["model.block_norm=pre", "model.qk_norm=head"], shards: 3)
    }

    func testOLMo2LayoutOnThreeShards() throws {
        try assertResumeOnAnyThreadCountIsBitIdentical(
            ["model.block_norm=post", "model.qk_norm=full", "model.tie_embeddings=false"], shards: 3)
    }

    /// The default: the machine's cores when the run starts, kept when it resumes on other threads.
    func testDefaultShardCountIsFixedAtTheStart() throws {
        try assertResumeOnAnyThreadCountIsBitIdentical(["model.qk_norm=head"], shards: nil)
    }

    /// One shard (BLAS's own threads, kernels split across threads), and more shards than the
    /// batch has rows (a batch of 2 uses 2), each on 1 and 3 threads.
    func testOneShardAndMoreShardsThanRows() throws {
        for (name, settings) in [("one", ["train.shards=1"]), ("many", ["train.shards=5", "train.batch_size=2"])] {
            let common = settings + ["train.max_steps=12", "train.eval_interval=6"]
            let a = try train(try smokeConfig(common + ["train.threads=1"]), in: "\(name)-1")
            let b = try train(try smokeConfig(common + ["train.threads=3"]), in: "\(name)-3")
            XCTAssertEqual(try numbers(a), try numbers(b), name)
            XCTAssertEqual(try finalWeights(a), try finalWeights(b), name)
        }
    }

    /// Step 1 (the same weights and batch) measured on one shard and on two: the telemetry agrees
    /// up to rounding (the shards' sums and maxima merge in shard order; the largest logit's pair
    /// is the same pair, the first in batch order).
    func testStepOneTelemetryAgreesAcrossShardCounts() throws {
        let lines = try [1, 2].map { shards in
            let folder = try train(
                try smokeConfig(["train.shards=\(shards)", "train.max_steps=1", "train.eval_interval=0"]),
                in: "step-one-\(shards)")
            return try XCTUnwrap(try MetricsReader.read(folder.metrics).first { $0["loss"] != nil })
        }
        for key in [
            "attn_logit_max", "attn_logit_max_cos", "attn_logit_max_q_norm", "attn_logit_max_k_norm", "q_rms", "k_rms",
            "block_output_rms", "attn_entropy",
        ] {
            let (one, two) = try (
                XCTUnwrap(lines[0][key] as? [NSNumber], key), XCTUnwrap(lines[1][key] as? [NSNumber], key)
            )
            XCTAssertEqual(one.count, 2, key)
            for (a, b) in zip(one.map(\.doubleValue), two.map(\.doubleValue)) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * abs(a), key)
            }
        }
    }

    /// Another shard count is another run: its weights differ (in the last bits at first).
    func testShardCountChangesTheNumbers() throws {
        let two = try train(
            try smokeConfig(["train.shards=2", "train.max_steps=3", "train.eval_interval=0"]), in: "two")
        let three = try train(
            try smokeConfig(["train.shards=3", "train.max_steps=3", "train.eval_interval=0"]), in: "three")
        XCTAssertNotEqual(try finalWeights(two), try finalWeights(three))
    }

    func testChangingShardsOnResumeIsRefused() throws {
        let run = try train(
            try smokeConfig(["train.shards=2", "train.max_steps=4", "train.eval_interval=0"]), in: "run")
        XCTAssertEqual(
            failure { try resume(run, ["train.shards=3", "train.max_steps=8"]) },
            "cannot resume with train.shards 2 → 3: the batch split into shards decides the run's numbers "
                + "(threads only decide where shards run); start a new run instead")
        try resume(run, ["train.shards=2", "train.threads=1", "train.max_steps=8"])  // the value it has: no change
        XCTAssertEqual(try state(run).step, 8)
        XCTAssertEqual(try state(run).config.train.shards, 2)
    }

    /// Checkpoints from before `train.shards` ran one shard per thread: they continue with their
    /// stored threads as the shard count; with threads = 0 the count is unknown, and the resume is
    /// refused until `--set train.shards` names it.
    func testCheckpointsFromBeforeShards() throws {
        let common = ["train.shards=2", "train.max_steps=16", "optim.decay_steps=16", "train.eval_interval=4"]
        let straight = try train(try smokeConfig(common + ["train.threads=2"]), in: "straight")
        func olderRun(_ name: String, threads: Int) throws -> RunFolder {
            let run = try train(try smokeConfig(common + ["train.threads=2", "train.max_steps=8"]), in: name)
            try editState(run) { state in
                var config = state["config"] as! [String: Any], train = config["train"] as! [String: Any]
                train["shards"] = nil
                train["threads"] = threads
                config["train"] = train
                state["config"] = config
                state["corpus"] = nil
                state["skippedInARow"] = nil
            }
            return run
        }
        let fromThreads = try olderRun("threads2", threads: 2)
        try resume(fromThreads, ["train.max_steps=16", "train.threads=1"])
        XCTAssertEqual(try numbers(fromThreads), try numbers(straight))
        XCTAssertEqual(try finalWeights(fromThreads), try finalWeights(straight))
        XCTAssertEqual(try state(fromThreads).config.train.shards, 2, "recorded from now on")
        XCTAssertTrue(
            try text(fromThreads.info).contains(
                "the checkpoint predates train.shards: its steps ran as 2 shards (its train.threads)"))
        XCTAssertEqual(
            failure { try resume(try olderRun("threads2b", threads: 2), ["train.shards=3"]) },
            "cannot resume with train.shards 2 → 3: the batch split into shards decides the run's numbers "
                + "(threads only decide where shards run); start a new run instead")

        let allCores = try olderRun("threads0", threads: 0)
        XCTAssertEqual(
            failure { try resume(allCores, ["train.max_steps=16"]) },
            "cannot resume \(allCores.url.path): its checkpoint predates train.shards and ran with train.threads = 0 (all cores), so the "
                + "shard count its numbers depend on is unknown; resume with --set train.shards=N, N the core count of the machine it ran on"
        )
        try resume(allCores, ["train.max_steps=16", "train.shards=2"])
        XCTAssertEqual(try finalWeights(allCores), try finalWeights(straight))
        XCTAssertTrue(try text(allCores.info).contains("its shard count is taken from --set train.shards=2"))
    }
}
