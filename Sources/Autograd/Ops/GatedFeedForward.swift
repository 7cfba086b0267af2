/// The gated MLP as one op: `y = (act(x·Gᵀ) ⊙ x·Uᵀ) · Dᵀ`, with `act` SiLU (SwiGLU: Llama, Qwen3,
/// OLMo 2, Qwen3-Next) or tanh-approximated GELU (GeGLU: Gemma 3's `gelu_pytorch_tanh`).
///
/// The gate and up weights are one `[2F, d]` matrix `W` (gate rows first; a model's parameter
/// buffer holds them one above the other), so both projections are one product, `A = x·Wᵀ`
/// `[N, 2F]`, whose row holds the gate half `g` then the up half `u`. The hidden activation
/// `h = act(g) ⊙ u` `[N, F]` is kept for the pullback up to `keptActivationLimit` floats; above
/// that the pullback recomputes it from `A` (bit-identically) instead of holding N·F floats per
/// layer from forward to backward.
///
/// Pullback (timed as matmul, elementwise parts included):
///
///     dD += dyᵀ·h          dh = dy·D
///     dg = dh ⊙ u ⊙ act′(g)          du = dh ⊙ act(g)          (dA = [dg | du])
///     dW += dAᵀ·x          dx += dA·W
///
/// (`GateActivation` gives `act` and `act′`.)
///
/// With `residual` (`[…, d]`) the op returns `residual + y`, the residual connection fused into
/// the down product (as `linear(_:weight:adding:)` does).
public func gatedFeedForward(
    _ x: Tensor, gateUp: Tensor, down: Tensor, gate gateActivation: GateActivation = .silu,
    adding residual: Tensor? = nil
) -> Tensor {
    let width = gateUp.shape[1], hidden = down.shape[1], rows = x.count / width
    precondition(
        x.shape.last == width && gateUp.shape == [2 * hidden, width] && down.shape == [width, hidden],
        "gatedFeedForward: input \(x.shape), gate/up \(gateUp.shape), down \(down.shape)")
    let projected = linear(x, weight: gateUp)  // A = [g | u], [N, 2F]
    let needsGradient = Tape.needsGradient(projected, down)
    let started = OpProfile.begin()
    let activation = TensorStorage(count: rows * hidden, zeroed: false)  // h, [N, F]
    gatedRows(projected.data, into: activation.pointer, rows: rows, hidden: hidden, activation: gateActivation)
    OpProfile.end(.elementwise, started)
    let output = Tensor(uninitialized: Array(x.shape.dropLast()) + [width])  // y, [N, d]
    let matmulStarted = OpProfile.begin()
    startFromResidual(residual, output: output)
    BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: width, k: hidden, a: activation.pointer, lda: hidden,
        b: down.data, ldb: hidden, beta: residual == nil ? 0 : 1, c: output.data, ldc: width)
    OpProfile.end(.matmul, matmulStarted)
    withExtendedLifetime(activation) {}  // kept, or freed here and recomputed
    let residualSlot = residualGradientSlot(residual)  // dy passes through to it
    if needsGradient || residualSlot != nil {
        let keptActivation = needsGradient && rows * hidden <= keptActivationLimit ? activation : nil
        Tape.record(output, .matmul) { dY in
            residualSlot?.add(dY)
            guard needsGradient else { return }
            gatedFeedForwardPullback(
                projected: projected, down: down, activation: gateActivation, keptActivation: keptActivation,
                rows: rows, hidden: hidden, width: width, outputGrad: dY)
        }
    }
    return output
}

/// Largest N·F (floats) for which the forward pass keeps h for the pullback (4 MiB: the benchmark
/// model S keeps it, saving a third of the op's elementwise work; M recomputes it, which keeps
/// its training step under 1 GiB).
let keptActivationLimit = 1 << 20

private func gatedFeedForwardPullback(
    projected: Tensor, down: Tensor, activation: GateActivation, keptActivation: TensorStorage?,
    rows: Int, hidden: Int, width: Int, outputGrad dY: UnsafePointer<Float>
) {
    let scratch = keptActivation ?? TensorStorage(count: rows * hidden, zeroed: false)  // h, then dh
    defer { withExtendedLifetime(scratch) {} }  // used through its pointer only
    let h = scratch.pointer
    if keptActivation == nil { gatedRows(projected.data, into: h, rows: rows, hidden: hidden, activation: activation) }
    if down.requiresGrad {  // dD += dyᵀ·h
        BLAS.gemm(
            transposeA: true, transposeB: false, m: width, n: hidden, k: rows,
            a: dY, lda: width, b: h, ldb: hidden, beta: 1, c: down.gradData(), ldc: hidden)
    }
    guard projected.requiresGrad else { return }
    BLAS.gemm(
        transposeA: false, transposeB: false, m: rows, n: hidden, k: width,  // dh = dy·D
        a: dY, lda: width, b: down.data, ldb: hidden, beta: 0, c: h, ldc: hidden)
    let (projectedGrad, isFresh) = projected.gradientSlot.dataForUpdate()
    gatedRowsPullback(
        projected.data, hiddenGrad: h, into: projectedGrad, accumulate: !isFresh, rows: rows, hidden: hidden,
        activation: activation)
}

/// `h[r, j] = act(g[r, j]) · u[r, j]` for rows `[g | u]` of `projected`.
private func gatedRows(
    _ projected: UnsafePointer<Float>, into h: UnsafeMutablePointer<Float>, rows: Int, hidden: Int,
    activation: GateActivation
) {
    Parallel.forEachChunk(rows, grain: max(1, elementwiseGrain / hidden)) { range in
        for row in range {
            let g = projected + row * 2 * hidden, u = g + hidden, out = h + row * hidden
            forEachVector(0..<hidden) { i, lanes in
                store(activation.value(load(g, i, lanes)) * load(u, i, lanes), out, i, lanes)
            }
        }
    }
}

/// `[dg | du] += …` from `dh` (see `gatedFeedForward`); `=` instead of `+=` unless `accumulate`.
private func gatedRowsPullback(
    _ projected: UnsafePointer<Float>, hiddenGrad dh: UnsafePointer<Float>,
    into projectedGrad: UnsafeMutablePointer<Float>, accumulate: Bool, rows: Int, hidden: Int,
    activation: GateActivation
) {
    Parallel.forEachChunk(rows, grain: max(1, elementwiseGrain / hidden)) { range in
        for row in range {
            let g = projected + row * 2 * hidden, u = g + hidden, d = dh + row * hidden
            let dg = projectedGrad + row * 2 * hidden, du = dg + hidden
            forEachVector(0..<hidden) { i, lanes in
                let (value, slope) = activation.valueAndSlope(load(g, i, lanes))
                let di = load(d, i, lanes)
                let (dgSoFar, duSoFar) = accumulate ? (load(dg, i, lanes), load(du, i, lanes)) : (Vector(), Vector())
                store(dgSoFar + di * load(u, i, lanes) * slope, dg, i, lanes)
                store(duSoFar + di * value, du, i, lanes)
            }
        }
    }
}

/// The gate's activation in `gatedFeedForward`.
public enum GateActivation: Sendable {
    /// `silu(g) = g·σ(g)`, `silu′(g) = σ(g)·(1 + g·(1 − σ(g)))` (SwiGLU).
    case silu
    /// PyTorch's `gelu(approximate="tanh")` (Hugging Face's `gelu_pytorch_tanh`, Gemma 3's
    /// `hidden_activation`): `½g·(1 + tanh(z))` with `z = √(2/π)·(g + 0.044715·g³)`, computed as
    /// the identical `g·σ(2z)` (since `½(1 + tanh z) = σ(2z)`); its slope is
    /// `σ(2z) + g·σ(2z)·(1 − σ(2z))·2z′` with `z′ = √(2/π)·(1 + 3·0.044715·g²)` (GeGLU).
    case geluTanh

    /// `act(g)` per lane.
    @inline(__always)
    func value(_ g: Vector) -> Vector { valueAndSlope(g).value }

    /// `act(g)` and `act′(g)` per lane.
    @inline(__always)
    func valueAndSlope(_ g: Vector) -> (value: Vector, slope: Vector) {
        switch self {
        case .silu:
            let s = sigmoid(g)
            return (g * s, s * (1 + g * (1 - s)))
        case .geluTanh:
            let c: Float = 0.7978845608028654, cubic: Float = 0.044715  // √(2/π)
            let s = sigmoid(2 * c * (g + cubic * g * g * g))
            return (g * s, s + g * s * (1 - s) * 2 * c * (1 + 3 * cubic * g * g))
        }
    }
}
