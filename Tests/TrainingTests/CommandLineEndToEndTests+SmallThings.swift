import Foundation
import XCTest

/// What a user sees, said right (issue 35, item 7): counts of one in the singular, a missing
/// folder called missing.
extension CommandLineEndToEndTests {
    func testCountsOfOneAreSingular() throws {
        let result = try qklab([
            "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir", "one",
            "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
            "--set", "train.max_steps=1", "--set", "train.threads=1", "--set", "train.shards=1",
            "--set", "optim.warmup_steps=1", "--set", "train.eval_interval=0",
        ])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains(", 1 thread, 1 batch shard | "), result.output)
        XCTAssertTrue(result.output.contains("done: 1 step in "), result.output)
        let config = try String(contentsOf: scratch.appendingPathComponent("one/config.toml"), encoding: .utf8)
        XCTAssertTrue(config.contains("warmup 1 step to 0.003, "), config)
        XCTAssertTrue(config.contains("norm_eps = 1e-06"), config)
        // The learning rate at the end of the warmup is the configured one, as written.
        let metrics = try String(contentsOf: scratch.appendingPathComponent("one/metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"lr\":0.003,") || metrics.contains("\"lr\": 0.003,"), metrics)
    }

    func testMissingFoldersAreCalledMissing() throws {
        let missing = scratch.appendingPathComponent("nowhere").path
        try assertFails(["compare", missing], ["qklab: \(missing): no such run folder"])
        try assertFails(["train", "--resume", missing], ["qklab: cannot resume \(missing): no such run folder"])
        for command in [["compare", missing], ["train", "--resume", missing]] {
            XCTAssertFalse(try qklab(command).error.contains("it holds"), "\(command)")
        }
    }

    /// A corpus of one distinct character is refused in one line before a folder is made (item 5).
    func testOneCharacterCorpusIsRefused() throws {
        let corpus = scratch.appendingPathComponent("a.txt")
        try String(repeating: "a", count: 5000).write(to: corpus, atomically: true, encoding: .utf8)
        try assertFails(
            [
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir",
                "single", "--set", "data.path=\(corpus.path)",
            ],
            ["qklab: corpus \(corpus.path) holds one distinct character (\"a\"): there is nothing to learn"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("single").path))
    }
}
