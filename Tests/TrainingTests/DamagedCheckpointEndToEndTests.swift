import Formats
import Foundation
@testable import Training
import XCTest

/// A damaged newest checkpoint is passed over for the newest intact one, with a note naming the
/// damaged file, whichever file of the checkpoint is damaged; only when none is intact is it an
/// error, naming every checkpoint tried (issue 35, item 2).
final class DamagedCheckpointEndToEndTests: SmokeRunTestCase {
    /// Checkpoints at steps 2 and 4, a validation loss at each.
    let overrides = [
        "train.max_steps=4", "train.checkpoint_interval=2", "train.keep_checkpoints=3", "train.eval_interval=2",
    ]

    /// Each way a file of the newest checkpoint is damaged: a flipped byte in the middle of each
    /// file the manifest lists, a truncated manifest, a deleted manifest.
    let damages: [(file: String, damage: (URL) throws -> Void)] = [
        ("model.safetensors", flipMiddleByte), ("optimizer.safetensors", flipMiddleByte),
        ("state.json", flipMiddleByte),
        (CheckpointManifest.fileName, { url in try Data(contentsOf: url).prefix(40).write(to: url) }),
        (CheckpointManifest.fileName, { url in try FileManager.default.removeItem(at: url) }),
    ]

    static func flipMiddleByte(_ url: URL) throws {
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: url)
    }

    /// Collects `Checkpoint.note`'s lines while `body` runs.
    func notes(_ body: () throws -> Void) rethrows -> [String] {
        var notes: [String] = []
        let saved = Checkpoint.note
        Checkpoint.note = { notes.append($0) }
        defer { Checkpoint.note = saved }
        try body()
        return notes
    }

    func testEachDamagedFileFallsBackToTheOlderCheckpoint() throws {
        let config = try smokeConfig(overrides)
        // What resuming from the older checkpoint by hand gives: the newest one removed first.
        let reference = try train(config, in: "reference")
        try FileManager.default.removeItem(at: reference.checkpoint(step: 4))
        try resume(reference)
        let (expectedNumbers, expectedWeights) = (try numbers(reference), try finalWeights(reference))

        for (index, (file, damage)) in damages.enumerated() {
            let run = try train(config, in: "run-\(index)")
            let damaged = run.checkpoint(step: 4).appendingPathComponent(file)
            try damage(damaged)
            let isFallbackNote = { (note: String) in  // names the file (a missing manifest: the folder and the file)
                note.contains(run.checkpoint(step: 4).path) && note.contains(file) && note.contains("damaged")
                    && note.hasSuffix("; using the older step-000002")
            }
            // sample, eval, logits and export-hf read state.json and the weights through TrainedModel.
            if file != "optimizer.safetensors" {
                var trained: TrainedModel?
                let loadNotes = try notes { trained = try TrainedModel(path: run.url.path) }
                XCTAssertEqual(trained?.checkpoint, run.checkpoint(step: 2), file)
                XCTAssertEqual(loadNotes.count, 1, "\(file): \(loadNotes)")
                XCTAssertTrue(loadNotes.allSatisfy(isFallbackNote), "\(file): \(loadNotes)")
            }
            let resumeNotes = try notes { try resume(run) }
            XCTAssertEqual(resumeNotes.count, 1, "\(file): \(resumeNotes)")
            XCTAssertTrue(resumeNotes.allSatisfy(isFallbackNote), "\(file): \(resumeNotes)")
            XCTAssertEqual(try numbers(run), expectedNumbers, "\(file): bit-identical to resuming step 2 by hand")
            XCTAssertEqual(try finalWeights(run), expectedWeights, file)
            XCTAssertEqual(run.latestCheckpoint(), run.checkpoint(step: 4), "the damaged checkpoint was written anew")
            XCTAssertTrue(
                FileManager.default.fileExists(
                    atPath: run.checkpoints.appendingPathComponent("damaged-step-000004").path))
            XCTAssertEqual(try notes { _ = try TrainedModel(path: run.url.path) }, [])
        }
    }

    func testNoIntactCheckpointIsAnErrorNamingEachTried() throws {
        let run = try train(try smokeConfig(overrides), in: "run")
        for step in [2, 4] {
            try Self.flipMiddleByte(run.checkpoint(step: step).appendingPathComponent("model.safetensors"))
        }
        for attempt in [{ _ = try TrainedModel(path: run.url.path) }, { try self.resume(run) }] {
            let message = failure(attempt)
            XCTAssertTrue(message.hasPrefix("no intact checkpoint in \(run.url.path); tried step-000004 ("), message)
            for step in [4, 2] {
                let model = run.checkpoint(step: step).appendingPathComponent("model.safetensors")
                XCTAssertTrue(message.contains("checkpoint file \(model.path) is damaged: its CRC32C is"), message)
            }
        }
    }

    /// A resumed run sets the damaged checkpoints it passed over aside (kept, but no longer a
    /// `step-*` folder), so that pruning does not count them and no reader tries them again,
    /// even when the resumed run does not write a checkpoint at their steps.
    func testAResumedRunSetsTheDamagedCheckpointAside() throws {
        let run = try train(
            try smokeConfig(["train.max_steps=6", "train.checkpoint_interval=2", "train.keep_checkpoints=3"]), in: "run"
        )
        let damaged = run.checkpoint(step: 6).appendingPathComponent("model.safetensors")
        try Self.flipMiddleByte(damaged)
        let damagedBytes = try Data(contentsOf: damaged)
        _ = try notes {
            try resume(run, ["train.max_steps=5", "train.checkpoint_interval=1", "train.keep_checkpoints=1"])
        }
        XCTAssertEqual(run.completeCheckpoints(), [run.checkpoint(step: 5)])
        let aside = run.checkpoints.appendingPathComponent("damaged-step-000006/model.safetensors")
        XCTAssertEqual(try Data(contentsOf: aside), damagedBytes, "kept as it was")
        XCTAssertTrue(
            try text(run.info).contains("the damaged step-000006 is kept as \(aside.deletingLastPathComponent().path)"))
        var trained: TrainedModel?
        XCTAssertEqual(try notes { trained = try TrainedModel(path: run.url.path) }, [])
        XCTAssertEqual(trained?.checkpoint, run.checkpoint(step: 5))
    }
}
