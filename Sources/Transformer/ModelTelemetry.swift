import Autograd

/// The stability telemetry of one forward pass (docs/metrics.md, "Stability telemetry"): each
/// layer's attention entropy, q/k sums, largest logit's (q, k) pair and block-output sums, and the
/// output logits' maximum and log Z. Kept as sums (and maxima),
/// so that batch shards merge exactly (in shard order); the metrics are read off the merged sums.
public struct ModelTelemetry: Equatable {
    /// One per decoder layer, in order.
    public var layers: [AttentionStatistics]
    /// One per decoder layer, in order.
    public var blockOutputs: [BlockOutputStatistics]
    public var output: OutputStatistics

    public init(layers: [AttentionStatistics], blockOutputs: [BlockOutputStatistics], output: OutputStatistics) {
        (self.layers, self.blockOutputs, self.output) = (layers, blockOutputs, output)
    }

    /// The telemetry of two shards together (`self` first).
    public func merged(with other: ModelTelemetry) -> ModelTelemetry {
        ModelTelemetry(
            layers: zip(layers, other.layers).map { $0.merged(with: $1) },
            blockOutputs: zip(blockOutputs, other.blockOutputs).map { $0.merged(with: $1) },
            output: output.merged(with: other.output))
    }

    /// `attn_entropy` per layer.
    public var attentionEntropy: [Double] { layers.map(\.entropy) }
    /// `attn_entropy_min` per layer.
    public var attentionEntropyMin: [Double] { layers.map(\.entropyMin) }
    /// `q_rms` and `k_rms` per layer.
    public var queryRMS: [Double] { layers.map(\.queryRMS) }
    public var keyRMS: [Double] { layers.map(\.keyRMS) }
    /// `attn_logit_max_cos`, `attn_logit_max_q_norm` and `attn_logit_max_k_norm` per layer.
    public var largestLogitCosine: [Double] { layers.map(\.largestLogitPair.cosine) }
    public var largestLogitQueryNorm: [Double] { layers.map(\.largestLogitPair.queryNorm) }
    public var largestLogitKeyNorm: [Double] { layers.map(\.largestLogitPair.keyNorm) }
    /// `block_output_rms` per layer.
    public var blockOutputRMS: [Double] { blockOutputs.map(\.rms) }
    /// `output_logit_max`.
    public var outputLogitMax: Float { output.logitMax }
    /// `output_logit_mean`.
    public var outputLogitMean: Double { output.logitMean }
    /// `output_lse_mean`.
    public var outputLogSumExpMean: Double { output.logSumExpMean }
}
