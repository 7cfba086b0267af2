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
    /// Continues `prompt` (ids) by `options.tokens` ids. The context is the last `block_size` ids.
    public static func generate(model: TransformerModel, prompt: [Int32], options: GenerationOptions) -> [Int32] {
        var random = SeededRandom(seed: options.seed)
        var ids = prompt
        let blockSize = model.config.blockSize, vocabulary = model.config.vocabSize
        for _ in 0..<options.tokens {
            let context = Array(ids.suffix(blockSize))
            let logits = Tape.withoutGradients { model.forward(tokens: context, batch: 1, length: context.count).logits }
            let last = withExtendedLifetime(logits) {     // read through its pointer: keep it alive
                Array(UnsafeBufferPointer(start: logits.data + (context.count - 1) * vocabulary, count: vocabulary))
            }
            ids.append(Int32(pick(from: last, options: options, random: &random)))
        }
        return Array(ids[prompt.count...])
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
