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
    /// Steps of the loss spikes (see `SpikeDetector`).
    public let spikeSteps: [Int]
    /// The largest finite attention logit of any layer at any logged step, and its layer (0-based).
    public let maxAttnLogit: (value: Double, layer: Int)?
    /// Steps whose loss or gradient was non-finite (skipped, or the one that stopped the run).
    public let nonFiniteSteps: Int
    /// Median of the logged `tokens_per_s`.
    public let medianTokensPerSecond: Double?

    public init(_ run: RunHistory, target: Double? = nil, spikes detector: SpikeDetector = SpikeDetector()) {
        lastStep = run.lastStep
        maxSteps = run.config.integer("train.max_steps") ?? 0
        finalEvaluation = run.evaluations.last
        let valLosses = run.evaluations.compactMap(\.valLoss)
        bestValLoss = valLosses.min()
        targetStep = target.flatMap { target in run.evaluations.first { ($0.valLoss ?? .infinity) <= target }?.step }
        maxGradNorm = run.training.compactMap(\.gradNorm).max()
        spikeSteps = detector.spikes(in: run.training.map { ($0.step, $0.loss) })
        maxAttnLogit = run.training.compactMap(\.maxAttnLogit).max { $0.value < $1.value }
        nonFiniteSteps = max(run.training.filter(\.isNonFinite).count, run.training.compactMap(\.skippedSteps).max() ?? 0)
        medianTokensPerSecond = Statistics.median(run.training.compactMap(\.tokensPerSecond))
    }

    /// The final validation loss when it is finite.
    public var finalValLoss: Double? { finalEvaluation?.valLoss }
}
