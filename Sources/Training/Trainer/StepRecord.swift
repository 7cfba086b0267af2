/// What one training step measured: the numbers of a metrics line, and of the non-finite
/// report when a step goes wrong.
public struct StepRecord: Codable {
    public var step: Int
    public var loss: Float
    /// Plain cross-entropy (differs from `loss` when z-loss is on).
    public var crossEntropy: Float
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    public var layerGradientNorms: [Double]
    public var attentionLogitMax: [Float]
    /// Start of each window of the step's batch in the training split (to replay it).
    public var windowOffsets: [Int]
    /// The stability telemetry, on measured (logged) steps.
    public var telemetry: StepTelemetry?
    /// What QK-Clip did after the update (`optim.qk_clip_tau` > 0, finite steps).
    public var qkClip: QKClip.Report? = nil

    /// Whether loss and gradient are finite (a non-finite gradient shows in its norm).
    public var isFinite: Bool { loss.isFinite && gradientNorm.isFinite }

    enum CodingKeys: String, CodingKey {
        case step, loss
        case crossEntropy = "ce_loss"
        case learningRate = "lr"
        case gradientNorm = "grad_norm"
        case layerGradientNorms = "grad_norm_layers"
        case attentionLogitMax = "attn_logit_max"
        case windowOffsets = "window_offsets"
    }

    /// JSON has no NaN or infinity: non-finite numbers are encoded as null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }
        try c.encode(step, forKey: .step)
        try c.encode(finite(Double(loss)), forKey: .loss)
        try c.encode(finite(Double(crossEntropy)), forKey: .crossEntropy)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(finite(gradientNorm), forKey: .gradientNorm)
        try c.encode(layerGradientNorms.map(finite), forKey: .layerGradientNorms)
        try c.encode(attentionLogitMax.map { finite(Double($0)) }, forKey: .attentionLogitMax)
        try c.encode(windowOffsets, forKey: .windowOffsets)
        try telemetry?.encode(to: encoder)  // its keys beside these, as in metrics.jsonl
    }
}
