import Formats
import Foundation
import Training
import XCTest

/// Every `--set` on `--resume` is applied and said (resume line in run.txt, config.toml), or
/// refused with one line naming the reason (docs/resume-and-determinism.md); schedules that make no
/// sense are refused or warned about before step 1.
final class ResumeRulesEndToEndTests: SmokeRunTestCase {
    /// The smoke run at step 60 (warmup 10, lr 0.003, min_lr 0.0003 and decay_steps 60 fixed at the start).
    func finishedSmokeRun() throws -> RunFolder {
        try train(try smokeConfig(["train.eval_interval=0"]), in: "smoke")
    }

    /// The files a refused resume must leave alone.
    func snapshot(_ run: RunFolder) throws -> [Data] {
        try [run.config, run.metrics, run.latestCheckpoint()!.appendingPathComponent("state.json")].map {
            try Data(contentsOf: $0)
        }
    }

    /// Issue 14.3: a new lr when every remaining step is past decay_steps would change nothing.
    func testOverrideThatWouldChangeNothingIsRefused() throws {
        let run = try finishedSmokeRun()
        let before = try snapshot(run)
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=80", "optim.lr=1e-2"]) },
            "cannot resume with optim.lr 0.003 → 0.01: it would change nothing: steps 61–80 are past decay_steps = 60, where the rate is "
                + "min_lr = 0.0003; set optim.min_lr for another constant rate, or optim.decay_steps for a new cosine")
        XCTAssertEqual(try snapshot(run), before, "a refused resume changes no file")
        // The same kind: a new min_lr or decay_steps while every remaining step is in the warmup.
        let early = try train(
            try smokeConfig(["train.max_steps=2", "optim.decay_steps=60", "train.eval_interval=0"]), in: "early")
        XCTAssertEqual(
            failure { try resume(early, ["train.max_steps=8", "optim.min_lr=1e-3"]) },
            "cannot resume with optim.min_lr 0.0003 → 0.001: it would change nothing: steps 3–8 are all in the warmup (to step 10), "
                + "which neither min_lr nor decay_steps shape")
        // Any [optim] change on a run already at max_steps: no step would train with it.
        XCTAssertEqual(
            failure { try resume(run, ["optim.weight_decay=0"]) },
            "cannot resume with optim.weight_decay 0.1 → 0: the run is at train.max_steps (60) already, so no step would train with it; raise train.max_steps too"
        )
    }

    /// A new min_lr past decay_steps is applied: logged, written to config.toml and run.txt, and
    /// kept by the checkpoints after it (a later plain resume continues with it).
    func testNewMinimumRateIsAppliedVisibly() throws {
        let run = try finishedSmokeRun()
        try resume(run, ["train.max_steps=70", "optim.min_lr=1e-3"])
        let rates = try series(run, "lr")
        for step in 61...70 { XCTAssertEqual(rates[step], 1e-3, "step \(step)") }
        XCTAssertEqual(rates[60]!, 3e-4, accuracy: 1e-12)
        XCTAssertTrue(try text(run.config).contains("min_lr = 0.001\n"))
        XCTAssertTrue(
            try text(run.config).contains(
                "# learning rate: warmup 10 steps to 0.003, cosine to min_lr 0.001 at step 60, then constant"))
        let line =
            "resumed at step 60: train.max_steps 60 → 70, optim.min_lr 0.0003 → 0.001; learning rate 0.0003 at step 60, "
            + "then 0.001 at step 61 → 0.001 at step 70 (warmup 10 steps to 0.003, cosine to min_lr 0.001 at step 60, then constant)"
        XCTAssertTrue(try text(run.info).contains(line))
        XCTAssertTrue(try text(run.config).contains("# " + line))
        try resume(run, ["train.max_steps=75"])
        XCTAssertEqual(try series(run, "lr")[75], 1e-3, "the change lives in the run's checkpoints")
    }

    /// A new peak lr inside the cosine: the cosine continues at the same phase with the new peak,
    /// lr(s) = min + ½(1 + cos(π(s − W)/(D − W)))(lr − min), W = 10, D = 40, min = 0.0003.
    func testNewPeakContinuesTheCosine() throws {
        let run = try train(
            try smokeConfig(["train.max_steps=20", "optim.decay_steps=40", "train.eval_interval=0"]), in: "cosine")
        try resume(run, ["train.max_steps=40", "optim.lr=6e-3"])
        let rates = try series(run, "lr")
        func cosine(_ step: Int, peak: Double) -> Double {
            3e-4 + 0.5 * (1 + cos(Double.pi * Double(step - 10) / 30)) * (peak - 3e-4)
        }
        XCTAssertEqual(rates[20]!, cosine(20, peak: 3e-3), accuracy: 1e-15)
        for step in 21...40 { XCTAssertEqual(rates[step]!, cosine(step, peak: 6e-3), accuracy: 1e-15, "step \(step)") }
        XCTAssertTrue(try text(run.config).contains("\nlr = 0.006\n"))
        XCTAssertTrue(
            try text(run.info).contains(
                "optim.lr 0.003 → 0.006; learning rate 0.002325 at step 20, then 0.004309 at step 21 → 0.0003 at step 40"
            ))
    }

    /// Extending max_steps keeps the curve fixed at the start: the new steps train at min_lr.
    func testExtendingKeepsTheCurve() throws {
        let run = try finishedSmokeRun()
        try resume(run, ["train.max_steps=65"])
        for step in 61...65 { XCTAssertEqual(try series(run, "lr")[step]!, 3e-4, accuracy: 1e-15) }
        XCTAssertTrue(
            try text(run.info).contains(
                "resumed at step 60: train.max_steps 60 → 65; learning rate 0.0003 at step 60, then 0.0003 at step 61 → 0.0003 at step 65"
            ))
    }

    /// Issue 20.10: max_steps below the checkpoint's step is refused and leaves every file alone;
    /// equal to it trains nothing and succeeds.
    func testMaxStepsBelowTheCheckpointIsRefused() throws {
        let run = try finishedSmokeRun()
        let before = try snapshot(run)
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=30"]) },
            "cannot resume with train.max_steps 60 → 30: the checkpoint is at step 60 already; max_steps may not go below it"
        )
        XCTAssertEqual(try snapshot(run), before)
        XCTAssertTrue(try text(run.config).contains("max_steps = 60\n"))
        try resume(run)  // nothing left to train: a no-op
        XCTAssertEqual(try state(run).step, 60)
        // Shortening a longer run to its checkpoint's step ends it there.
        let long = try train(
            try smokeConfig(["train.max_steps=20", "optim.decay_steps=40", "train.eval_interval=0"]), in: "long")
        try resume(long, ["train.max_steps=30"])
        XCTAssertEqual(
            failure { try resume(long, ["train.max_steps=29"]) },
            "cannot resume with train.max_steps 30 → 29: the checkpoint is at step 30 already; max_steps may not go below it"
        )
    }

    /// Issue 20.11 and the rest of the fixed keys: each refused with its reason.
    func testFixedKeysAreRefused() throws {
        let run = try finishedSmokeRun()
        let windows =
            "it decides the fixed validation windows, so val_loss and best_val_loss before and after would measure different text; start a new run instead"
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=80", "train.eval_batches=8"]) },
            "cannot resume with train.eval_batches 4 → 8: \(windows)")
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=80", "train.batch_size=4"]) },
            "cannot resume with train.batch_size 8 → 4: \(windows)")
        XCTAssertEqual(
            failure { try resume(run, ["train.seed=1"]) },
            "cannot resume with train.seed 1337 → 1: the batch sampler continues from the checkpoint's state; start a new run instead"
        )
        XCTAssertEqual(
            failure { try resume(run, ["run.name=other"]) },
            "cannot resume with run.name \"\" → \"other\": run.name does nothing on --resume (the run stays in \(run.url.path))"
        )
        XCTAssertEqual(
            failure { try resume(run, ["model.z_loss=1e-4"]) },
            "cannot resume with a different [model] (model.z_loss 0 → 0.0001): the checkpoint's weights are that model's; start a new run instead"
        )
        XCTAssertEqual(
            failure { try resume(run, ["data.val_fraction=0.2"]) },
            "cannot resume with a different [data] section (data.val_fraction 0.1 → 0.2): the corpus and its split are the run's; start a new run instead"
        )
        // The values the run has already are no change, whatever the key.
        try resume(
            run,
            ["train.eval_batches=4", "train.batch_size=8", "train.seed=1337", "model.d_model=32", "train.max_steps=62"])
        XCTAssertEqual(try state(run).step, 62)
        XCTAssertTrue(try text(run.info).contains("resumed at step 60: train.max_steps 60 → 62;"))
    }

    /// Keys that change only where or how often things happen: applied from the next step and named.
    func testBookkeepingKeysAreApplied() throws {
        let run = try finishedSmokeRun()
        try resume(
            run,
            [
                "train.max_steps=70", "train.threads=1", "train.log_interval=5", "train.checkpoint_interval=4",
                "train.keep_checkpoints=5",
            ])
        XCTAssertEqual(try series(run, "loss").keys.filter { $0 > 60 }.sorted(), [65, 70])
        XCTAssertEqual(
            run.completeCheckpoints().map(\.lastPathComponent),
            ["step-000040", "step-000060", "step-000064", "step-000068", "step-000070"])
        XCTAssertTrue(
            try text(run.info).contains(
                "resumed at step 60: train.max_steps 60 → 70, train.threads 0 → 1, train.log_interval 1 → 5, "
                    + "train.checkpoint_interval 20 → 4, train.keep_checkpoints 2 → 5;"))
    }

    /// Schedules that make no sense: refused (decay_steps ≤ warmup_steps, min_lr > lr) before
    /// anything is written, on a new run and on resume; warmup ≥ max_steps is a warning.
    func testNonsenseSchedules() throws {
        let smoke = Self.repository.appendingPathComponent("configs/smoke.toml")
        let decay =
            "[optim] decay_steps (10) must be greater than warmup_steps (10): the cosine would have no step and the rate would drop from lr to min_lr at once; set optim.decay_steps above it"
        XCTAssertEqual(
            failure { _ = try ConfigLoader.load(smoke, overrides: ["optim.decay_steps=10"]) },
            "\(smoke.path) with --set optim.decay_steps=10: \(decay)")
        XCTAssertTrue(
            failure { _ = try ConfigLoader.load(smoke, overrides: ["optim.decay_steps=5"]) }.hasPrefix(
                "\(smoke.path) with --set optim.decay_steps=5: [optim] decay_steps (5) must be greater"))
        XCTAssertEqual(
            failure { _ = try ConfigLoader.load(smoke, overrides: ["optim.min_lr=0.01"]) },
            "\(smoke.path) with --set optim.min_lr=0.01: [optim] min_lr (0.01) must not exceed lr (0.003)")
        XCTAssertNoThrow(try ConfigLoader.load(smoke, overrides: ["optim.decay_steps=5", "optim.warmup_steps=0"]))
        var config = try smokeConfig()
        config.optim.decaySteps = 3
        XCTAssertTrue(
            failure { _ = try Trainer(config: config, folder: folder("bad"), configSource: "test") }.hasPrefix(
                "[optim] decay_steps (3) must be greater"))
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: folder("bad").url.path), "refused before the folder is made")

        XCTAssertEqual(
            ConfigLoader.scheduleWarnings(try smokeConfig(["train.max_steps=5"])),
            [
                "warning: optim.warmup_steps (10) ≥ train.max_steps (5): the learning rate never reaches its peak 0.003 (step 5 trains at 0.0015)"
            ])
        XCTAssertEqual(ConfigLoader.scheduleWarnings(try smokeConfig()), [])
        let short = try train(try smokeConfig(["train.max_steps=5", "train.eval_interval=0"]), in: "short")
        XCTAssertTrue(try text(short.info).contains("warning: optim.warmup_steps (10) ≥ train.max_steps (5)"))
        // Its resolved config.toml (decay_steps = 5 written out) loads as a config again: a run
        // that ends within its warmup never reaches the drop. Resumed past the warmup, it would.
        XCTAssertTrue(try text(short.config).contains("decay_steps = 5"))
        XCTAssertNoThrow(try ConfigLoader.load(short.config))
        XCTAssertEqual(
            failure { try resume(short, ["train.max_steps=80"]) },
            "[optim] decay_steps (5) must be greater than warmup_steps (10): the cosine would have no step and the rate would drop from lr to min_lr at once; set optim.decay_steps above it"
        )
        try resume(short, ["train.max_steps=80", "optim.decay_steps=80"])

        let run = try finishedSmokeRun()
        XCTAssertEqual(failure { try resume(run, ["train.max_steps=80", "optim.decay_steps=10"]) }, decay)
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=80", "optim.lr=2e-4"]) },
            "[optim] min_lr (0.0003) must not exceed lr (0.0002)")
        // A decay_steps past the end of a warmup that outlasts the run changes nothing (said so).
        XCTAssertTrue(
            failure { try resume(run, ["train.max_steps=80", "optim.warmup_steps=100", "optim.decay_steps=200"]) }
                .hasPrefix("cannot resume with optim.decay_steps 60 → 200: it would change nothing"))
        try resume(run, ["train.max_steps=80", "optim.warmup_steps=100"])
        XCTAssertTrue(try text(run.info).contains("warning: optim.warmup_steps (100) ≥ train.max_steps (80)"))
    }
}
