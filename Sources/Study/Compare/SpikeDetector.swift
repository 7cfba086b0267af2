/// Finds loss spikes in a run's logged training losses.
///
/// A logged step is a spike when its loss is not finite (`null` in metrics.jsonl), or when it
/// exceeds the median of the previous `window` finite logged losses by more than `threshold`
/// nats. The first logged loss has nothing to compare with and is never a spike (unless
/// non-finite). "Logged" matters: with `log_interval = 10`, 50 lines span 500 steps.
public struct SpikeDetector: Equatable {
    /// How many previous finite logged losses the running median covers.
    public var window: Int
    /// How far above the running median (in nats) a loss must be to count.
    public var threshold: Double

    public init(window: Int = 50, threshold: Double = 0.5) {
        self.window = window
        self.threshold = threshold
    }

    /// The steps of the spikes among `losses` (in step order; nil = non-finite).
    public func spikes(in losses: [(step: Int, loss: Double?)]) -> [Int] {
        var recent: [Double] = []
        var spikes: [Int] = []
        for (step, loss) in losses {
            guard let loss, loss.isFinite else {
                spikes.append(step)
                continue
            }
            if let median = Statistics.median(recent), loss > median + threshold { spikes.append(step) }
            recent.append(loss)
            if recent.count > window { recent.removeFirst() }
        }
        return spikes
    }
}
