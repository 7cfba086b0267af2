import Foundation

/// Welch's unequal-variances t-test of two samples:
///
///     t = (mean(a) − mean(b)) / √(s²a/na + s²b/nb)
///     ν = (s²a/na + s²b/nb)² / ((s²a/na)²/(na − 1) + (s²b/nb)²/(nb − 1))     (Welch–Satterthwaite)
///     p = P(|T_ν| ≥ |t|)                                                       (two-sided)
///
/// The same numbers as scipy's `ttest_ind(a, b, equal_var=False)`.
public struct WelchTTest: Equatable {
    public let t: Double
    public let degreesOfFreedom: Double
    /// Two-sided p-value.
    public let pValue: Double

    /// nil when either sample has fewer than two values or both have zero variance (t undefined).
    public init?(_ a: [Double], _ b: [Double]) {
        guard let meanA = Statistics.mean(a), let meanB = Statistics.mean(b),
            let sdA = Statistics.standardDeviation(a), let sdB = Statistics.standardDeviation(b)
        else { return nil }
        let varianceA = sdA * sdA / Double(a.count)  // s²a / na
        let varianceB = sdB * sdB / Double(b.count)  // s²b / nb
        let standardError = (varianceA + varianceB).squareRoot()
        guard standardError > 0 else { return nil }
        t = (meanA - meanB) / standardError
        degreesOfFreedom =
            (varianceA + varianceB) * (varianceA + varianceB)
            / (varianceA * varianceA / Double(a.count - 1) + varianceB * varianceB / Double(b.count - 1))
        pValue = Statistics.studentTTwoSided(t, degreesOfFreedom: degreesOfFreedom)
    }
}

/// Sample statistics and the Student-t distribution, from first principles (no dependency).
public enum Statistics {
    /// Arithmetic mean; nil for no values.
    public static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Sample standard deviation √(Σ(x − x̄)² / (n − 1)); nil for fewer than two values.
    public static func standardDeviation(_ values: [Double]) -> Double? {
        guard values.count >= 2, let mean = mean(values) else { return nil }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// Median (the mean of the middle two for an even count); nil for no values.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Student-t cumulative distribution P(T_ν ≤ t), for ν > 0:
    /// `1 − ½·I_x(ν/2, ½)` for t > 0 and `½·I_x(ν/2, ½)` otherwise, with x = ν / (ν + t²).
    public static func studentTCDF(_ t: Double, degreesOfFreedom: Double) -> Double {
        let tail = studentTTwoSided(t, degreesOfFreedom: degreesOfFreedom) / 2
        return t > 0 ? 1 - tail : tail
    }

    /// Two-sided tail P(|T_ν| ≥ |t|) = I_x(ν/2, ½) with x = ν / (ν + t²); 0 for infinite t.
    public static func studentTTwoSided(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        guard t.isFinite else { return t.isNaN ? .nan : 0 }
        return regularizedIncompleteBeta(nu / (nu + t * t), a: nu / 2, b: 0.5)
    }

    /// The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0
    /// and 0 ≤ x ≤ 1 (clamped outside). Evaluated by its continued fraction (modified Lentz),
    /// which converges fast for x < (a + 1)/(a + b + 2); above that, by the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a). Relative accuracy about 1e-14 for moderate a, b.
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        // x^a (1−x)^b / B(a, b), in logs
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * betaContinuedFraction(x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    /// The continued fraction of I_x(a, b) (Numerical Recipes' `betacf`):
    /// 1/(1 + d₁/(1 + d₂/(1 + …))) with
    /// d₂ₘ₊₁ = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)),  d₂ₘ = m(b − m)x / ((a + 2m − 1)(a + 2m)).
    static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        func guarded(_ value: Double) -> Double { abs(value) < tiny ? tiny : value }
        var c = 1.0
        var d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var fraction = d
        for m in 1...500 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 / guarded(1 + even * d)
            c = guarded(1 + even / c)
            fraction *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 / guarded(1 + odd * d)
            c = guarded(1 + odd / c)
            let delta = d * c
            fraction *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return fraction
    }
}
