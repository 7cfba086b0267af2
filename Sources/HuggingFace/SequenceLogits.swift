import Autograd
import Formats
import Foundation
import Transformer

/// The logits a model gives one token sequence, position by position: what `qklab logits`
/// prints so that another implementation (e.g. `transformers`, `scripts/hf_check.py`) can be
/// compared with QKLab's.
public struct SequenceLogits {
    public let tokens: [Int32]
    /// `[T][V]`: row t holds the logits of the token after `tokens[0...t]`.
    public let logits: [[Float]]

    /// Runs `model` on `tokens` (1 to `block_size` ids, each below `vocab_size`).
    public init(model: TransformerModel, tokens: [Int32]) throws {
        let (blockSize, vocabulary) = (model.config.blockSize, model.config.vocabSize)
        guard (1...blockSize).contains(tokens.count) else {
            throw RunError("\(counted(tokens.count, "token")); give between 1 and block_size = \(blockSize)")
        }
        if let outside = tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw RunError("token id \(outside) is outside the vocabulary (0..<\(vocabulary))")
        }
        // [1, T, V]
        let output = Tape.withoutGradients { model.forward(tokens: tokens, batch: 1, length: tokens.count).logits }
        let values = output.values
        self.tokens = tokens
        logits = (0..<tokens.count).map { Array(values[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// `{"tokens": [...], "logits": [[...], ...]}`, each Float in its shortest exact form (a
    /// reader parsing it as float32 gets the very value); a non-finite one is `null`.
    public var json: String {
        func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
        let rows = logits.map { "[" + $0.map(number).joined(separator: ", ") + "]" }
        return "{\"tokens\": [\(tokens.map(String.init).joined(separator: ", "))],\n \"logits\": [\n  "
            + rows.joined(separator: ",\n  ") + "\n ]}"
    }
}
