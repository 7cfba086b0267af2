import Foundation

/// The learning-rate sensitivity of Wortsman et al. 2023, "Small-scale proxies for large-scale
/// Transformer training instabilities" (arXiv 2309.14322), §2.2:
///
///     LR sensitivity = E_η[ min(ℓ(𝒜(η)), ℓ0) − ℓ* ]
///
/// - η ranges over the grid's learning rates; E_η is the plain mean over them.
/// - ℓ(𝒜(η)): the final validation loss of training at learning rate η. With several seeds,
///   QKLab averages the seeds' final losses first and caps the mean after; a seed whose run is
///   non-finite makes that learning rate's loss +∞, so it counts at ℓ0.
/// - ℓ0: the loss at initialisation (QKLab: the loss of step 1, before the first update).
/// - ℓ*: the best (lowest) of those seed-averaged final losses over the grid.
///
/// Window rule (the paper's App. B and Fig. 6): the paper's grid spans three decades (3e-4 …
/// 3e-1); when a grid spans more than `decades` decades, the sensitivity is the minimum over the
/// `decades`-wide windows of grid learning rates it contains (each window starting at a grid
/// learning rate), each computed by the formula above on the window's learning rates alone (its
/// own ℓ*), and the window that gives the minimum is reported.
///
/// Nothing else enters: in particular QKLab's "above bigram loss" count (`SweepSummary`) is a
/// separate column and never part of this number.
public enum LRSensitivity {
    /// The paper's window width, in decades of learning rate (App. B).
    public static let paperWindowDecades = 3.0

    /// The sensitivity and, when the window rule chose one, the learning rates of the window.
    public struct Value: Equatable {
        public let value: Double
        /// The lowest and highest learning rate of the winning window; nil when the whole grid
        /// is within the window width.
        public let window: ClosedRange<Double>?
    }

    /// The formula on one curve: `finalLosses` (+∞ for a non-finite run) at the grid's learning
    /// rates, `initialLoss` = ℓ0. nil when no loss is finite (no ℓ*) or the grid is empty.
    public static func value(finalLosses: [Double], initialLoss: Double) -> Double? {
        guard let best = finalLosses.filter(\.isFinite).min() else { return nil }
        return finalLosses.map { min($0, initialLoss) - best }.reduce(0, +) / Double(finalLosses.count)
    }

    /// The same from every seed's final loss at each learning rate: each learning rate's seeds
    /// are averaged first (+∞ if any is), then the mean is capped at `initialLoss`.
    public static func value(seedFinalLosses: [[Double]], initialLoss: Double) -> Double? {
        value(finalLosses: seedFinalLosses.map(seedMean), initialLoss: initialLoss)
    }

    /// The mean of one learning rate's seeds: +∞ when a seed's loss is, or there are none.
    public static func seedMean(_ losses: [Double]) -> Double {
        losses.isEmpty || losses.contains(.infinity) ? .infinity : losses.reduce(0, +) / Double(losses.count)
    }

    /// The window rule over `rates` (increasing) and their `finalLosses`: the plain value when
    /// the grid spans at most `decades` decades, otherwise the minimum over the windows.
    /// nil when no window has a finite loss.
    public static func windowed(
        rates: [Double], finalLosses: [Double], initialLoss: Double, decades: Double = paperWindowDecades
    ) -> Value? {
        precondition(rates.count == finalLosses.count, "one loss per learning rate")
        guard let low = rates.first, let high = rates.last else { return nil }
        let tolerance = 1e-9
        guard log10(high / low) > decades + tolerance else {
            return value(finalLosses: finalLosses, initialLoss: initialLoss).map { Value(value: $0, window: nil) }
        }
        var best: Value?
        for (start, rate) in rates.enumerated() where log10(high / rate) >= decades - tolerance {
            let members = rates.indices.filter { $0 >= start && log10(rates[$0] / rate) <= decades + tolerance }
            guard
                let candidate = value(finalLosses: members.map { finalLosses[$0] }, initialLoss: initialLoss),
                candidate < best?.value ?? .infinity
            else { continue }
            best = Value(value: candidate, window: rate...rates[members.last!])
        }
        return best
    }
}
