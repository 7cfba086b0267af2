import Formats
import Foundation
import TestSupport
import Training
import XCTest

/// Step 1 always writes its training line, whatever `log_interval`: its loss is the model's
/// before any update, the "initial loss" of a sweep's LR sensitivity.
final class StepOneLogTests: ScratchTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The steps of the training lines of a smoke run of 12 steps with `overrides`.
    func loggedSteps(_ overrides: [String], name: String) throws -> [(step: Int, loss: Double?)] {
        var config = try ConfigLoader.load(
            Self.repository.appendingPathComponent("configs/smoke.toml"),
            overrides: ["train.max_steps=12", "train.eval_interval=0", "train.threads=1"] + overrides)
        config.data.path = Self.repository.appendingPathComponent("data/smoke.txt").path
        let folder = RunFolder(scratch.appendingPathComponent(name))
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        return try MetricsReader.read(folder.metrics).filter { $0["loss"] != nil }
            .map { ($0["step"] as! Int, ($0["loss"] as? NSNumber)?.doubleValue) }
    }

    func testStepOneIsLoggedWhateverTheInterval() throws {
        let every = try loggedSteps(["train.log_interval=1"], name: "every")
        XCTAssertEqual(every.map(\.step), Array(1...12))
        // 5 and 10 by the interval, 12 as the last step, 1 always.
        XCTAssertEqual(try loggedSteps(["train.log_interval=5"], name: "five").map(\.step), [1, 5, 10, 12])
        XCTAssertEqual(try loggedSteps(["train.log_interval=100"], name: "hundred").map(\.step), [1, 12])
        // 0 disables the interval; step 1 is still written.
        let disabled = try loggedSteps(["train.log_interval=0"], name: "off")
        XCTAssertEqual(disabled.map(\.step), [1])
        // The same step-1 loss every time: the loss of the initial weights on the first batch,
        // about ln(vocabulary size) for a fresh model (61 characters: ln 61 ≈ 4.11).
        let first = try XCTUnwrap(every[0].loss)
        XCTAssertEqual(disabled[0].loss, first)
        XCTAssertEqual(first, log(61), accuracy: 0.2)
        // Measured before the first update, so the learning rate does not change it.
        XCTAssertEqual(try loggedSteps(["train.log_interval=100", "optim.lr=3e-2"], name: "fast")[0].loss, first)
    }
}
