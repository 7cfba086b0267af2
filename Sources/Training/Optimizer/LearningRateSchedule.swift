import Foundation

/// Linear warmup, then cosine decay to `min_lr` (docs/spec/model.md). Steps count from 1.
///
///     lr(s) = lr · s / W                                          s ≤ W
///     lr(s) = min_lr + ½(1 + cos(π·(s−W)/(D−W))) · (lr − min_lr)   W < s ≤ D
///     lr(s) = min_lr                                              s > D
public struct LearningRateSchedule: Equatable {
    public let peak: Double
    public let minimum: Double
    public let warmupSteps: Int
    public let decaySteps: Int

    public init(peak: Double, minimum: Double, warmupSteps: Int, decaySteps: Int) {
        (self.peak, self.minimum, self.warmupSteps, self.decaySteps) = (peak, minimum, warmupSteps, decaySteps)
    }

    /// The schedule of a config (defaults: min_lr = lr/10, decay_steps = max_steps).
    public init(_ config: TrainingConfig) {
        self.init(
            peak: config.optim.lr, minimum: config.optim.minLR ?? config.optim.lr / 10,
            warmupSteps: config.optim.warmupSteps, decaySteps: config.optim.decaySteps ?? config.train.maxSteps)
    }

    /// Learning rate of optimizer step `step` (≥ 1).
    /// At the end of the warmup it is `lr` exactly (`lr · W / W` can round to the next double,
    /// 0.00030000000000000003), and after `decay_steps` `min_lr` exactly.
    public func rate(at step: Int) -> Double {
        if step == warmupSteps { return peak }
        if step < warmupSteps { return peak * Double(step) / Double(warmupSteps) }
        if step > decaySteps { return minimum }
        let progress = Double(step - warmupSteps) / Double(decaySteps - warmupSteps)
        return minimum + 0.5 * (1 + cos(Double.pi * progress)) * (peak - minimum)
    }
}
