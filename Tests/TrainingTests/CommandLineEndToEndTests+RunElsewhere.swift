import Foundation
import XCTest

/// A run is not tied to the folder `qklab` was started in (issue 35, item 1): `--resume` and
/// `eval` find its corpus from another working folder and after the project folder moved, by
/// the size and hash the run recorded; a moved or renamed corpus may be named (`--set
/// data.path=` on resume, `eval --corpus`) when it is the same bytes; other bytes are refused.
extension CommandLineEndToEndTests {
    func testResumeAndEvalFromAnotherFolderAndAfterTheCorpusMoved() throws {
        let files = FileManager.default
        let project = scratch.appendingPathComponent("project")
        try files.createDirectory(at: project.appendingPathComponent("data"), withIntermediateDirectories: true)
        let corpusBytes = try Data(contentsOf: Self.repository.appendingPathComponent("data/smoke.txt"))
        try corpusBytes.write(to: project.appendingPathComponent("data/smoke.txt"))
        let started = try qklab(
            [
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path,
                "--run-dir", "runs/r", "--set", "data.path=data/smoke.txt", "--set", "train.max_steps=2",
                "--set", "train.eval_interval=0",
            ], in: project)
        XCTAssertEqual(started.status, 0, started.error)
        let elsewhere = scratch.appendingPathComponent("elsewhere")
        try files.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        func succeeds(_ arguments: [String], in folder: URL = elsewhere, line: UInt = #line) throws {
            let result = try qklab(arguments, in: folder)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.error)", line: line)
        }

        // From another working folder: the corpus relative to where the run was started.
        var run = project.appendingPathComponent("runs/r").path
        try succeeds(["eval", run])
        try succeeds(["train", "--resume", run, "--set", "train.max_steps=3"])
        // The project moved, its corpus with it: relative to the run folder's new place.
        let moved = scratch.appendingPathComponent("moved")
        try files.moveItem(at: project, to: moved)
        run = moved.appendingPathComponent("runs/r").path
        try succeeds(["eval", run])
        try succeeds(["train", "--resume", run, "--set", "train.max_steps=4"])
        // Inside the moved project, as a user would: data.path against the working folder.
        try succeeds(["eval", "runs/r"], in: moved)

        // The corpus renamed: not found, and the error says how to name it.
        let renamed = scratch.appendingPathComponent("corpora/genesis.txt")
        try files.createDirectory(at: renamed.deletingLastPathComponent(), withIntermediateDirectories: true)
        try files.moveItem(at: moved.appendingPathComponent("data/smoke.txt"), to: renamed)
        try assertFails(
            ["eval", run], ["qklab: corpus data/smoke.txt: no such file (looked for ", "qklab eval --corpus FILE"],
            in: elsewhere)
        try assertFails(
            ["train", "--resume", run, "--set", "train.max_steps=5"],
            ["no such file", "name the file with --set data.path=FILE", "\(corpusBytes.count) bytes"], in: elsewhere)
        // Named, the same bytes: accepted; the resumed run records it, and finds it from then on.
        try succeeds(["eval", run, "--corpus", "../corpora/genesis.txt"])
        try succeeds([
            "train", "--resume", run, "--set", "data.path=../corpora/genesis.txt", "--set", "train.max_steps=5",
        ])
        let config = try String(contentsOfFile: run + "/config.toml", encoding: .utf8)
        XCTAssertTrue(config.contains("path = \"../corpora/genesis.txt\""), config)
        try succeeds(["eval", run], in: scratch)
        try succeeds(["train", "--resume", run, "--set", "train.max_steps=6"], in: moved)

        // Other bytes under the name: refused, naming the change.
        let other = scratch.appendingPathComponent("corpora/other.txt")
        var otherBytes = corpusBytes
        otherBytes[otherBytes.count / 2] =
            UInt8(ascii: "e") == otherBytes[otherBytes.count / 2] ? UInt8(ascii: "a") : UInt8(ascii: "e")
        try otherBytes.write(to: other)
        try assertFails(
            ["eval", run, "--corpus", other.path],
            ["qklab: corpus \(other.path) is not the one this run trained on: same size"], in: elsewhere)
        try assertFails(
            ["train", "--resume", run, "--set", "data.path=\(other.path)", "--set", "train.max_steps=7"],
            ["is not the one this run trained on", "restore the file, or start a new run"], in: elsewhere)
        // Another key of [data] is still refused.
        try assertFails(
            ["train", "--resume", run, "--set", "data.val_fraction=0.2"], status: 1, ["a different [data] section"],
            in: elsewhere)
    }
}
