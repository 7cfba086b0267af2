/// The numbers `qklab compare` reports for one run.
public struct RunSummary {
    /// The last logged step and the step the run is configured to reach.
    public let lastStep: Int?
    public let maxSteps: Int
    /// The last evaluation (its loss nil when it was non-finite); nil when there was none.
    public let finalEvaluation: RunHistory.Evaluation?
    /// The smallest finite validation loss.
    public let bestValLoss: Double?
    /// The first evaluation step whose validation loss was ≤ the target, if one was given and reached.
    public let targetStep: Int?
    /// The largest finite global gradient norm.
    public let maxGradNorm: Double?
    /// OLMo 2's spike scores (`SpikeScore`) of the logged training loss and gradient norm.
    public let lossSpikes: SpikeScore
    public let gradNormSpikes: SpikeScore
    /// The largest finite attention logit of any layer at any logged step, and its layer (0-based).
    public let maxAttnLogit: (value: Double, layer: Int)?
    /// The largest finite attention logit of layer 0 (element 0 of `attn_logit_max`) at any logged
    /// step: the layer Wortsman et al. 2023 report (Fig. 2).
    public let maxAttnLogitLayer0: Double?
    /// Steps whose loss or gradient was non-finite (skipped, or the one that stopped the run).
    public let nonFiniteSteps: Int
    /// Median of the logged `tokens_per_s`.
    public let medianTokensPerSecond: Double?
    /// The corpus's bigram loss, when the run recorded it.
    public let bigramLoss: Double?
    /// The lowest `attn_entropy` (a layer's mean over heads) and the lowest `attn_entropy_min`
    /// (a single head's mean), with where.
    public let minAttnEntropy: LayerExtremum?
    public let minHeadEntropy: LayerExtremum?
    /// The largest `q_rms` or `k_rms` (metric "q" or "k").
    public let maxQKRMS: LayerExtremum?
    /// The largest `update_ratio`.
    public let maxUpdateRatio: LayerExtremum?
    /// `output_lse_mean` of the last logged step that has it.
    public let finalOutputLogZ: Double?

    public init(_ run: RunHistory, target: Double? = nil) {
        lastStep = run.lastStep
        maxSteps = run.config.integer("train.max_steps") ?? 0
        finalEvaluation = run.evaluations.last
        let valLosses = run.evaluations.compactMap(\.valLoss)
        bestValLoss = valLosses.min()
        targetStep = target.flatMap { target in run.evaluations.first { ($0.valLoss ?? .infinity) <= target }?.step }
        maxGradNorm = run.training.compactMap(\.gradNorm).max()
        lossSpikes = SpikeScore(run.training.map { ($0.step, $0.loss) })
        gradNormSpikes = SpikeScore(run.training.map { ($0.step, $0.gradNorm) })
        maxAttnLogit = run.training.compactMap(\.maxAttnLogit).max { $0.value < $1.value }
        maxAttnLogitLayer0 = run.training.compactMap { $0.attnLogitMax.first ?? nil }.max()
        nonFiniteSteps = max(
            run.training.filter(\.isNonFinite).count, run.training.compactMap(\.skippedSteps).max() ?? 0)
        medianTokensPerSecond = Statistics.median(run.training.compactMap(\.tokensPerSecond))
        bigramLoss = run.bigramLoss
        minAttnEntropy = LayerExtremum.smallest(in: run.training, of: [(nil, \.telemetry.attnEntropy)])
        minHeadEntropy = LayerExtremum.smallest(in: run.training, of: [(nil, \.telemetry.attnEntropyMin)])
        maxQKRMS = LayerExtremum.largest(in: run.training, of: [("q", \.telemetry.qRMS), ("k", \.telemetry.kRMS)])
        maxUpdateRatio = LayerExtremum.largest(in: run.training, of: [(nil, \.telemetry.updateRatio)])
        finalOutputLogZ = run.training.lazy.reversed().compactMap(\.telemetry.outputLogSumExpMean).first
    }

    /// The final validation loss when it is finite.
    public var finalValLoss: Double? { finalEvaluation?.valLoss }
}
