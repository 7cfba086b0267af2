import Formats
import Foundation
import TestSupport
import Training
import XCTest

/// End-to-end runs of the trainer on the shipped smoke corpus (seconds each).
final class TrainerEndToEndTests: ScratchTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The smoke config with the corpus path made absolute, plus `overrides`.
    func smokeConfig(_ overrides: [String] = []) throws -> TrainingConfig {
        var config = try ConfigLoader.load(
            Self.repository.appendingPathComponent("configs/smoke.toml"), overrides: overrides)
        config.data.path = Self.repository.appendingPathComponent("data/smoke.txt").path
        return config
    }

    func train(_ config: TrainingConfig, in name: String) throws -> RunFolder {
        let folder = RunFolder(scratch.appendingPathComponent(name))
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        return folder
    }

    func resume(_ folder: RunFolder, _ overrides: [String]) throws {
        let trainer = try Trainer(resuming: folder, overrides: overrides)
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
    }

    /// `step → loss` of every training line.
    func losses(_ folder: RunFolder) throws -> [Int: Double] {
        var result: [Int: Double] = [:]
        for line in try MetricsReader.read(folder.metrics) where line["loss"] != nil {
            result[line["step"] as! Int] = (line["loss"] as? NSNumber)?.doubleValue ?? .nan
        }
        return result
    }

    func finalWeights(_ folder: RunFolder) throws -> [NamedTensor] {
        try SafeTensors.read(folder.latestCheckpoint()!.appendingPathComponent("model.safetensors")).tensors
    }

    /// 40 steps straight vs 20 + resume 20: identical loss at every step and identical weights.
    func assertResumeIsBitIdentical(_ layout: [String]) throws {
        let common = layout + ["train.max_steps=40", "optim.decay_steps=40", "train.eval_interval=10"]
        let straight = try train(try smokeConfig(common), in: "straight")
        let interrupted = try train(try smokeConfig(common + ["train.max_steps=20"]), in: "interrupted")
        try resume(interrupted, ["train.max_steps=40"])
        let a = try losses(straight), b = try losses(interrupted)
        XCTAssertEqual(a.count, 40)
        XCTAssertEqual(a, b, "losses differ after resume")
        XCTAssertEqual(try finalWeights(straight), try finalWeights(interrupted))
        let valLines = try MetricsReader.read(interrupted.metrics).filter { $0["val_loss"] != nil }
        XCTAssertEqual(valLines.map { $0["step"] as! Int }, [10, 20, 30, 40], "no duplicate lines after resume")
    }

    func testResumeIsBitIdenticalQwen3Layout() throws {
        try assertResumeIsBitIdentical(["model.block_norm=pre", "model.qk_norm=head"])
    }

    func testResumeIsBitIdenticalOLMo2Layout() throws {
        try assertResumeIsBitIdentical(["model.block_norm=post", "model.qk_norm=full", "model.tie_embeddings=false"])
    }

    /// Both soft-caps and sliding-window layers with their own RoPE base (layer 0 local, 1 global).
    func testResumeIsBitIdenticalWithSoftcapsAndSlidingWindows() throws {
        try assertResumeIsBitIdentical([
            "model.attn_softcap=5", "model.final_softcap=10", "model.sliding_window=8", "model.global_every=2",
            "model.rope_local_theta=1000",
        ])
    }

    /// Muon's momentum buffers and its AdamW's moments are checkpointed.
    func testResumeIsBitIdenticalWithMuon() throws {
        try assertResumeIsBitIdentical(["optim.name=muon", "optim.lr=0.02", "optim.adamw_lr=3e-3"])
        let optimizer = try SafeTensors.read(
            RunFolder(scratch.appendingPathComponent("straight")).latestCheckpoint()!
                .appendingPathComponent("optimizer.safetensors")
        ).tensors.map(\.name)
        XCTAssertTrue(optimizer.contains("model.layers.0.self_attn.q_proj.weight.momentum_buffer"))
        XCTAssertTrue(optimizer.contains("model.embed_tokens.weight.exp_avg"))
        XCTAssertFalse(optimizer.contains("model.layers.0.self_attn.q_proj.weight.exp_avg"))
    }

    /// QK-Clip keeps no state beyond the weights; τ low enough to clip from the first steps.
    func testResumeIsBitIdenticalWithQKClip() throws {
        try assertResumeIsBitIdentical(["model.qk_norm=off", "optim.qk_clip_tau=0.05"])
        let lines = try MetricsReader.read(RunFolder(scratch.appendingPathComponent("interrupted")).metrics)
        let clipped = lines.compactMap { $0["qk_clip_heads"] as? [Int] }
        XCTAssertEqual(clipped.count, 40)
        XCTAssertTrue(clipped.suffix(20).contains { $0.contains { $0 > 0 } }, "\(clipped)")
    }

    /// The switches of Wortsman et al. 2023's instruments: the fan-in initialisation, a fixed QK
    /// gain, µParam (simple) with the options of µParam (full).
    func testResumeIsBitIdenticalWortsmanSwitches() throws {
        try assertResumeIsBitIdentical([
            "model.init=fan_in", "model.tie_embeddings=false", "model.mlp=gelu", "model.qk_norm_gain=30",
            "optim.mup_base_width=16", "model.attention_scale=inverse_head_dim", "model.zero_init_query=true",
            "model.head_init_base_width=16",
        ])
        let config = try String(
            contentsOf: RunFolder(scratch.appendingPathComponent("straight")).config, encoding: .utf8)
        XCTAssertTrue(config.contains("qk_norm_gain = 30.0"), config)
        XCTAssertTrue(config.contains("init = \"fan_in\""), config)
        XCTAssertTrue(config.contains("mup_base_width = 16"), config)
    }

    func testRunFolderContents() throws {
        let folder = try train(
            try smokeConfig(["train.max_steps=20", "train.checkpoint_interval=5", "train.keep_checkpoints=2"]),
            in: "run")
        XCTAssertEqual(folder.completeCheckpoints().map(\.lastPathComponent), ["step-000015", "step-000020"])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder.latest.path), "step-000020")
        let resolved = try String(contentsOf: folder.config, encoding: .utf8)
        XCTAssertTrue(resolved.contains("max_steps = 20"))
        XCTAssertTrue(try String(contentsOf: folder.info, encoding: .utf8).contains("OpenBLAS"))
        let lines = try MetricsReader.read(folder.metrics)
        XCTAssertNotNil(lines.first?["bigram_loss"], "the run's baseline comes first, as step 0")
        let first = try XCTUnwrap(lines.first { $0["loss"] != nil })
        for key in [
            "step", "loss", "lr", "grad_norm", "grad_norm_layers", "attn_logit_max", "tokens_per_s", "elapsed_s",
        ] {
            XCTAssertNotNil(first[key], key)
        }
        XCTAssertEqual((first["attn_logit_max"] as! [Any]).count, 2)
        // TensorBoard: every record's CRCs check out, and the scalars are there.
        let events = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).filter {
            $0.hasPrefix("events.out.tfevents.")
        }
        XCTAssertEqual(events.count, 1)
        let records = try TensorBoardReader.read(folder.url.appendingPathComponent(events[0]))
        XCTAssertEqual(records.first?.fileVersion, "brain.Event:2")
        XCTAssertEqual(records.filter { $0.scalars["loss"] != nil }.count, 20)
        XCTAssertNotNil(records.last?.scalars["val_loss"])
        // A second run in the same folder is refused; sample and eval work on it.
        XCTAssertThrowsError(try Trainer(config: try smokeConfig(), folder: folder, configSource: "test")) {
            XCTAssertTrue("\($0)".contains("already holds a run"), "\($0)")
        }
        let trained = try TrainedModel(path: folder.url.path)
        XCTAssertEqual(
            try trained.validationLoss(), lines.last { $0["val_loss"] != nil }!["val_loss"] as! Double, accuracy: 1e-6)
        var options = GenerationOptions()
        options.temperature = 0
        options.tokens = 20
        let prompt = try trained.tokenizer.encode("In the")
        let greedy = Generation.generate(model: trained.model, prompt: prompt, options: options)
        XCTAssertEqual(greedy.count, 20)
        XCTAssertEqual(greedy, Generation.generate(model: trained.model, prompt: prompt, options: options))
    }

    func testNonFiniteStop() throws {
        // An absurd learning rate blows the weights up after one update.
        let config = try smokeConfig(["optim.lr=1e30", "optim.warmup_steps=0", "optim.grad_clip=0"])
        XCTAssertThrowsError(try train(config, in: "nan")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("step "), message)
            XCTAssertTrue(message.contains("non-finite"), message)
            XCTAssertTrue(message.contains("nonfinite.json"), message)
        }
        let folder = RunFolder(scratch.appendingPathComponent("nan"))
        XCTAssertTrue(folder.completeCheckpoints().isEmpty, "nothing non-finite is saved")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.nonFiniteReport)) as! [String: Any]
        XCTAssertFalse((report["steps"] as! [Any]).isEmpty)
        let last = try MetricsReader.read(folder.metrics).last!
        XCTAssertTrue(last["loss"] is NSNull || last["grad_norm"] is NSNull)
    }

    func testNonFiniteSkip() throws {
        let config = try smokeConfig([
            "optim.lr=1e30", "optim.warmup_steps=0", "optim.grad_clip=0", "train.on_nonfinite=skip",
            "train.max_steps=10", "train.eval_interval=0",
        ])
        let folder = try train(config, in: "skip")
        let lines = try MetricsReader.read(folder.metrics)
        let skipped = lines.compactMap { $0["skipped_steps"] as? Int }.max() ?? 0
        XCTAssertGreaterThan(skipped, 0)
        XCTAssertEqual(lines.filter { $0["loss"] != nil }.count, 10)
        XCTAssertEqual(
            folder.latestCheckpoint()?.lastPathComponent, "step-000010",
            "the final checkpoint is written even after skipped steps")
    }

    func testResumeErrors() throws {
        let empty = RunFolder(scratch.appendingPathComponent("empty"))
        try FileManager.default.createDirectory(at: empty.url, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.metrics.path, contents: Data()))
        XCTAssertThrowsError(try Trainer(resuming: empty)) {
            XCTAssertEqual(
                "\($0)", "cannot resume \(empty.url.path): it has no complete checkpoint (it holds: metrics.jsonl)")
        }
        let folder = try train(try smokeConfig(["train.max_steps=5", "train.eval_interval=0"]), in: "done")
        XCTAssertThrowsError(try Trainer(resuming: folder, overrides: ["model.d_model=64"])) {
            XCTAssertTrue("\($0)".contains("different [model]"), "\($0)")
        }
    }

    func testSecondProcessIsLockedOut() throws {
        let folder = RunFolder(scratch.appendingPathComponent("locked"))
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        let lock = try RunLock(folder: folder)
        // The test process itself holds it; a lock naming a live other process (pid 1) refuses.
        lock.release()
        try "1\n".write(to: folder.lock, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunLock(folder: folder)) {
            XCTAssertTrue("\($0)".contains("in use by process 1"), "\($0)")
        }
        XCTAssertEqual(
            try String(contentsOf: folder.lock, encoding: .utf8), "1\n", "the refused claim leaves the owner's lock")
        // A stale lock (no such process) is taken over, and held against a second claim, even
        // from this process.
        try "999999999\n".write(to: folder.lock, atomically: true, encoding: .utf8)
        let taken = try RunLock(folder: folder)
        XCTAssertEqual(try String(contentsOf: folder.lock, encoding: .utf8), RunFolder.lockText(pid: getpid()))
        XCTAssertThrowsError(try RunLock(folder: folder)) {
            XCTAssertTrue("\($0)".contains("in use by process \(getpid())"), "\($0)")
        }
        taken.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.lock.path))
    }

    /// A process killed while claiming leaves its claim file (`lock.claim-PID-XXXXXX`, written
    /// before it becomes the lock, so a `lock` is never left empty): a new run in that folder is
    /// not refused for it, and the next claim removes it — but not the claim file of a live process.
    func testClaimFileOfAKilledProcessIsCleanedUp() throws {
        let folder = RunFolder(scratch.appendingPathComponent("killed-claim"))
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        let left = folder.url.appendingPathComponent("lock.claim-999999999-Ab12Cd")
        let live = folder.url.appendingPathComponent("lock.claim-1-Ab12Cd")
        try RunFolder.lockText(pid: 999_999_999).write(to: left, atomically: false, encoding: .utf8)
        try RunFolder.lockText(pid: 1).write(to: live, atomically: false, encoding: .utf8)
        XCTAssertNoThrow(try folder.createForNewRun(), "claim files are QKLab's own")
        let lock = try RunLock(folder: folder)
        XCTAssertEqual(try String(contentsOf: folder.lock, encoding: .utf8), RunFolder.lockText(pid: getpid()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: left.path), "the killed process's claim file")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "a live process's claim file stays")
        lock.release()
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder.url.path), [live.lastPathComponent],
            "no lock and no claim file of this process left")
        XCTAssertNil(RunFolder.claimFileOwner("lock.claim-12-abc"), "not a claim file's name")
        XCTAssertEqual(RunFolder.claimFileOwner("lock.claim-12-abcdef"), 12)
    }

    /// Claims racing for a folder whose lock is stale: exactly one gets it (each claim opens the
    /// file on its own, so their `flock`s exclude each other as separate processes' would).
    func testRacingClaimsOnAStaleLockGetItOnce() throws {
        let folder = RunFolder(scratch.appendingPathComponent("race"))
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        for round in 0..<20 {
            try RunFolder.lockText(pid: 999_999_999).write(to: folder.lock, atomically: true, encoding: .utf8)
            let claims = NSLock()
            var held: [RunLock] = [], refusals: [String] = []
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                let result = Result { try RunLock(folder: folder) }
                claims.lock()
                switch result {
                case .success(let lock): held.append(lock)
                case .failure(let error): refusals.append("\(error)")
                }
                claims.unlock()
            }
            XCTAssertEqual(held.count, 1, "round \(round): \(refusals)")
            XCTAssertTrue(refusals.allSatisfy { $0.contains("in use by process \(getpid())") }, "\(refusals)")
            held.forEach { $0.release() }
        }
    }

    /// Someone's file named `lock` (not a pid, not QKLab's mark) or a folder of that name is never
    /// removed: claiming the run folder is refused in one line, and the file keeps its text.
    func testForeignLockFileIsRefusedAndKept() throws {
        let folder = RunFolder(scratch.appendingPathComponent("foreign-lock"))
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        for bytes in [
            Data("my important lock notes\n".utf8), Data("999999999\nsomething else\n".utf8), Data([0xFF, 0xFE]),
        ] {
            try bytes.write(to: folder.lock)
            XCTAssertThrowsError(try RunLock(folder: folder)) {
                XCTAssertTrue("\($0)".contains("is not a QKLab lock file"), "\($0)")
                XCTAssertFalse("\($0)".contains("\n"), "one line: \($0)")
            }
            XCTAssertEqual(try Data(contentsOf: folder.lock), bytes)
        }
        // An empty file is someone's too (QKLab's claims never leave one: a claim that fails
        // removes the file it created).
        try Data().write(to: folder.lock)
        XCTAssertThrowsError(try RunLock(folder: folder)) {
            XCTAssertTrue("\($0)".contains("stays empty and unlocked"), "\($0)")
        }
        XCTAssertEqual(try Data(contentsOf: folder.lock), Data())
        try FileManager.default.removeItem(at: folder.lock)
        try FileManager.default.createDirectory(
            at: folder.lock.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try RunLock(folder: folder)) {
            XCTAssertTrue("\($0)".contains("cannot open lock file \(folder.lock.path): Is a directory"), "\($0)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.lock.appendingPathComponent("inside").path))
    }

    /// A checkpoint write that fails (files larger than RLIMIT_FSIZE fail with EFBIG, as on a
    /// full disk) leaves the previous checkpoint and `latest` intact; "stop" stops with a clear
    /// message, "continue" keeps training; the run resumes afterwards.
    func testFailedCheckpointWriteKeepsThePreviousOne() throws {
        let folder = try train(
            try smokeConfig(["train.max_steps=10", "optim.decay_steps=30", "train.eval_interval=0"]), in: "disk")
        XCTAssertEqual(folder.latestCheckpoint()?.lastPathComponent, "step-000010")
        // model.safetensors of the smoke model is ~100 KB: a 64 KB limit makes every checkpoint fail.
        XCTAssertThrowsError(
            try withFileSizeLimit(64 * 1024) {
                try resume(folder, ["train.max_steps=20", "train.checkpoint_interval=5"])
            }
        ) {
            XCTAssertTrue("\($0)".contains("could not write checkpoint"), "\($0)")
            XCTAssertTrue("\($0)".contains("previous checkpoint is intact"), "\($0)")
        }
        XCTAssertEqual(folder.completeCheckpoints().map(\.lastPathComponent), ["step-000010"])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder.latest.path), "step-000010")
        // "continue": periodic failures are reported, training reaches the end, whose checkpoint
        // (written without the limit here) completes the run.
        try withFileSizeLimit(64 * 1024) {
            let trainer = try Trainer(
                resuming: folder,
                overrides: ["train.max_steps=20", "train.checkpoint_interval=5", "train.on_checkpoint_error=continue"])
            trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
            XCTAssertThrowsError(try trainer.run())  // the final checkpoint fails too
        }
        XCTAssertEqual(folder.latestCheckpoint()?.lastPathComponent, "step-000010")
        try resume(folder, ["train.max_steps=20"])
        XCTAssertEqual(folder.latestCheckpoint()?.lastPathComponent, "step-000020")
        XCTAssertEqual(try losses(folder).count, 20)
    }
}
