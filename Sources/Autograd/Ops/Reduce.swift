/// Reductions to a scalar. Sums run in Double, in index order: deterministic and accurate.

/// `Σ x` as a one-element tensor of shape `[]`. Pullback: `dx += dOut`.
public func sum(_ x: Tensor) -> Tensor {
    reduceToScalar(x, scale: 1)
}

/// `Σ x / count`. Pullback: `dx += dOut / count`.
public func mean(_ x: Tensor) -> Tensor {
    reduceToScalar(x, scale: 1 / Double(x.count))
}

private func reduceToScalar(_ x: Tensor, scale: Double) -> Tensor {
    var total = 0.0
    for i in 0..<x.count { total += Double(x.data[i]) }
    let output = Tensor(shape: [], values: [Float(total * scale)])
    if Tape.needsGradient(x) {
        let (inputSlot, count) = (x.gradientSlot, x.count)
        Tape.record(output) { dOut in
            let dx = inputSlot.data(), g = dOut[0] * Float(scale)
            for i in 0..<count { dx[i] += g }
        }
    }
    return output
}

/// `Σ x ⊙ weights` (same shape): a scalar that sends `weights` back as the gradient of `x`.
/// Gradient checks use it to give every output element its own upstream gradient.
public func weightedSum(_ x: Tensor, weights: Tensor) -> Tensor {
    sum(mul(x, weights))
}
