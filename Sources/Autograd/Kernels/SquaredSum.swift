/// `Σ (a_i − b_i)²` over `count` floats (`Σ a_i²` when `b` is nil), in Double over 16-lane Float
/// partial sums of 4096 elements: a fixed order, so the result never depends on threads.
/// Gradient norms, q/k RMS and update ratios all use it.
public func squaredSum(_ a: UnsafePointer<Float>, minus b: UnsafePointer<Float>? = nil, count: Int) -> Double {
    var total = 0.0
    for blockStart in stride(from: 0, to: count, by: 4096) {
        var block = Vector()
        forEachVector(blockStart..<min(count, blockStart + 4096)) { i, lanes in
            let difference = load(a, i, lanes) - (b.map { load($0, i, lanes) } ?? Vector())
            block += difference * difference
        }
        total += Double(block.sum())
    }
    return total
}
