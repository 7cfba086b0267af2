/// The SwiGLU MLP as one op: `y = (silu(x·Gᵀ) ⊙ x·Uᵀ) · Dᵀ`.
///
/// The gate and up weights are one `[2F, d]` matrix `W` (gate rows first; a model's parameter
/// buffer holds them one above the other), so both projections are one product, `A = x·Wᵀ`
/// `[N, 2F]`, whose row holds the gate half `g` then the up half `u`. The hidden activation
/// `h = silu(g) ⊙ u` `[N, F]` is kept for the pullback up to `keptActivationLimit` floats; above
/// that the pullback recomputes it from `A` (bit-identically) instead of holding N·F floats per
/// layer from forward to backward.
///
/// Pullback (timed as matmul, elementwise parts included), with `s = σ(g)`:
///
///     dD += dyᵀ·h          dh = dy·D
///     dg = dh ⊙ u ⊙ s(1 + g(1 − s))          du = dh ⊙ g ⊙ s          (dA = [dg | du])
///     dW += dAᵀ·x          dx += dA·W
///
/// With `residual` (`[…, d]`) the op returns `residual + y`, the residual connection fused into
/// the down product (as `linear(_:weight:adding:)` does).
public func swigluFeedForward(_ x: Tensor, gateUp: Tensor, down: Tensor, adding residual: Tensor? = nil) -> Tensor {
    let width = gateUp.shape[1], hidden = down.shape[1], rows = x.count / width
    precondition(x.shape.last == width && gateUp.shape == [2 * hidden, width] && down.shape == [width, hidden],
                 "swigluFeedForward: input \(x.shape), gate/up \(gateUp.shape), down \(down.shape)")
    let projected = linear(x, weight: gateUp)                       // A = [g | u], [N, 2F]
    let needsGradient = Tape.needsGradient(projected, down)
    let started = OpProfile.begin()
    let activation = TensorStorage(count: rows * hidden, zeroed: false)   // h, [N, F]
    swigluRows(projected.data, into: activation.pointer, rows: rows, hidden: hidden)
    OpProfile.end(.elementwise, started)
    let output = Tensor(uninitialized: Array(x.shape.dropLast()) + [width])   // y, [N, d]
    let matmulStarted = OpProfile.begin()
    startFromResidual(residual, output: output)
    BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: width, k: hidden, a: activation.pointer, lda: hidden,
              b: down.data, ldb: hidden, beta: residual == nil ? 0 : 1, c: output.data, ldc: width)
    OpProfile.end(.matmul, matmulStarted)
    withExtendedLifetime(activation) {}                             // kept, or freed here and recomputed
    let residualSlot = residualGradientSlot(residual)                 // dy passes through to it
    if needsGradient || residualSlot != nil {
        let keptActivation = needsGradient && rows * hidden <= keptActivationLimit ? activation : nil
        Tape.record(output, .matmul) { dY in
            residualSlot?.add(dY)
            guard needsGradient else { return }
            swigluFeedForwardPullback(projected: projected, down: down, keptActivation: keptActivation,
                                      rows: rows, hidden: hidden, width: width, outputGrad: dY)
        }
    }
    return output
}

/// Largest N·F (floats) for which the forward pass keeps h for the pullback (4 MiB: the benchmark
/// model S keeps it, saving a third of the op's elementwise work; M recomputes it, which keeps
/// its training step under 1 GiB).
let keptActivationLimit = 1 << 20

private func swigluFeedForwardPullback(projected: Tensor, down: Tensor, keptActivation: TensorStorage?,
                                       rows: Int, hidden: Int, width: Int, outputGrad dY: UnsafePointer<Float>) {
    let scratch = keptActivation ?? TensorStorage(count: rows * hidden, zeroed: false)   // h, then dh
    defer { withExtendedLifetime(scratch) {} }                          // used through its pointer only
    let h = scratch.pointer
    if keptActivation == nil { swigluRows(projected.data, into: h, rows: rows, hidden: hidden) }
    if down.requiresGrad {                                              // dD += dyᵀ·h
        BLAS.gemm(transposeA: true, transposeB: false, m: width, n: hidden, k: rows,
                  a: dY, lda: width, b: h, ldb: hidden, beta: 1, c: down.gradData(), ldc: hidden)
    }
    guard projected.requiresGrad else { return }
    BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: hidden, k: width,    // dh = dy·D
              a: dY, lda: width, b: down.data, ldb: hidden, beta: 0, c: h, ldc: hidden)
    let (projectedGrad, isFresh) = projected.gradientSlot.dataForUpdate()
    swigluRowsPullback(projected.data, hiddenGrad: h, into: projectedGrad, accumulate: !isFresh, rows: rows, hidden: hidden)
}

/// `h[r, j] = silu(g[r, j]) · u[r, j]` for rows `[g | u]` of `projected`.
private func swigluRows(_ projected: UnsafePointer<Float>, into h: UnsafeMutablePointer<Float>, rows: Int, hidden: Int) {
    Parallel.forEachChunk(rows, grain: max(1, elementwiseGrain / hidden)) { range in
        for row in range {
            let g = projected + row * 2 * hidden, u = g + hidden, out = h + row * hidden
            forEachVector(0..<hidden) { i, lanes in
                let gi = load(g, i, lanes)
                store(gi * sigmoid(gi) * load(u, i, lanes), out, i, lanes)
            }
        }
    }
}

/// `[dg | du] += …` from `dh` (see `swigluFeedForward`); `=` instead of `+=` unless `accumulate`.
private func swigluRowsPullback(_ projected: UnsafePointer<Float>, hiddenGrad dh: UnsafePointer<Float>,
                                into projectedGrad: UnsafeMutablePointer<Float>, accumulate: Bool, rows: Int, hidden: Int) {
    Parallel.forEachChunk(rows, grain: max(1, elementwiseGrain / hidden)) { range in
        for row in range {
            let g = projected + row * 2 * hidden, u = g + hidden, d = dh + row * hidden
            let dg = projectedGrad + row * 2 * hidden, du = dg + hidden
            forEachVector(0..<hidden) { i, lanes in
                let gi = load(g, i, lanes), di = load(d, i, lanes), s = sigmoid(gi)
                let (dgSoFar, duSoFar) = accumulate ? (load(dg, i, lanes), load(du, i, lanes)) : (Vector(), Vector())
                store(dgSoFar + di * load(u, i, lanes) * s * (1 + gi * (1 - s)), dg, i, lanes)
                store(duSoFar + di * gi * s, du, i, lanes)
            }
        }
    }
}
