import Formats
import Foundation
import TestSupport
@testable import Training
import XCTest

/// What QKLab writes and reads in a run folder, and what happens when that goes wrong:
/// checkpoint checksums (issue 14, item 10), I/O failures as one line with no torn metrics line
/// (item 7), never writing over someone's files (item 8), TensorBoard equal to metrics.jsonl
/// after a resume (issue 20, item 9), and reading a run that is still training (item 12).
final class RunFilesEndToEndTests: ScratchTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The smoke config (corpus path made absolute) with `overrides`.
    static func smokeConfig(_ overrides: [String] = []) throws -> TrainingConfig {
        var config = try ConfigLoader.load(
            repository.appendingPathComponent("configs/smoke.toml"), overrides: overrides)
        config.data.path = repository.appendingPathComponent("data/smoke.txt").path
        return config
    }

    /// A new smoke run in `url`, trained quietly.
    @discardableResult
    static func train(in url: URL, _ overrides: [String]) throws -> RunFolder {
        let folder = RunFolder(url)
        let trainer = try Trainer(config: try smokeConfig(overrides), folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        return folder
    }

    static func resume(_ folder: RunFolder, _ overrides: [String] = []) throws {
        let trainer = try Trainer(resuming: folder, overrides: overrides)
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
    }

    /// Rewrites a checkpoint's model.safetensors without the metadata that says a manifest was
    /// written, as an older QKLab wrote it.
    static func removeManifestMark(in checkpoint: URL) throws {
        let url = checkpoint.appendingPathComponent("model.safetensors")
        let (tensors, metadata) = try SafeTensors.read(url)
        try SafeTensors.write(tensors, metadata: metadata.filter { $0.key != "manifest" }, to: url)
    }

    func assertOneLine(
        _ error: Error, naming path: String, _ fragments: [String] = [], file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let message = "\(error)"
        XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
        XCTAssertFalse(message.contains("Error Domain"), message, file: file, line: line)
        XCTAssertTrue(message.contains(path), "\"\(message)\" names \(path)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", file: file, line: line)
        }
    }

    // MARK: - Checksums (issue 14, item 10)

    func testEveryCheckpointHasAManifestOfItsFiles() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("run"),
            ["train.max_steps=4", "train.checkpoint_interval=2", "train.eval_interval=0"])
        for checkpoint in folder.completeCheckpoints() {
            let manifest = try JSONDecoder().decode(
                CheckpointManifest.self, from: Data(contentsOf: checkpoint.appendingPathComponent("manifest.json")))
            XCTAssertEqual(Set(manifest.files.keys), Set(RunFolder.checkpointFiles))
            for (name, entry) in manifest.files {
                let data = try Data(contentsOf: checkpoint.appendingPathComponent(name))
                XCTAssertEqual(entry.bytes, data.count)
                XCTAssertEqual(UInt32(entry.crc32c, radix: 16), crc32c(data), name)
            }
        }
    }

    /// Flips inside model.safetensors' tensor data (not its header), in optimizer.safetensors and
    /// in a digit of state.json; truncations and appended bytes: every damaged copy is refused
    /// by load (eval, sample, export read through TrainedModel) and resume, naming the file.
    func testDamageAnywhereInACheckpointIsNamed() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("run"), ["train.max_steps=2", "train.eval_interval=0"])
        let checkpoint = try XCTUnwrap(folder.latestCheckpoint())
        for name in RunFolder.checkpointFiles {
            let url = checkpoint.appendingPathComponent(name)
            let valid = try Data(contentsOf: url)
            let headerEnd =
                name.hasSuffix(".safetensors")
                ? 8 + Int(valid.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) : 0
            var damaged: [Data] = [
                valid.prefix(valid.count - 1), valid + Data([0x20]),
                valid.prefix(headerEnd + (valid.count - headerEnd) / 2),
            ]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<24 {
                var copy = valid
                let position = Int.random(in: headerEnd..<valid.count, using: &generator)
                copy[position] ^= UInt8.random(in: 1...255, using: &generator)
                damaged.append(copy)
            }
            if name == "state.json" {  // a number changed, still valid JSON: only the checksum sees it
                let text = String(decoding: valid, as: UTF8.self)
                damaged.append(Data(text.replacingOccurrences(of: "\"step\" : 2", with: "\"step\" : 1").utf8))
            }
            for copy in damaged {
                try copy.write(to: url)
                if name != "optimizer.safetensors" {
                    XCTAssertThrowsError(try TrainedModel(path: folder.url.path)) {
                        self.assertOneLine($0, naming: url.path, ["is damaged"])
                    }
                }
                XCTAssertThrowsError(try Trainer(resuming: folder)) {
                    self.assertOneLine($0, naming: url.path, ["is damaged"])
                }
            }
            try valid.write(to: url)
        }
        XCTAssertNoThrow(try TrainedModel(path: folder.url.path))
        // The exact message.
        let modelURL = checkpoint.appendingPathComponent("model.safetensors")
        let valid = try Data(contentsOf: modelURL)
        try valid.prefix(100).write(to: modelURL)
        XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
            XCTAssertEqual(
                "\($0)", "checkpoint file \(modelURL.path) is damaged: 100 bytes, its manifest.json says \(valid.count)"
            )
        }
        try valid.write(to: modelURL)
        // A deleted manifest is not mistaken for an older checkpoint.
        let manifestURL = checkpoint.appendingPathComponent("manifest.json")
        let manifest = try Data(contentsOf: manifestURL)
        try FileManager.default.removeItem(at: manifestURL)
        XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
            XCTAssertEqual(
                "\($0)",
                "checkpoint \(checkpoint.path) has no manifest.json, though it was written with one: the checkpoint is damaged"
            )
        }
        // Resuming reads state.json first: the same one line, not also a note calling it an older checkpoint.
        var notes: [String] = []
        let savedNote = Checkpoint.note
        Checkpoint.note = { notes.append($0) }
        defer { Checkpoint.note = savedNote }
        XCTAssertThrowsError(try Trainer(resuming: folder)) {
            XCTAssertEqual(
                "\($0)",
                "checkpoint \(checkpoint.path) has no manifest.json, though it was written with one: the checkpoint is damaged"
            )
        }
        XCTAssertEqual(notes, [])
        try manifest.write(to: manifestURL)
        // A newer checkpoint that lost a file is passed over, and said to be.
        let newer = RunFolder(folder.url).checkpoint(step: 99)
        try FileManager.default.createDirectory(at: newer, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: newer.appendingPathComponent("state.json"))
        XCTAssertNoThrow(try TrainedModel(path: folder.url.path))
        XCTAssertEqual(
            notes,
            [
                "checkpoint \(newer.path) is incomplete (no model.safetensors, optimizer.safetensors): using the older \(checkpoint.lastPathComponent)"
            ])
        try FileManager.default.removeItem(at: newer)
        try Data("{\"files\": 3}".utf8).write(to: manifestURL)
        XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
            self.assertOneLine($0, naming: manifestURL.path, ["is damaged"])
        }
        try manifest.write(to: manifestURL)
        XCTAssertNoThrow(try Self.resume(folder, ["train.max_steps=3"]))
    }

    /// Checkpoints written before manifests existed load with the check skipped and a note;
    /// the resumed run's next checkpoint has a manifest.
    func testOlderCheckpointsLoadWithoutChecksums() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("run"), ["train.max_steps=2", "train.eval_interval=0"])
        let checkpoint = try XCTUnwrap(folder.latestCheckpoint())
        try FileManager.default.removeItem(at: checkpoint.appendingPathComponent("manifest.json"))
        try Self.removeManifestMark(in: checkpoint)
        var notes: [String] = []
        let saved = Checkpoint.note
        Checkpoint.note = { notes.append($0) }
        defer { Checkpoint.note = saved }
        XCTAssertNoThrow(try TrainedModel(path: folder.url.path))
        try Self.resume(folder, ["train.max_steps=4"])
        XCTAssertEqual(notes.count, 2)
        XCTAssertTrue(
            notes.allSatisfy { $0.contains("without manifest.json: its files are read without checksums") }, "\(notes)")
        XCTAssertTrue(
            FileManager.default.fileExists(
                atPath: folder.latestCheckpoint()!.appendingPathComponent("manifest.json").path))
        // Without checksums, damage the headers and decoders see is still one line.
        let stateURL = checkpoint.appendingPathComponent("state.json")
        for damage in [Data("{\"step\": ".utf8), Data("{\"step\": \"two\"}".utf8), Data("[]".utf8)] {
            try damage.write(to: stateURL)
            XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
                self.assertOneLine($0, naming: stateURL.path, ["corrupt checkpoint state"])
            }
        }
        XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
            XCTAssertTrue("\($0)".hasSuffix("state.json: the file must be a JSON object"), "\($0)")
        }
        try Data("{}".utf8).write(to: stateURL)
        XCTAssertThrowsError(try TrainedModel(path: checkpoint.path)) {
            XCTAssertTrue("\($0)".contains("state.json: missing key '"), "\($0)")
        }
        // Byte flips and truncations of an older state.json: a valid result or one line, never a dump.
        let older = try XCTUnwrap(folder.completeCheckpoints().first)
        let olderState = older.appendingPathComponent("state.json")
        try? FileManager.default.removeItem(at: older.appendingPathComponent("manifest.json"))
        try Self.removeManifestMark(in: older)
        let valid = try Data(contentsOf: olderState)
        var generator = SystemRandomNumberGenerator()
        for index in 0..<300 {
            var copy = index < 100 ? valid.prefix(Int.random(in: 0..<valid.count, using: &generator)) : valid
            if index >= 100 {
                copy[Int.random(in: 0..<copy.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            }
            try copy.write(to: olderState)
            do {
                _ = try TrainedModel(path: older.path)
            } catch {
                XCTAssertFalse("\(error)".contains("\n") || "\(error)".contains("Error Domain"), "\(error)")
            }
        }
    }

    // MARK: - I/O failures (issue 14, item 7)

    /// Past a file-size limit the run stops with one line naming the file and the reason, and
    /// metrics.jsonl and the event file end with a complete line and record; the run resumes.
    func testWriteFailureLeavesNoTornLine() throws {
        let folder = RunFolder(scratch.appendingPathComponent("limited"))
        let config = try Self.smokeConfig([
            "train.max_steps=5000", "train.checkpoint_interval=0", "train.eval_interval=0",
        ])
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        XCTAssertThrowsError(try withFileSizeLimit(60_000) { try trainer.run() }) { error in
            let message = "\(error)"
            XCTAssertTrue(
                message.hasPrefix("cannot write \(folder.metrics.path): File too large")
                    || message.hasPrefix("cannot write TensorBoard event file \(folder.url.path)/events.out.tfevents."),
                message)
            self.assertOneLine(error, naming: folder.url.path, ["File too large"])
        }
        let metrics = try Data(contentsOf: folder.metrics)
        XCTAssertEqual(metrics.last, 0x0A, "the log ends with a complete line")
        let lines = String(decoding: metrics, as: UTF8.self).split(separator: "\n")
        XCTAssertTrue(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        let steps = lines.map {
            (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["step"] as! Int
        }
        XCTAssertEqual(steps, Array(0..<steps.count), "the bigram line (step 0), then every step")
        for events in TensorBoardWriter.eventFiles(in: folder.url) {
            XCTAssertNoThrow(try TensorBoardReader.read(events))
        }
    }

    /// A file the run must write that cannot be written (here: a folder in its place) is one
    /// line naming it, for every writer of the run folder.
    func testEveryWriterNamesThePathAndTheReason() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("run"), ["train.max_steps=2", "train.eval_interval=0"])
        for name in ["run.txt", "config.toml"] {
            let url = folder.url.appendingPathComponent(name)
            let saved = try Data(contentsOf: url)
            try FileManager.default.removeItem(at: url)
            try FileManager.default.createDirectory(
                at: url.appendingPathComponent("x"), withIntermediateDirectories: true)
            XCTAssertThrowsError(try Self.resume(folder, ["train.max_steps=3"])) {
                XCTAssertEqual("\($0)", "cannot write \(url.path): Is a directory")
            }
            try FileManager.default.removeItem(at: url)
            try saved.write(to: url)
        }
        try FileManager.default.removeItem(at: folder.metrics)
        try FileManager.default.createDirectory(at: folder.metrics, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Self.resume(folder, ["train.max_steps=3"])) {
            self.assertOneLine($0, naming: folder.metrics.path, ["Is a directory"])
        }
        try FileManager.default.removeItem(at: folder.metrics)
        // nonfinite.json
        let nan = RunFolder(scratch.appendingPathComponent("nan"))
        try FileManager.default.createDirectory(at: nan.url, withIntermediateDirectories: true)
        let trainer = try Trainer(
            config: try Self.smokeConfig(["optim.lr=1e30", "optim.warmup_steps=0", "optim.grad_clip=0"]), folder: nan,
            configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try FileManager.default.createDirectory(
            at: nan.nonFiniteReport.appendingPathComponent("x"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try trainer.run()) {
            XCTAssertEqual("\($0)", "cannot write \(nan.nonFiniteReport.path): Is a directory")
        }
        // A checkpoint: `checkpoints` is a file.
        let blocked = RunFolder(scratch.appendingPathComponent("blocked"))
        let blockedTrainer = try Trainer(
            config: try Self.smokeConfig(["train.max_steps=2", "train.eval_interval=0"]), folder: blocked,
            configSource: "test")
        blockedTrainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try Data().write(to: blocked.checkpoints)
        XCTAssertThrowsError(try blockedTrainer.run()) {
            XCTAssertEqual(
                "\($0)",
                "could not write checkpoint \(blocked.checkpoint(step: 2).path): cannot create folder \(blocked.checkpoints.path): File exists; no earlier checkpoint exists"
            )
        }
    }

    // MARK: - Someone's own files (issue 14, item 8)

    func testNewRunNeverWritesIntoSomeoneElsesFolder() throws {
        let own = scratch.appendingPathComponent("mine")
        try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
        let config = Data("my own config\n".utf8)
        try config.write(to: own.appendingPathComponent("config.toml"))
        XCTAssertThrowsError(try Self.train(in: own, ["train.max_steps=2"])) {
            XCTAssertEqual(
                "\($0)",
                "run folder \(own.path) is not empty and holds no QKLab run (it holds: config.toml); a new run needs a new or empty folder: pick another --run-dir"
            )
        }
        XCTAssertEqual(try Data(contentsOf: own.appendingPathComponent("config.toml")), config, "untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: own.path), ["config.toml"], "nothing added")
        // Other files of other tools: a metrics.jsonl, a checkpoints folder, a lock, run.txt not by qklab.
        for name in ["metrics.jsonl", "checkpoints", "lock", "run.txt", ".hidden"] {
            let folder = scratch.appendingPathComponent("other-\(name)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data("12345\n".utf8).write(to: folder.appendingPathComponent(name))
            XCTAssertThrowsError(try Self.train(in: folder, ["train.max_steps=2"])) {
                XCTAssertTrue("\($0)".contains("holds no QKLab run"), "\($0)")
            }
            XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent(name)), Data("12345\n".utf8))
        }
        // A file where the folder should be.
        let file = scratch.appendingPathComponent("file")
        try config.write(to: file)
        XCTAssertThrowsError(try Self.train(in: file, ["train.max_steps=2"])) {
            XCTAssertEqual("\($0)", "run folder \(file.path) is a file, not a folder: pick another --run-dir")
        }
        // New, empty, and a sweep point's folder holding its log: fine.
        try Self.train(
            in: scratch.appendingPathComponent("new/nested"), ["train.max_steps=2", "train.eval_interval=0"])
        let empty = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Self.train(in: empty, ["train.max_steps=2", "train.eval_interval=0"])
        let point = scratch.appendingPathComponent("point")
        try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
        try Data("started\n".utf8).write(to: point.appendingPathComponent("train.log"))
        try Self.train(in: point, ["train.max_steps=2", "train.eval_interval=0"])
        XCTAssertEqual(try Data(contentsOf: point.appendingPathComponent("train.log")), Data("started\n".utf8))
        // A QKLab run (even one that never reached a checkpoint) is not started over.
        XCTAssertThrowsError(try Self.train(in: empty, ["train.max_steps=2"])) {
            XCTAssertTrue("\($0)".contains("already holds a run; continue it with --resume"), "\($0)")
        }
        try FileManager.default.removeItem(at: RunFolder(empty).checkpoints)
        XCTAssertThrowsError(try Self.train(in: empty, ["train.max_steps=2"])) {
            XCTAssertTrue("\($0)".contains("already holds a run; it has no checkpoint"), "\($0)")
        }
    }

    /// A run killed before it wrote anything but its lock leaves a folder of QKLab's own: a new
    /// run there takes the stale lock over, and a live owner still keeps it.
    func testNewRunTakesOverTheLockOfARunKilledAtItsStart() throws {
        let folder = scratch.appendingPathComponent("killed")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lock = RunFolder(folder).lock
        try RunFolder.lockText(pid: 1).write(to: lock, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Self.train(in: folder, ["train.max_steps=2"])) {
            XCTAssertTrue("\($0)".contains("in use by process 1"), "\($0)")
        }
        try RunFolder.lockText(pid: 999_999_999).write(to: lock, atomically: true, encoding: .utf8)
        XCTAssertTrue(try Self.train(in: folder, ["train.max_steps=2", "train.eval_interval=0"]).holdsRun)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock.path), "released after the run")
        XCTAssertEqual(RunFolder.lockOwner(RunFolder.lockText(pid: 42)), 42)
        XCTAssertEqual(RunFolder.lockOwner("42\n"), 42, "the bare pid of earlier versions")
        XCTAssertNil(RunFolder.lockOwner("42\n", acceptingBarePid: false))
        XCTAssertNil(RunFolder.lockOwner("my lock\n"))
        XCTAssertNil(RunFolder.lockOwner("0\n"), "kill(0, 0) would always succeed")
        XCTAssertNil(RunFolder.lockOwner("-1\nqklab run lock\n"))
    }

    // MARK: - TensorBoard after a resume (issue 20, item 9)

    /// Each step's TensorBoard scalars, over all event files in name order.
    func tensorBoardScalars(_ folder: RunFolder, _ tag: String) throws -> [(step: Int, value: Float)] {
        try TensorBoardWriter.eventFiles(in: folder.url).flatMap { try TensorBoardReader.read($0) }
            .compactMap { record in record.scalars[tag].map { (record.step, $0) } }
    }

    /// Each line's `key` as written (read with `Double(String)`: JSONSerialization's number
    /// parsing is not always correctly rounded, which can move a value near the midpoint of two
    /// Floats to the other one).
    func metricsValues(_ folder: RunFolder, _ key: String) throws -> [(step: Int, value: Float)] {
        try String(contentsOf: folder.metrics, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let step = line.firstMatch(of: #/"step": (\d+)/#),
                let value = line.firstMatch(of: try Regex("\"\(key)\": ([^,}]+)"))
            else { return nil }
            return (Int(step.1)!, Float(Double(String(value.output[1].substring!))!))
        }
    }

    /// A run interrupted after its last checkpoint (steps 21–25 trained, checkpoint at 20),
    /// resumed at once, ten times over: TensorBoard shows each step once, with metrics.jsonl's
    /// values, and no event file is lost when the resume starts within the same second.
    func testTensorBoardOfAResumedRunEqualsItsMetrics() throws {
        for attempt in 0..<10 {
            let folder = try Self.train(
                in: scratch.appendingPathComponent("run-\(attempt)"),
                ["train.max_steps=25", "optim.decay_steps=30", "train.checkpoint_interval=10", "train.eval_interval=5"])
            // As if killed after step 25 before its checkpoint: the newest is step 20.
            try FileManager.default.removeItem(at: folder.checkpoint(step: 25))
            try Self.resume(folder, ["train.max_steps=30"])
            let events = TensorBoardWriter.eventFiles(in: folder.url)
            XCTAssertEqual(events.count, 2, "one event file per part: \(events.map(\.lastPathComponent))")
            XCTAssertLessThan(
                events[0].lastPathComponent, events[1].lastPathComponent, "the resumed part sorts after the first")
            for tag in ["loss", "lr", "grad_norm"] {
                let board = try tensorBoardScalars(folder, tag), metrics = try metricsValues(folder, tag)
                XCTAssertEqual(board.map(\.step), Array(1...30), tag)
                XCTAssertEqual(board.map(\.step), metrics.map(\.step), tag)
                XCTAssertEqual(board.map(\.value), metrics.map(\.value), tag)
            }
            let validation = try tensorBoardScalars(folder, "val_loss")
            XCTAssertEqual(validation.map(\.step), [5, 10, 15, 20, 25, 30])
            XCTAssertEqual(validation.map(\.value), try metricsValues(folder, "val_loss").map(\.value))
        }
    }

    /// Resuming a finished run trains nothing and writes nothing: no new event file, the same
    /// metrics.jsonl.
    func testResumingAFinishedRunLeavesItsFilesAsTheyWere() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("finished"), ["train.max_steps=4", "train.eval_interval=2"])
        let events = TensorBoardWriter.eventFiles(in: folder.url), metrics = try Data(contentsOf: folder.metrics)
        for _ in 0..<2 { try Self.resume(folder) }
        XCTAssertEqual(TensorBoardWriter.eventFiles(in: folder.url), events)
        XCTAssertEqual(try Data(contentsOf: folder.metrics), metrics)
    }

    // MARK: - Reading a run that is still training (issue 20, item 12)

    /// The checkpoint a reader picked is pruned at the worst instant — after it was listed and
    /// its folder opened, before its files are read — by a trainer that saved a newer one: the
    /// read starts over from the newest checkpoint. Removing the files one by one, or renaming
    /// the folder only, is detected as well.
    func testAPrunedCheckpointIsReadAgainFromTheNewest() throws {
        let folder = try Self.train(
            in: scratch.appendingPathComponent("run"),
            [
                "train.max_steps=4", "train.checkpoint_interval=2",
                "train.keep_checkpoints=2", "train.eval_interval=0",
            ])
        defer { CheckpointFiles.afterOpeningFolder = nil }
        let prunings: [(String, (URL) throws -> Void)] = [
            ("folder renamed and removed", { try Checkpoint.discard($0, in: folder) }),
            (
                "folder renamed only",
                {
                    try FileManager.default.moveItem(
                        at: $0, to: folder.checkpoints.appendingPathComponent(".trash-\($0.lastPathComponent)"))
                }
            ),
            (
                "model removed first",
                {
                    try FileManager.default.removeItem(at: $0.appendingPathComponent("model.safetensors"))
                    try Checkpoint.discard($0, in: folder)
                }
            ),
            (
                "manifest removed first",
                {
                    try FileManager.default.removeItem(at: $0.appendingPathComponent("manifest.json"))
                    try Checkpoint.discard($0, in: folder)
                }
            ),
        ]
        for (index, (what, prune)) in prunings.enumerated() {
            // A live trainer saved a newer checkpoint, then pruned the one being read.
            let newer = try TrainedModel(path: folder.url.path)
            let step = newer.state.step + 2
            var state = newer.state
            state.step = step
            state.optimizerSteps = step
            try Checkpoint.save(
                model: newer.model, optimizer: AdamW(parameters: newer.model.parameters, config: newer.config.optim),
                state: state, in: folder)
            var pruned: [URL] = []
            CheckpointFiles.afterOpeningFolder = { checkpoint in
                guard pruned.isEmpty else { return }
                pruned.append(checkpoint)
                try! prune(checkpoint)
                try! Checkpoint.save(
                    model: newer.model,
                    optimizer: AdamW(parameters: newer.model.parameters, config: newer.config.optim),
                    state: {
                        var next = state
                        next.step += 1
                        next.optimizerSteps += 1
                        return next
                    }(), in: folder)
            }
            let trained = try TrainedModel(path: folder.url.path)
            CheckpointFiles.afterOpeningFolder = nil
            XCTAssertEqual(pruned.map(\.lastPathComponent), [String(format: "step-%06d", step)], what)
            XCTAssertEqual(trained.state.step, step + 1, "\(what): read from the newest checkpoint")
            XCTAssertEqual(trained.checkpoint.lastPathComponent, String(format: "step-%06d", step + 1), what)
            // A checkpoint folder named by the user is not replaced by another one: one line.
            let named = try XCTUnwrap(folder.latestCheckpoint())
            CheckpointFiles.afterOpeningFolder = {
                try! Checkpoint.discard($0, in: folder)
                CheckpointFiles.afterOpeningFolder = nil
            }
            XCTAssertThrowsError(try TrainedModel(path: named.path), "\(index)") {
                XCTAssertEqual(
                    "\($0)",
                    "checkpoint \(named.path) was removed while it was being read (the run is still training and pruned it); read the run folder instead, or try again"
                )
            }
            for leftover in try FileManager.default.contentsOfDirectory(atPath: folder.checkpoints.path)
            where leftover.hasPrefix(".trash-") {
                try FileManager.default.removeItem(at: folder.checkpoints.appendingPathComponent(leftover))
            }
        }
    }

    /// While a trainer checkpoints every step keeping one, readers load the run again and
    /// again: every load succeeds, and each holds one consistent checkpoint.
    func testReadingALiveRun() throws {
        let folder = RunFolder(scratch.appendingPathComponent("live"))
        let trainer = try Trainer(
            config: try Self.smokeConfig([
                "train.max_steps=150", "train.checkpoint_interval=1", "train.keep_checkpoints=1",
                "train.eval_interval=0", "train.log_interval=0",
            ]),
            folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        let done = DispatchSemaphore(value: 0)
        final class Outcome: @unchecked Sendable { var error: Error? }  // written before `done` is signalled
        let outcome = Outcome()
        Thread {
            do { try trainer.run() } catch { outcome.error = error }
            done.signal()
        }.start()
        var loads = 0, failures: [String] = []
        while done.wait(timeout: .now()) == .timedOut {
            guard folder.latestCheckpoint() != nil else { continue }
            do {
                let trained = try TrainedModel(path: folder.url.path)
                XCTAssertEqual(trained.checkpoint.lastPathComponent, String(format: "step-%06d", trained.state.step))
                loads += 1
            } catch {
                failures.append("\(error)")
            }
        }
        XCTAssertNil(outcome.error)
        XCTAssertEqual(failures, [], "\(failures.count) of \(loads + failures.count) loads failed")
        XCTAssertGreaterThan(loads, 10)
    }
}
