import Formats
import Foundation
import TestSupport
import Training
import XCTest

/// Helpers for tests that train the shipped smoke config for real (a second or less per run):
/// new runs, resumes, and what they left in their folders.
class SmokeRunTestCase: ScratchTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The smoke config with the corpus path made absolute, plus `overrides`.
    func smokeConfig(_ overrides: [String] = [], corpus: URL? = nil) throws -> TrainingConfig {
        var config = try ConfigLoader.load(
            Self.repository.appendingPathComponent("configs/smoke.toml"), overrides: overrides)
        config.data.path = (corpus ?? Self.repository.appendingPathComponent("data/smoke.txt")).path
        return config
    }

    func folder(_ name: String) -> RunFolder { RunFolder(scratch.appendingPathComponent(name)) }

    /// Trains a new run in `name` to its max_steps.
    @discardableResult
    func train(_ config: TrainingConfig, in name: String) throws -> RunFolder {
        let folder = folder(name)
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        return folder
    }

    /// Resumes `folder` with `overrides` and trains to its max_steps.
    func resume(_ folder: RunFolder, _ overrides: [String] = []) throws {
        let trainer = try Trainer(resuming: folder, overrides: overrides)
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
    }

    /// The one-line error of `body`, or a test failure if it does not throw.
    func failure(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
            return ""
        } catch {
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
            return message
        }
    }

    /// Every metrics line without the wall-clock keys (`tokens_per_s`, `elapsed_s`), as JSON text
    /// with sorted keys: equal lists mean bit-identical losses, rates, norms and logit maxima.
    func numbers(_ folder: RunFolder) throws -> [String] {
        try MetricsReader.read(folder.metrics).map { line in
            var line = line
            line["tokens_per_s"] = nil
            line["elapsed_s"] = nil
            return String(
                decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    /// `step → value` of `key` over the metrics lines that have it.
    func series(_ folder: RunFolder, _ key: String) throws -> [Int: Double] {
        var result: [Int: Double] = [:]
        for line in try MetricsReader.read(folder.metrics) where line[key] != nil {
            result[line["step"] as! Int] = (line[key] as? NSNumber)?.doubleValue ?? .nan
        }
        return result
    }

    func finalWeights(_ folder: RunFolder) throws -> Data {
        try Data(contentsOf: folder.latestCheckpoint()!.appendingPathComponent("model.safetensors"))
    }

    func state(_ folder: RunFolder) throws -> CheckpointState {
        try Checkpoint.loadState(folder.latestCheckpoint()!)
    }

    /// Rewrites the latest checkpoint's state.json through `edit` (on its JSON object), as an
    /// older QKLab would have written it; its entry in manifest.json is rewritten to match, so
    /// that only the edit differs.
    func editState(_ folder: RunFolder, _ edit: (inout [String: Any]) -> Void) throws {
        let url = folder.latestCheckpoint()!.appendingPathComponent("state.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&object)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url)
        let manifestURL = url.deletingLastPathComponent().appendingPathComponent(CheckpointManifest.fileName)
        var manifest = try JSONDecoder().decode(CheckpointManifest.self, from: Data(contentsOf: manifestURL))
        manifest.add("state.json", data)
        try manifest.jsonData.write(to: manifestURL)
    }

    func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }
}
