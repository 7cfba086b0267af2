/// OLMo 2's spike score (OLMo et al. 2024, "2 OLMo 2 Furious", §3.1) of a logged series — the
/// training loss or the gradient norm: the percentage of values that lie at least `deviations`
/// standard deviations from the mean of the previous up to `window` finite values.
///
/// Readings where the sources leave a choice (docs/metrics.md):
/// - a value is judged only when at least `minimumHistory` finite values precede it; the
///   percentage is of the values judged (the first ones have nothing to be judged against);
/// - there is no percentage below `minimumJudged` judged values (QKLab's choice: with fewer, one
///   spike moves it by more than 5 points and none says little, so "0.00% (0 of 1)" of a short
///   run would claim a stability nobody measured);
/// - the standard deviation is the sample one (n − 1), as a rolling `std` in pandas computes it;
/// - the previous values include earlier spikes (a rolling average of the series, as in OLMo 2);
/// - a value equal to the mean is never a spike, even when the standard deviation is 0;
/// - a non-finite value (`null`) is a spike when judged (it is infinitely far from any mean) and
///   never enters the history.
/// "Logged" matters: with `log_interval = 10`, 1000 values span 10,000 steps.
public struct SpikeScore: Equatable, Sendable {
    /// The steps of the spikes, and how many values were judged.
    public let spikeSteps: [Int]
    public let judged: Int

    /// The fewest judged values a percentage is given for.
    public static let minimumJudged = 20

    /// The percentage of judged values that are spikes; nil below `minimumJudged` judged values.
    public var percent: Double? {
        judged >= Self.minimumJudged ? 100 * Double(spikeSteps.count) / Double(judged) : nil
    }

    /// Scores `series` (in step order; nil = non-finite) with OLMo 2's constants by default.
    public init(
        _ series: [(step: Int, value: Double?)], deviations: Double = 7, window: Int = 1000, minimumHistory: Int = 20
    ) {
        var history: [Double] = []
        var spikes: [Int] = []
        var judged = 0
        for (step, value) in series {
            let finite = value.flatMap { $0.isFinite ? $0 : nil }
            if history.count >= minimumHistory, let mean = Statistics.mean(history),
                let spread = Statistics.standardDeviation(history)
            {
                judged += 1
                let distance = finite.map { abs($0 - mean) } ?? .infinity
                if distance > 0 && distance >= deviations * spread { spikes.append(step) }
            }
            guard let finite else { continue }
            history.append(finite)
            if history.count > window { history.removeFirst() }
        }
        spikeSteps = spikes
        self.judged = judged
    }
}
