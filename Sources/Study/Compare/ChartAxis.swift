import Foundation

/// A chart axis: its range, scale and tick values, with round bounds that enclose the data:
/// ticks at multiples of 1, 2 or 5 × 10ᵏ on a linear scale; at 1, 2, 5 × 10ᵏ or at whole decades
/// on a log scale. Tick values are the doubles nearest those decimals (3 × 0.1 is 0.3, not
/// 0.30000000000000004), so labels and tests see round numbers. Shared by every chart of Study.
public struct ChartAxis: Equatable, Sendable {
    public let lower: Double
    public let upper: Double
    public let isLog: Bool
    public let ticks: [Double]

    /// A linear axis over [low, high] with about `tickCount` ticks (at least 3, at most
    /// 2 × `tickCount`) at multiples of 1, 2 or 5 × 10ᵏ; its bounds are the ticks just enclosing
    /// the data. An empty range (low = high) is widened by 10% of its value, or by 0.001 at 0.
    public static func linear(_ low: Double, _ high: Double, tickCount: Int = 6) -> ChartAxis {
        let (low, high) =
            high > low ? (low, high) : (low - max(abs(low) * 0.1, 1e-3), high + max(abs(high) * 0.1, 1e-3))
        let rough = (high - low) / Double(max(tickCount, 3) - 1)
        var exponent = Int(floor(log10(rough)))
        var mantissa = [1.0, 2, 5].first { value(1, mantissa: $0, exponent: exponent) >= rough * (1 - 1e-9) }
        if mantissa == nil { (mantissa, exponent) = (1, exponent + 1) }
        let step = value(1, mantissa: mantissa!, exponent: exponent)
        let first = Int((low / step + 1e-9).rounded(.down)), last = Int((high / step - 1e-9).rounded(.up))
        let ticks = (first...last).map { value(Double($0), mantissa: mantissa!, exponent: exponent) }
        return ChartAxis(lower: ticks[0], upper: ticks[ticks.count - 1], isLog: false, ticks: ticks)
    }

    /// A log₁₀ axis over [low, high] (both > 0): ticks at 1, 2, 5 × 10ᵏ when the data span at
    /// most two decades, its bounds the ticks just enclosing the data; otherwise at whole
    /// decades — every one, or every second, third … so that there are at most seven.
    public static func logarithmic(_ low: Double, _ high: Double) -> ChartAxis {
        let (low, high) = high > low ? (low, high) : (low / 2, high * 2)
        let firstDecade = Int(floor(log10(low) + 1e-9)), lastDecade = Int(ceil(log10(high) - 1e-9))
        let decades = lastDecade - firstDecade
        guard decades > 2 else {
            let candidates = (firstDecade...max(lastDecade, firstDecade + 1)).flatMap { decade in
                [1.0, 2, 5].map { value(1, mantissa: $0, exponent: decade) }
            }
            let lower = candidates.last { $0 <= low * (1 + 1e-9) } ?? candidates[0]
            let upper = candidates.first { $0 >= high * (1 - 1e-9) } ?? candidates[candidates.count - 1]
            return ChartAxis(
                lower: lower, upper: upper, isLog: true, ticks: candidates.filter { $0 >= lower && $0 <= upper })
        }
        let every = (decades + 5) / 6
        let last = firstDecade + (decades + every - 1) / every * every
        let ticks = stride(from: firstDecade, through: last, by: every).map { value(1, mantissa: 1, exponent: $0) }
        return ChartAxis(lower: ticks[0], upper: ticks[ticks.count - 1], isLog: true, ticks: ticks)
    }

    /// count × mantissa × 10^exponent, as the double nearest that decimal (a division by an exact
    /// power of ten for negative exponents, whose result is correctly rounded).
    static func value(_ count: Double, mantissa: Double, exponent: Int) -> Double {
        exponent >= 0 ? count * mantissa * pow(10, Double(exponent)) : count * mantissa / pow(10, Double(-exponent))
    }

    /// Where `value` falls, 0 at `lower` and 1 at `upper`, clamped to [0, 1]; nil for values a
    /// log axis cannot place (≤ 0) and for non-finite ones.
    public func fraction(_ value: Double) -> Double? {
        guard value.isFinite, !isLog || value > 0 else { return nil }
        let position =
            isLog ? (log10(value) - log10(lower)) / (log10(upper) - log10(lower)) : (value - lower) / (upper - lower)
        return min(max(position, 0), 1)
    }

    /// The labels of `ticks` in one notation for the whole axis: plain decimals ("0.5", "2000")
    /// when every tick reads well so, otherwise every tick as mantissa e exponent ("1e4", "1e5",
    /// "1e6"; "2e-3"), never a mix such as "10000, 100000, 1e6".
    public var tickLabels: [String] { Self.labels(ticks) }

    /// `values` labelled in one notation (see `tickLabels`).
    public static func labels(_ values: [Double]) -> [String] {
        let plain = values.map(label)
        guard plain.contains(where: { $0.contains("e") }) else { return plain }
        return values.map(scientific)
    }

    /// "1e4", "2.5e-3", "0": a mantissa of up to four significant digits and a short exponent.
    static func scientific(_ value: Double) -> String {
        guard value != 0, value.isFinite else { return label(value) }
        let exponent = Int(floor(log10(abs(value)) + 1e-9))
        let mantissa = String(format: "%.4g", value / pow(10, Double(exponent)))
        return "\(mantissa)e\(exponent)"
    }

    /// A tick's label: "%g" with a short exponent ("0.5", "2000", "1e-05" → "1e-5", "1e+29" → "1e29").
    public static func label(_ value: Double) -> String {
        String(format: "%g", value).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
            .replacingOccurrences(of: "e-0", with: "e-")
    }
}
