import Foundation

/// RMSNorm over the last axis, fused: `y = x · r · w` with `r = 1 / sqrt(mean(x²) + eps)`.
///
/// `x` is viewed as rows of `width = w.count` (so `[B,T,d]` with a `[d]` weight normalises each
/// token, and `[B,T,H·Dh]` with a `[Dh]` weight normalises each head: QK-Norm's "head" scope).
///
/// Pullback, with `x̂ = x · r` and `g = dy ⊙ w`:
///
///     dw += Σ_rows dy ⊙ x̂
///     dx += r · (g − x̂ · mean(g ⊙ x̂))        (the mean term: ∂r/∂x = −r³·x / width)
///
/// A zero row gives `r = 1/sqrt(eps)` and `y = 0`, with a finite gradient.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    let width = weight.count
    precondition(x.count % width == 0 && x.shape.last.map { $0 % width == 0 } == true,
                 "rmsNorm of \(x.shape) with weight \(weight.shape)")
    let rows = x.count / width
    let output = Tensor(zeros: x.shape)
    var inverseRMS = [Float](repeating: 0, count: rows)   // r per row, kept for the pullback
    let input = x.data, w = weight.data, out = output.data
    inverseRMS.withUnsafeMutableBufferPointer { r in
        Parallel.forEachChunk(rows, grain: max(1, 4096 / width)) { range in
            for row in range {
                let xs = input + row * width, ys = out + row * width
                var sumOfSquares: Float = 0
                for i in 0..<width { sumOfSquares += xs[i] * xs[i] }
                let rowR = 1 / (sumOfSquares / Float(width) + eps).squareRoot()
                r[row] = rowR
                for i in 0..<width { ys[i] = xs[i] * rowR * w[i] }
            }
        }
    }
    if Tape.needsGradient(x, weight) {
        Tape.record(output) { dOut in
            rmsNormPullback(x: x, weight: weight, inverseRMS: inverseRMS, outputGrad: dOut)
        }
    }
    return output
}

/// Rows per partial sum of `dw`: fixed, so `dw`'s summation order never depends on threads.
private let rmsNormRowsPerPartial = 64

private func rmsNormPullback(x: Tensor, weight: Tensor, inverseRMS: [Float], outputGrad dy: UnsafePointer<Float>) {
    let width = weight.count, rows = x.count / width
    let input = x.data, w = weight.data
    let dx = x.requiresGrad ? x.gradData() : nil
    let partialCount = (rows + rmsNormRowsPerPartial - 1) / rmsNormRowsPerPartial
    // dw partials, one per block of rows: [partialCount, width]
    var weightPartials = [Float](repeating: 0, count: weight.requiresGrad ? partialCount * width : 0)
    weightPartials.withUnsafeMutableBufferPointer { partials in
        Parallel.forEachChunk(partialCount, grain: 1) { blocks in
            for block in blocks {
                let firstRow = block * rmsNormRowsPerPartial
                for row in firstRow..<min(rows, firstRow + rmsNormRowsPerPartial) {
                    let xs = input + row * width, dys = dy + row * width, r = inverseRMS[row]
                    if let dx {
                        // mean(g ⊙ x̂) with g = dy ⊙ w, x̂ = x · r
                        var dot: Float = 0
                        for i in 0..<width { dot += dys[i] * w[i] * xs[i] }
                        let meanTerm = dot * r / Float(width)
                        let dxs = dx + row * width
                        for i in 0..<width { dxs[i] += r * (dys[i] * w[i] - xs[i] * r * meanTerm) }
                    }
                    if partials.count > 0 {
                        let partial = partials.baseAddress! + block * width
                        for i in 0..<width { partial[i] += dys[i] * xs[i] * r }
                    }
                }
            }
        }
    }
    if weight.requiresGrad {
        let dw = weight.gradData()
        for block in 0..<partialCount {
            for i in 0..<width { dw[i] += weightPartials[block * width + i] }
        }
    }
}
