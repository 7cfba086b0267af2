/// The stability telemetry of one logged training step, as metrics.jsonl holds it (docs/metrics.md,
/// "Stability telemetry"). Per-layer lists have one entry per decoder layer (nil for `null`) and
/// are empty when the line lacks the key (runs written before the telemetry existed).
public struct StabilityTelemetry: Equatable, Sendable {
    /// `attn_entropy`: per layer, the mean over heads, batch rows and query positions t ≥ 1 of
    /// the attention entropy H_t / ln(t + 1) (1 = even over the visible keys, 0 = one-hot).
    public var attnEntropy: [Double?] = []
    /// `attn_entropy_min`: per layer, the smallest per-head mean of the same quantity.
    public var attnEntropyMin: [Double?] = []
    /// `q_rms`, `k_rms`: per layer, the root mean square of q and k entering q·kᵀ (after QK-Norm
    /// and RoPE; dimensionless, 1 under QK-Norm with unit gains).
    public var qRMS: [Double?] = []
    public var kRMS: [Double?] = []
    /// `update_ratio`: per layer, ‖θ_after − θ_before‖₂ / ‖θ_before‖₂ of the step's update.
    public var updateRatio: [Double?] = []
    /// `output_logit_max`: the largest |logit| of the output head over the batch.
    public var outputLogitMax: Double?
    /// `output_lse_mean`: the mean over tokens of log Z = logsumexp of the output logits (nats).
    public var outputLogSumExpMean: Double?

    public init() {}

    /// The telemetry keys of a metrics.jsonl training line.
    init(_ line: [String: Any]) {
        attnEntropy = RunHistory.numbers(line["attn_entropy"])
        attnEntropyMin = RunHistory.numbers(line["attn_entropy_min"])
        qRMS = RunHistory.numbers(line["q_rms"])
        kRMS = RunHistory.numbers(line["k_rms"])
        updateRatio = RunHistory.numbers(line["update_ratio"])
        outputLogitMax = RunHistory.number(line["output_logit_max"])
        outputLogSumExpMean = RunHistory.number(line["output_lse_mean"])
    }
}
