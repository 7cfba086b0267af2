import Formats
import Foundation
import Training
import XCTest

/// Deterministic corpus of damaged files for every reader of user-controlled input: each must
/// give a clear error (or, where the damage leaves a valid file, a valid result) and never trap.
/// (The safetensors reader has its own, in SafeTensorsTests.) `scripts/fuzz.sh` runs longer,
/// randomised rounds by setting QKLAB_FUZZ_FLIPS and QKLAB_FUZZ_SEED.
final class BadFileEndToEndTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let environment = ProcessInfo.processInfo.environment
    static let flipScale = Int(environment["QKLAB_FUZZ_FLIPS"] ?? "") ?? 1
    static let seed = UInt64(environment["QKLAB_FUZZ_SEED"] ?? "") ?? 0x9E37_79B9_7F4A_7C15

    /// Every prefix of `bytes`, then `flips × QKLAB_FUZZ_FLIPS` byte changes at positions from a
    /// fixed (or QKLAB_FUZZ_SEED) seed.
    func damagedVersions(of bytes: [UInt8], flips: Int) -> [[UInt8]] {
        var versions = (0..<bytes.count).map { Array(bytes[..<$0]) }
        var state: UInt64 = Self.seed
        for _ in 0..<(flips * Self.flipScale) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var copy = bytes
            let position = Int(state >> 33) % bytes.count
            copy[position] ^= UInt8(truncatingIfNeeded: (state >> 13) | 1)
            versions.append(copy)
        }
        return versions
    }

    func testDamagedConfigs() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("configs/smoke.toml"), encoding: .utf8)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-badtoml-\(getpid()).toml")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var rejected = 0
        for version in damagedVersions(of: Array(text.utf8), flips: 300) {
            try Data(version).write(to: scratch)
            do {
                _ = try ConfigLoader.load(scratch)
            } catch let error as ConfigError {
                rejected += 1
                XCTAssertFalse(error.description.isEmpty)
                XCTAssertFalse(error.description.contains("\n"), "one line: \(error.description)")
            }
        }
        XCTAssertGreaterThan(rejected, 100)
        // Found by scripts/fuzz.sh: toml++ aborts on a control character in a table header.
        try Data("[model]\nd_model = 64\n[\u{12}ptim]\n".utf8).write(to: scratch)
        XCTAssertThrowsError(try ConfigLoader.load(scratch)) {
            XCTAssertEqual("\($0)", "\(scratch.path):3: control character U+0012 is not allowed in TOML")
        }
        try Data("[model]\n[)ata]\n".utf8).write(to: scratch)
        XCTAssertThrowsError(try ConfigLoader.load(scratch)) {
            XCTAssertTrue("\($0)".hasPrefix("\(scratch.path):2: a table header"), "\($0)")
        }
        try Data([0x5B, 0x6D, 0xFF, 0xFE, 0x5D]).write(to: scratch)  // "[m" + invalid UTF-8 + "]"
        XCTAssertThrowsError(try ConfigLoader.load(scratch)) { XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)") }
    }

    func testDamagedCheckpointState() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-badstate-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var config = try ConfigLoader.load(
            Self.repository.appendingPathComponent("configs/smoke.toml"),
            overrides: ["train.max_steps=2", "train.eval_interval=0"])
        config.data.path = Self.repository.appendingPathComponent("data/smoke.txt").path
        let folder = RunFolder(scratch.appendingPathComponent("run"))
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        let checkpoint = try XCTUnwrap(folder.latestCheckpoint())
        let stateURL = checkpoint.appendingPathComponent("state.json")
        let valid = try Data(contentsOf: stateURL)
        var rejected = 0, accepted = 0
        // Truncations every 7 bytes (the file is a few KB) and 300 byte flips.
        for (index, version) in damagedVersions(of: Array(valid), flips: 300).enumerated()
        where index % 7 == 0 || index >= valid.count {
            try Data(version).write(to: stateURL)
            do {
                _ = try TrainedModel(path: checkpoint.path)
                accepted += 1
            } catch {
                rejected += 1
                XCTAssertFalse("\(error)".isEmpty)
            }
        }
        XCTAssertGreaterThan(rejected, 100)
        try valid.write(to: stateURL)
        XCTAssertNoThrow(try TrainedModel(path: checkpoint.path))
    }

    /// The metrics reader (used by compare and resume) skips torn or damaged lines.
    func testDamagedMetrics() throws {
        let lines = (1...20).map {
            "{\"step\": \($0), \"loss\": \(3.0 - Double($0) / 10), \"attn_logit_max\": [1.5, null]}"
        }
        let bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qklab-badmetrics-\(getpid()).jsonl")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for version in damagedVersions(of: bytes, flips: 300) {
            try Data(version).write(to: scratch)
            let records = try MetricsReader.read(scratch)
            XCTAssertLessThanOrEqual(records.count, 20)
        }
        try Data(bytes.dropLast(5)).write(to: scratch)  // a torn last line is dropped
        XCTAssertEqual(try MetricsReader.read(scratch).count, 19)
        XCTAssertEqual(try MetricsReader.readCounting(scratch).damagedLines, 0, "a torn last line is not damage")
        var middle = lines
        middle[7] = "{\"step\": 8, \"loss\": 2."
        try Data((middle.joined(separator: "\n") + "\n").utf8).write(to: scratch)
        let (records, damaged) = try MetricsReader.readCounting(scratch)
        XCTAssertEqual(records.count, 19)
        XCTAssertEqual(damaged, 1)
    }
}
