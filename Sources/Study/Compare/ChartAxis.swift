import Foundation

/// A chart axis: its range, scale and tick values, with "nice" bounds (1-2-5 steps on a linear
/// scale; 1-2-5 or whole decades on a log scale) that enclose the data.
struct ChartAxis {
    let lower: Double
    let upper: Double
    let isLog: Bool
    let ticks: [Double]

    /// A linear axis over [low, high] with about `tickCount` ticks at multiples of 1, 2 or 5 × 10ᵏ.
    static func linear(_ low: Double, _ high: Double, tickCount: Int = 6) -> ChartAxis {
        let (low, high) = high > low ? (low, high) : (low - max(abs(low) * 0.1, 1e-3), high + max(abs(high) * 0.1, 1e-3))
        let rough = (high - low) / Double(tickCount - 1)
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough * (1 - 1e-9) } ?? 10 * magnitude
        let first = (low / step + 1e-9).rounded(.down), last = (high / step - 1e-9).rounded(.up)
        let ticks = stride(from: first, through: last, by: 1).map { $0 * step }
        return ChartAxis(lower: first * step, upper: last * step, isLog: false, ticks: ticks)
    }

    /// A log₁₀ axis over [low, high] (both > 0): ticks at 1, 2, 5 × 10ᵏ when the data span at
    /// most two decades; otherwise at whole decades, every second or third one etc. so that
    /// there are at most seven.
    static func logarithmic(_ low: Double, _ high: Double) -> ChartAxis {
        let (low, high) = high > low ? (low, high) : (low / 2, high * 2)
        let firstDecade = Int(floor(log10(low))), lastDecade = Int(ceil(log10(high)))
        let decades = lastDecade - firstDecade
        guard decades > 2 else {
            let candidates = (firstDecade...lastDecade).flatMap { decade in [1.0, 2, 5].map { $0 * pow(10, Double(decade)) } }
            let lower = candidates.last { $0 <= low * (1 + 1e-9) } ?? candidates[0]
            let upper = candidates.first { $0 >= high * (1 - 1e-9) } ?? candidates[candidates.count - 1]
            return ChartAxis(lower: lower, upper: upper, isLog: true, ticks: candidates.filter { $0 >= lower && $0 <= upper })
        }
        let every = (decades + 5) / 6
        let last = firstDecade + (decades + every - 1) / every * every
        let ticks = stride(from: firstDecade, through: last, by: every).map { pow(10, Double($0)) }
        return ChartAxis(lower: ticks[0], upper: ticks[ticks.count - 1], isLog: true, ticks: ticks)
    }

    /// Where `value` falls, 0 at `lower` and 1 at `upper`, clamped to [0, 1]; nil for values a
    /// log axis cannot place (≤ 0) and for non-finite ones.
    func fraction(_ value: Double) -> Double? {
        guard value.isFinite, !isLog || value > 0 else { return nil }
        let position = isLog ? (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) : (value - lower) / (upper - lower)
        return min(max(position, 0), 1)
    }

    /// A tick's label: "%g" with a short exponent ("0.5", "2000", "1e-05" → "1e-5", "1e+29" → "1e29").
    static func label(_ value: Double) -> String {
        String(format: "%g", value).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
            .replacingOccurrences(of: "e-0", with: "e-")
    }
}
