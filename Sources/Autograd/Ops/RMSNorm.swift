import Foundation

/// RMSNorm over the last axis, fused: `y = x · r · γ` with `r = 1 / sqrt(mean(x²) + eps)` and the
/// gain `γ = weightOffset + w`, formed in Float32 before the product: `weightOffset` 0 is the plain
/// gain (Llama, Qwen3, OLMo 2), 1 the zero-centred `1 + w` of Gemma 3 (`Gemma3RMSNorm`) and
/// Qwen3-Next (`Qwen3NextRMSNorm`), docs/spec/model.md's `norm_weight = "offset"`.
///
/// `x` is viewed as rows of `width = w.count` (so `[B,T,d]` with a `[d]` weight normalises each
/// token, and `[B,T,H·Dh]` with a `[Dh]` weight normalises each head: QK-Norm's "head" scope).
///
/// Pullback, with `x̂ = x · r` and `g = dy ⊙ γ` (∂γ/∂w = 1: the offset leaves `dw`'s formula as it is):
///
///     dw += Σ_rows dy ⊙ x̂
///     dx += r · (g − x̂ · mean(g ⊙ x̂))        (the mean term: ∂r/∂x = −r³·x / width)
///
/// A zero row gives `r = 1/sqrt(eps)` and `y = 0`, with a finite gradient.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, weightOffset: Float = 0) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.norm, started) }
    let width = weight.count
    precondition(
        x.count % width == 0 && x.shape.last.map { $0 % width == 0 } == true,
        "rmsNorm of \(x.shape) with weight \(weight.shape)")
    let rows = x.count / width
    let output = Tensor(uninitialized: x.shape)
    var inverseRMS = [Float](repeating: 0, count: rows)  // r per row, kept for the pullback
    let gain = weightOffset == 0 ? weight : Tensor(shape: weight.shape, values: weight.values.map { weightOffset + $0 })
    // γ
    let input = x.data, w = gain.data, out = output.data
    inverseRMS.withUnsafeMutableBufferPointer { r in
        Parallel.forEachChunk(rows, grain: max(1, 4096 / width)) { range in
            for row in range {
                let xs = input + row * width, ys = out + row * width
                var sumOfSquares = Vector()
                forEachVector(0..<width) { i, lanes in
                    let v = load(xs, i, lanes)
                    sumOfSquares += v * v
                }
                let rowR = 1 / (sumOfSquares.sum() / Float(width) + eps).squareRoot()
                r[row] = rowR
                forEachVector(0..<width) { i, lanes in
                    store(load(xs, i, lanes) * rowR * load(w, i, lanes), ys, i, lanes)
                }
            }
        }
    }
    if Tape.needsGradient(x, weight) {
        Tape.record(output, .norm) { dOut in
            rmsNormPullback(x: x, weight: weight, gain: gain, inverseRMS: inverseRMS, outputGrad: dOut)
        }
    }
    return output
}

/// Rows per partial sum of `dw`: fixed, so `dw`'s summation order never depends on threads.
private let rmsNormRowsPerPartial = 64

/// `gain` is γ (the weight itself when there is no offset); gradients go to `x` and `weight`.
private func rmsNormPullback(
    x: Tensor, weight: Tensor, gain: Tensor, inverseRMS: [Float], outputGrad dy: UnsafePointer<Float>
) {
    let width = weight.count, rows = x.count / width
    let input = x.data, w = gain.data
    let (dx, isFresh) = x.requiresGrad ? x.gradientSlot.dataForUpdate() : (nil, false)  // fresh: write, not add
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
                        var dot = Vector()
                        forEachVector(0..<width) { i, lanes in
                            dot += load(dys, i, lanes) * load(w, i, lanes) * load(xs, i, lanes)
                        }
                        let meanTerm = dot.sum() * r / Float(width)
                        let dxs = dx + row * width
                        forEachVector(0..<width) { i, lanes in
                            let g = load(dys, i, lanes) * load(w, i, lanes)
                            let soFar = isFresh ? Vector() : load(dxs, i, lanes)
                            store(soFar + r * (g - load(xs, i, lanes) * (r * meanTerm)), dxs, i, lanes)
                        }
                    }
                    if partials.count > 0 {
                        let partial = partials.baseAddress! + block * width
                        forEachVector(0..<width) { i, lanes in
                            store(
                                load(partial, i, lanes) + load(dys, i, lanes) * load(xs, i, lanes) * r, partial, i,
                                lanes)
                        }
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
