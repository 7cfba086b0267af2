import ArgumentParser
import Formats
import Foundation
import Training

/// `qklab sample`: text from a run's latest checkpoint, streamed as it is generated when stdout
/// is a terminal.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a run's latest checkpoint (or a checkpoint folder).")

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Option(help: "Text to continue (default: a newline).")
    var prompt = "\n"

    @Option(help: "Characters to generate.")
    var tokens = 500

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature = 0.8

    @Option(help: "Sample only among the k most likely characters (0 = all).")
    var topK = 0

    @Option(help: "Seed of the sampler.")
    var seed: UInt64 = 0

    func validate() throws {
        if tokens < 0 { throw ValidationError("--tokens must be ≥ 0") }
        if temperature < 0 || !temperature.isFinite { throw ValidationError("--temperature must be ≥ 0") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0") }
    }

    func run() throws {
        let trained = try TrainedModel(path: path)
        let promptIDs: [Int32]
        do {
            promptIDs = try trained.tokenizer.encode(prompt)
        } catch {
            throw RunError("--prompt: \(error)")
        }
        guard !promptIDs.isEmpty else { throw RunError("--prompt must not be empty") }
        var options = GenerationOptions()
        options.tokens = tokens
        options.temperature = temperature
        options.topK = topK
        options.seed = seed
        guard isatty(STDOUT_FILENO) != 0 else {         // a pipe or a file: all at once, as before
            print(prompt + trained.tokenizer.decode(Generation.generate(model: trained.model, prompt: promptIDs, options: options)))
            return
        }
        print(prompt, terminator: "")                   // a terminal: each character as it is drawn
        fflush(stdout)
        _ = Generation.generate(model: trained.model, prompt: promptIDs, options: options) { id in
            print(trained.tokenizer.decode([id]), terminator: "")
            fflush(stdout)
        }
        print()
    }
}
