import ArgumentParser
import Formats
import Foundation
import Training

/// `qklab sample`: text from a run's latest checkpoint, streamed as it is generated when stdout
/// is a terminal.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a run's latest checkpoint (or a checkpoint folder).")

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Option(
        parsing: .unconditional,
        help: "Text to continue (default: a line feed, or when the corpus has none, the vocabulary's first character).")
    var prompt: String?

    // Options with a `transform` do not show their default in --help by themselves.
    static let defaults = (tokens: 500, temperature: 0.8, topK: 0, seed: UInt64(0))

    @Option(
        parsing: .unconditional, help: "Characters to generate (0 to 100000000). (default: \(defaults.tokens))",
        transform: { try OptionValue.integer($0, in: 0...100_000_000) })
    var tokens = defaults.tokens

    @Option(
        parsing: .unconditional,
        help: "Sampling temperature, a finite number ≥ 0; 0 is greedy. (default: \(defaults.temperature))",
        transform: { try OptionValue.number($0, atLeast: 0) })
    var temperature = defaults.temperature

    @Option(
        parsing: .unconditional,
        help: "Sample only among the k most likely characters (0 = all). (default: \(defaults.topK))",
        transform: { try OptionValue.integer($0, in: 0...Int.max) })
    var topK = defaults.topK

    @Option(
        parsing: .unconditional, help: "Seed of the sampler (0 to 2^64 - 1). (default: \(defaults.seed))",
        transform: { try OptionValue.seed($0) })
    var seed = defaults.seed

    func validate() throws {
        if prompt == "" { throw ValidationError("--prompt must not be empty") }
    }

    func run() throws {
        let trained = try TrainedModel(path: path)
        let prompt = self.prompt ?? trained.tokenizer.defaultPrompt  // always in the vocabulary
        let promptIDs: [Int32]
        do {
            promptIDs = try trained.tokenizer.encode(prompt)
        } catch {
            throw RunError("--prompt: \(error)")
        }
        var options = GenerationOptions()
        options.tokens = tokens
        options.temperature = temperature
        options.topK = topK
        options.seed = seed
        guard isatty(STDOUT_FILENO) != 0 else {  // a pipe or a file: all at once, as before
            print(
                prompt
                    + trained.tokenizer.decode(
                        Generation.generate(model: trained.model, prompt: promptIDs, options: options)))
            return
        }
        print(prompt, terminator: "")  // a terminal: each character as it is drawn
        fflush(stdout)
        _ = Generation.generate(model: trained.model, prompt: promptIDs, options: options) { id in
            print(trained.tokenizer.decode([id]), terminator: "")
            fflush(stdout)
        }
        print()
    }
}
