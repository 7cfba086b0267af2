import Autograd

/// The stability telemetry of one forward pass (docs/metrics.md, "Stability telemetry"): each
/// layer's attention entropy and q/k sums, and the output logits' maximum and log Z. Kept as sums,
/// so that batch shards merge exactly (in shard order); the metrics are read off the merged sums.
public struct ModelTelemetry: Equatable {
    /// One per decoder layer, in order.
    public var layers: [AttentionStatistics]
    public var output: OutputStatistics

    public init(layers: [AttentionStatistics], output: OutputStatistics) {
        (self.layers, self.output) = (layers, output)
    }

    /// The telemetry of two shards together (`self` first).
    public func merged(with other: ModelTelemetry) -> ModelTelemetry {
        ModelTelemetry(
            layers: zip(layers, other.layers).map { $0.merged(with: $1) }, output: output.merged(with: other.output))
    }

    /// `attn_entropy` per layer.
    public var attentionEntropy: [Double] { layers.map(\.entropy) }
    /// `attn_entropy_min` per layer.
    public var attentionEntropyMin: [Double] { layers.map(\.entropyMin) }
    /// `q_rms` and `k_rms` per layer.
    public var queryRMS: [Double] { layers.map(\.queryRMS) }
    public var keyRMS: [Double] { layers.map(\.keyRMS) }
    /// `output_logit_max`.
    public var outputLogitMax: Float { output.logitMax }
    /// `output_logit_mean`.
    public var outputLogitMean: Double { output.logitMean }
    /// `output_lse_mean`.
    public var outputLogSumExpMean: Double { output.logSumExpMean }
}
