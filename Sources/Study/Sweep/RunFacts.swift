import Formats
import Foundation

/// What the trainer records about a run before its first step, in the step-0 line of
/// `metrics.jsonl`: `{"step": 0, "bigram_loss": …, "non_embedding_parameters": …}`.
public struct RunFacts: Equatable {
    /// The corpus's bigram loss (nats per character): the validation cross-entropy of an
    /// add-one-smoothed character bigram model fitted on the training split (docs/metrics.md).
    public let bigramLoss: Double?
    /// Parameters without the token embedding, learned positions and output head (Wortsman et
    /// al. 2023's x axis): the decoder layers and the final norm.
    public let nonEmbeddingParameters: Int?

    public init(bigramLoss: Double?, nonEmbeddingParameters: Int?) {
        (self.bigramLoss, self.nonEmbeddingParameters) = (bigramLoss, nonEmbeddingParameters)
    }

    /// The facts of the run whose metrics are `lines`; nil fields for runs written before QKLab
    /// recorded them.
    init(lines: [[String: Any]]) {
        let first = lines.first { ($0["step"] as? Int) == 0 && $0["loss"] == nil && $0["val_loss"] == nil }
        let bigram = (first?["bigram_loss"] as? NSNumber)?.doubleValue
        self.init(
            bigramLoss: bigram.flatMap { $0.isFinite ? $0 : nil },
            nonEmbeddingParameters: (first?["non_embedding_parameters"] as? NSNumber)?.intValue)
    }

    /// The facts in `folder`'s metrics (none when it has no readable metrics file).
    init(folder: RunFolder) {
        self.init(lines: (try? MetricsReader.read(folder.metrics)) ?? [])
    }
}
