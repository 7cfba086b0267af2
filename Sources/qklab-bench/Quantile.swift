/// The `q`-quantile (0…1) of ascending `sorted` values (which must not be empty), interpolating
/// linearly between neighbours (NumPy's default, "linear"): the benchmark's medians and quartiles.
func quantile(_ sorted: [Double], _ q: Double) -> Double {
    let position = q * Double(sorted.count - 1)
    let below = Int(position.rounded(.down)), above = min(below + 1, sorted.count - 1)
    return sorted[below] + (position - Double(below)) * (sorted[above] - sorted[below])
}

/// The median of `values` (which must not be empty), in any order.
func median(_ values: [Double]) -> Double { quantile(values.sorted(), 0.5) }
