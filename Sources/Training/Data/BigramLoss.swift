import Foundation

/// The corpus's bigram loss (docs/metrics.md, "Stability telemetry"): the validation cross-entropy,
/// in nats per token, of an add-one-smoothed character bigram model fitted on the training split,
///
///     p(b | a) = (n(a, b) + 1) / (n(a) + V)
///
/// with n counting the training split's transitions a → b (n(a) = Σ_b n(a, b)) and V the
/// vocabulary size, averaged over the validation split's transitions. It is what a zero-layer
/// model can reach: a run whose final loss is above it has learned less than a bigram table
/// (the zero-layer yardstick of Wortsman et al. 2023, Fig. 10).
public enum BigramLoss {
    /// The bigram loss of `validation` under a model fitted on `train` (token ids below
    /// `vocabularySize`); NaN when the validation split has fewer than two tokens.
    public static func of(train: [Int32], validation: [Int32], vocabularySize: Int) -> Double {
        guard validation.count >= 2 else { return .nan }
        var pairCounts: [Int: Int] = [:], firstCounts = [Int](repeating: 0, count: vocabularySize)
        for (a, b) in zip(train, train.dropFirst()) {
            pairCounts[Int(a) * vocabularySize + Int(b), default: 0] += 1
            firstCounts[Int(a)] += 1
        }
        var total = 0.0
        for (a, b) in zip(validation, validation.dropFirst()) {
            let pair = Double(pairCounts[Int(a) * vocabularySize + Int(b)] ?? 0)
            total -= Foundation.log((pair + 1) / (Double(firstCounts[Int(a)]) + Double(vocabularySize)))
        }
        return total / Double(validation.count - 1)
    }
}
