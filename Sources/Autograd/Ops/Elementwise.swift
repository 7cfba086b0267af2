import Foundation

/// Elementwise ops. Each forward loops over `count` elements in parallel chunks; each pullback
/// adds `∂out/∂in · dOut` into the input gradients.

/// Items per parallel chunk for cheap elementwise loops.
let elementwiseGrain = 1 << 15

/// Builds an elementwise op with one input: `value(x)` forward, `derivative(x, y)` = dy/dx.
@inline(__always)
private func unaryOp(
    _ x: Tensor, value: @escaping (Float) -> Float, derivative: @escaping (_ x: Float, _ y: Float) -> Float
) -> Tensor {
    let output = Tensor(uninitialized: x.shape)
    let input = x.data, out = output.data
    Parallel.forEachChunk(x.count, grain: elementwiseGrain) { range in
        for i in range { out[i] = value(input[i]) }
    }
    if Tape.needsGradient(x) {
        Tape.record(output) { [output] dOut in  // keeps `out` alive for the derivative
            let dx = x.gradData()
            Parallel.forEachChunk(output.count, grain: elementwiseGrain) { range in
                for i in range { dx[i] += derivative(input[i], out[i]) * dOut[i] }
            }
        }
    }
    return output
}

/// `a + b` (same shape). Pullback: `da += dOut`, `db += dOut`.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.elementwise, started) }
    precondition(a.shape == b.shape, "add of \(a.shape) and \(b.shape)")
    let output = Tensor(uninitialized: a.shape)
    let x = a.data, y = b.data, out = output.data
    Parallel.forEachChunk(a.count, grain: elementwiseGrain) { range in
        forEachVector(range) { i, lanes in store(load(x, i, lanes) + load(y, i, lanes), out, i, lanes) }
    }
    if Tape.needsGradient(a, b) {
        // not read back
        let (aSlot, bSlot) = (a.requiresGrad ? a.gradientSlot : nil, b.requiresGrad ? b.gradientSlot : nil)
        Tape.record(output, .elementwise) { dOut in
            aSlot?.add(dOut)
            bSlot?.add(dOut)
        }
    }
    return output
}

/// `a ⊙ b` (same shape). Pullback: `da += dOut ⊙ b`, `db += dOut ⊙ a`.
public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "mul of \(a.shape) and \(b.shape)")
    let output = Tensor(uninitialized: a.shape)
    let x = a.data, y = b.data, out = output.data
    Parallel.forEachChunk(a.count, grain: elementwiseGrain) { range in
        for i in range { out[i] = x[i] * y[i] }
    }
    if Tape.needsGradient(a, b) {
        Tape.record(output) { dOut in
            for (input, other) in [(a, y), (b, x)] where input.requiresGrad {
                let dx = input.gradData()
                Parallel.forEachChunk(a.count, grain: elementwiseGrain) { range in
                    for i in range { dx[i] += dOut[i] * other[i] }
                }
            }
        }
    }
    return output
}

/// `s · x`. Pullback: `dx += s · dOut`.
public func scale(_ x: Tensor, by s: Float) -> Tensor {
    unaryOp(x, value: { $0 * s }, derivative: { _, _ in s })
}

/// `silu(x) = x · σ(x)`. Derivative: `σ(x) · (1 + x · (1 − σ(x)))`.
public func silu(_ x: Tensor) -> Tensor {
    unaryOp(
        x, value: { $0 / (1 + exp(-$0)) },
        derivative: { x, _ in
            let sigmoid = 1 / (1 + exp(-x))
            return sigmoid * (1 + x * (1 - sigmoid))
        })
}

/// Exact GELU, `x · Φ(x) = ½x(1 + erf(x/√2))`. Derivative: `Φ(x) + x · φ(x)`.
public func gelu(_ x: Tensor) -> Tensor {
    unaryOp(
        x, value: { 0.5 * $0 * (1 + erf($0 * 0.70710678118654752)) },
        derivative: { x, _ in
            let cdf = 0.5 * (1 + erf(x * 0.70710678118654752))
            let pdf = exp(-0.5 * x * x) * 0.39894228040143268
            return cdf + x * pdf
        })
}
