import Autograd
import Foundation
import Transformer

/// Text generation from a model: temperature sampling (0 = greedy) with optional top-k, from
/// the project's seeded generator.
public struct GenerationOptions {
    public var tokens = 200
    public var temperature = 1.0
    /// Keep only the k most likely characters (0 = all).
    public var topK = 0
    public var seed: UInt64 = 0
    public init() {}
}

public enum Generation {
    /// Continues `prompt` (ids, non-empty) by `options.tokens` ids, with a key/value cache
    /// (`GenerationContext`), handing each id to `onToken` as soon as it is drawn.
    ///
    /// While prompt and output fit in block_size the logits are those of `generateRecomputing`
    /// up to rounding (one-row products round differently, about 1e-7 relative) and the draws
    /// from the seed are the same, so the text is the same unless a draw falls within that
    /// rounding of a boundary between two characters (or, greedy, two logits tie that closely).
    /// Beyond block_size the context is the newest ⌈T/2⌉ to T ids, as `GenerationContext`
    /// documents, where `generateRecomputing` always uses the last T.
    public static func generate(
        model: TransformerModel, prompt: [Int32], options: GenerationOptions,
        onToken: ((Int32) -> Void)? = nil
    ) -> [Int32] {
        let context = GenerationContext(model: model)
        return sample(
            options: options, onToken: onToken,
            firstLogits: { context.start(prompt: prompt) }, nextLogits: { context.append($0) })
    }

    /// Continues `prompt` by `options.tokens` ids as generation did before the key/value cache:
    /// each id from a full forward over the last block_size ids. The oracle of the cached path's
    /// tests and the benchmark's baseline.
    public static func generateRecomputing(model: TransformerModel, prompt: [Int32], options: GenerationOptions)
        -> [Int32]
    {
        var ids = prompt
        let blockSize = model.config.blockSize, vocabulary = model.config.vocabSize
        func logits() -> [Float] {
            let context = Array(ids.suffix(blockSize))
            let logits = Tape.withoutGradients {
                model.forward(tokens: context, batch: 1, length: context.count).logits
            }
            return withExtendedLifetime(logits) {  // read through its pointer: keep it alive
                Array(UnsafeBufferPointer(start: logits.data + (context.count - 1) * vocabulary, count: vocabulary))
            }
        }
        return sample(
            options: options, onToken: nil, firstLogits: logits,
            nextLogits: {
                ids.append($0)
                return logits()
            })
    }

    /// `options.tokens` draws: the first from `firstLogits()`, each next one from the logits
    /// after the id drawn before it. The logits after the last id are never asked for.
    private static func sample(
        options: GenerationOptions, onToken: ((Int32) -> Void)?,
        firstLogits: () -> [Float], nextLogits: (Int32) -> [Float]
    ) -> [Int32] {
        var random = SeededRandom(seed: options.seed)
        var generated: [Int32] = []
        guard options.tokens > 0 else { return generated }
        var logits = firstLogits()
        while true {
            let id = Int32(pick(from: logits, options: options, random: &random))
            generated.append(id)
            onToken?(id)
            if generated.count == options.tokens { return generated }
            logits = nextLogits(id)
        }
    }

    /// Index of the next token: argmax at temperature 0, else a draw from softmax(logits / T)
    /// restricted to the top k.
    static func pick(from logits: [Float], options: GenerationOptions, random: inout SeededRandom) -> Int {
        if options.temperature <= 0 {
            return logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!
        }
        var candidates = Array(logits.indices)
        if options.topK > 0 && options.topK < logits.count {
            candidates = Array(candidates.sorted { logits[$0] > logits[$1] }.prefix(options.topK))
        }
        let maximum = candidates.map { Double(logits[$0]) }.max()!
        let weights = candidates.map { exp((Double(logits[$0]) - maximum) / options.temperature) }
        var threshold = random.nextUniform() * weights.reduce(0, +)
        for (candidate, weight) in zip(candidates, weights) {
            threshold -= weight
            if threshold < 0 { return candidate }
        }
        return candidates.last!
    }
}
