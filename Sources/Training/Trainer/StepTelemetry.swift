import Formats
import Transformer

/// The stability telemetry of one logged step (docs/metrics.md, "Stability telemetry"): what
/// `metrics.jsonl`, the TensorBoard events and `nonfinite.json` record besides loss and gradient
/// norms. Per-layer values are lists of `n_layer` numbers.
public struct StepTelemetry: Codable, Equatable {
    /// `attn_entropy`: mean normalised attention entropy (1 = even over the visible keys, 0 = one-hot).
    public var attentionEntropy: [Double]
    /// `attn_entropy_min`: the smallest per-head mean.
    public var attentionEntropyMin: [Double]
    /// `attn_logit_max_capped`: with `attn_softcap`, the largest |attention logit| after the cap
    /// (what the softmax sees; `attn_logit_max` stays the logit before it); nil without a cap.
    public var attentionLogitMaxCapped: [Double]?
    /// `attn_logit_max_cos`, `attn_logit_max_q_norm`, `attn_logit_max_k_norm`: at the (query, key)
    /// pair of `attn_logit_max`, cos(q, k) and ‖q‖₂, ‖k‖₂ (`LargestLogitPair`).
    public var attentionLogitMaxCosine: [Double]
    public var attentionLogitMaxQueryNorm: [Double]
    public var attentionLogitMaxKeyNorm: [Double]
    /// `q_rms`, `k_rms`: root mean square of q and k entering q·kᵀ (after QK-Norm and RoPE).
    public var queryRMS: [Double]
    public var keyRMS: [Double]
    /// `block_output_rms`: root mean square of each block's output, the residual stream.
    public var blockOutputRMS: [Double]
    /// `update_ratio`: ‖Δθ‖ / ‖θ‖ of each layer for this step's update (nil when no update was
    /// applied, e.g. a non-finite step).
    public var updateRatio: [Double]?
    /// The per-matrix RMS of gradients, updates and weights (nil on a step measured only to
    /// explain a non-finite value).
    public var matrices: MatrixTelemetry?
    /// `output_logit_max`: the largest |logit| of the output head over the batch.
    public var outputLogitMax: Double
    /// `output_logit_mean`: the mean of the output logits over the batch's tokens and the
    /// vocabulary (Wortsman et al. 2023 Fig. 4's drift).
    public var outputLogitMean: Double
    /// `output_lse_mean`: the mean over tokens of log Z.
    public var outputLogSumExpMean: Double

    /// The metrics of a forward pass's telemetry, with the update ratios and per-matrix RMS if
    /// measured and the capped attention logits if the model caps them.
    public init(
        _ model: ModelTelemetry, updateRatio: [Double]?, matrices: MatrixTelemetry? = nil,
        attentionSoftcapped: Bool = false
    ) {
        self.matrices = matrices
        attentionLogitMaxCapped = attentionSoftcapped ? model.layers.map { Double($0.cappedLogitMax) } : nil
        attentionEntropy = model.attentionEntropy
        attentionEntropyMin = model.attentionEntropyMin
        attentionLogitMaxCosine = model.largestLogitCosine
        attentionLogitMaxQueryNorm = model.largestLogitQueryNorm
        attentionLogitMaxKeyNorm = model.largestLogitKeyNorm
        queryRMS = model.queryRMS
        keyRMS = model.keyRMS
        blockOutputRMS = model.blockOutputRMS
        self.updateRatio = updateRatio
        outputLogitMax = Double(model.outputLogitMax)
        outputLogitMean = model.outputLogitMean
        outputLogSumExpMean = model.outputLogSumExpMean
    }

    enum CodingKeys: String, CodingKey {
        case attentionEntropy = "attn_entropy"
        case attentionEntropyMin = "attn_entropy_min"
        case attentionLogitMaxCapped = "attn_logit_max_capped"
        case attentionLogitMaxCosine = "attn_logit_max_cos"
        case attentionLogitMaxQueryNorm = "attn_logit_max_q_norm"
        case attentionLogitMaxKeyNorm = "attn_logit_max_k_norm"
        case queryRMS = "q_rms"
        case keyRMS = "k_rms"
        case blockOutputRMS = "block_output_rms"
        case updateRatio = "update_ratio"
        case outputLogitMax = "output_logit_max"
        case outputLogitMean = "output_logit_mean"
        case outputLogSumExpMean = "output_lse_mean"
    }

    /// JSON has no NaN or infinity: non-finite numbers are encoded as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
        try c.encode(attentionEntropy.map(finite), forKey: .attentionEntropy)
        try c.encode(attentionEntropyMin.map(finite), forKey: .attentionEntropyMin)
        try c.encodeIfPresent(attentionLogitMaxCapped.map { $0.map(finite) }, forKey: .attentionLogitMaxCapped)
        try c.encode(attentionLogitMaxCosine.map(finite), forKey: .attentionLogitMaxCosine)
        try c.encode(attentionLogitMaxQueryNorm.map(finite), forKey: .attentionLogitMaxQueryNorm)
        try c.encode(attentionLogitMaxKeyNorm.map(finite), forKey: .attentionLogitMaxKeyNorm)
        try c.encode(queryRMS.map(finite), forKey: .queryRMS)
        try c.encode(keyRMS.map(finite), forKey: .keyRMS)
        try c.encode(blockOutputRMS.map(finite), forKey: .blockOutputRMS)
        try c.encode(updateRatio.map { $0.map(finite) }, forKey: .updateRatio)
        try c.encode(finite(outputLogitMax), forKey: .outputLogitMax)
        try c.encode(finite(outputLogitMean), forKey: .outputLogitMean)
        try c.encode(finite(outputLogSumExpMean), forKey: .outputLogSumExpMean)
        var named = encoder.container(keyedBy: NamedKey.self)
        for (key, values) in matrices?.keyedValues ?? [] { try named.encode(values.map(finite), forKey: NamedKey(key)) }
    }

    /// A key known only at run time (the per-matrix keys).
    struct NamedKey: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.init(stringValue) }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// The metrics lines' fields, in docs/metrics.md's order.
    var metricsFields: [(key: String, value: MetricsRecord.Value)] {
        var fields: [(key: String, value: MetricsRecord.Value)] = [
            ("attn_entropy", .numbers(attentionEntropy.map(Float.init))),
            ("attn_entropy_min", .numbers(attentionEntropyMin.map(Float.init))),
        ]
        if let capped = attentionLogitMaxCapped {
            fields.append(("attn_logit_max_capped", .numbers(capped.map(Float.init))))
        }
        fields += [
            ("attn_logit_max_cos", .numbers(attentionLogitMaxCosine.map(Float.init))),
            ("attn_logit_max_q_norm", .numbers(attentionLogitMaxQueryNorm.map(Float.init))),
            ("attn_logit_max_k_norm", .numbers(attentionLogitMaxKeyNorm.map(Float.init))),
            ("q_rms", .numbers(queryRMS.map(Float.init))), ("k_rms", .numbers(keyRMS.map(Float.init))),
            ("block_output_rms", .numbers(blockOutputRMS.map(Float.init))),
        ]
        if let updateRatio { fields.append(("update_ratio", .numbers(updateRatio.map(Float.init)))) }
        fields += [
            ("output_logit_max", .number(Float(outputLogitMax))), ("output_logit_mean", .precise(outputLogitMean)),
            ("output_lse_mean", .precise(outputLogSumExpMean)),
        ]
        fields += (matrices?.keyedValues ?? []).map { ($0.key, .numbers($0.values.map(Float.init))) }
        return fields
    }

    /// TensorBoard scalars: per-layer values as `key/layer`, like `attn_logit_max/0`.
    var scalars: [(tag: String, value: Float)] {
        var perLayer: [(String, [Double])] = [
            ("attn_entropy", attentionEntropy), ("attn_entropy_min", attentionEntropyMin),
            ("attn_logit_max_cos", attentionLogitMaxCosine), ("attn_logit_max_q_norm", attentionLogitMaxQueryNorm),
            ("attn_logit_max_k_norm", attentionLogitMaxKeyNorm), ("q_rms", queryRMS), ("k_rms", keyRMS),
            ("block_output_rms", blockOutputRMS),
        ]
        if let updateRatio { perLayer.append(("update_ratio", updateRatio)) }
        if let capped = attentionLogitMaxCapped { perLayer.append(("attn_logit_max_capped", capped)) }
        perLayer += matrices?.keyedValues ?? []
        return perLayer.flatMap { key, values in values.enumerated().map { ("\(key)/\($0.offset)", Float($0.element)) }
        }
            + [
                ("output_logit_max", Float(outputLogitMax)), ("output_logit_mean", Float(outputLogitMean)),
                ("output_lse_mean", Float(outputLogSumExpMean)),
            ]
    }
}
