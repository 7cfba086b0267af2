/// Matrix products through `BLAS.gemm`, transposes as flags.
///
/// For `C = op(A)·op(B)` with upstream gradient `dC`, the four cases of the pullback
/// (each maps onto one `gemm` with beta = 1, so gradients accumulate):
///
///     C = A ·B    dA = dC·Bᵀ     dB = Aᵀ·dC
///     C = A ·Bᵀ   dA = dC·B      dB = dCᵀ·A
///     C = Aᵀ·B    dA = B·dCᵀ     dB = A·dC
///     C = Aᵀ·Bᵀ   dA = Bᵀ·dCᵀ    dB = dCᵀ·Aᵀ

/// Shape of a stored matrix and of the operand it stands for.
private struct MatrixOperand {
    let rows: Int, columns: Int, transposed: Bool
    /// Shape of `op(X)`.
    var m: Int { transposed ? columns : rows }
    var n: Int { transposed ? rows : columns }
}

/// Pullback of `C[m,n] = op(A)·op(B)` for one matrix pair (strides = stored widths).
private func matmulPullback(
    a: UnsafePointer<Float>, aGrad: UnsafeMutablePointer<Float>?, aShape: MatrixOperand,
    b: UnsafePointer<Float>, bGrad: UnsafeMutablePointer<Float>?, bShape: MatrixOperand,
    outputGrad dC: UnsafePointer<Float>
) {
    let m = aShape.m, k = aShape.n, n = bShape.n
    let lda = aShape.columns, ldb = bShape.columns
    if let aGrad {
        if !aShape.transposed {  // dA[m,k] = dC · op(B)ᵀ
            BLAS.gemm(
                transposeA: false, transposeB: !bShape.transposed, m: m, n: k, k: n,
                a: dC, lda: n, b: b, ldb: ldb, beta: 1, c: aGrad, ldc: lda)
        } else {  // dA[k,m] = op(B) · dCᵀ
            BLAS.gemm(
                transposeA: bShape.transposed, transposeB: true, m: k, n: m, k: n,
                a: b, lda: ldb, b: dC, ldb: n, beta: 1, c: aGrad, ldc: lda)
        }
    }
    if let bGrad {
        if !bShape.transposed {  // dB[k,n] = op(A)ᵀ · dC
            BLAS.gemm(
                transposeA: !aShape.transposed, transposeB: false, m: k, n: n, k: m,
                a: a, lda: lda, b: dC, ldb: n, beta: 1, c: bGrad, ldc: ldb)
        } else {  // dB[n,k] = dCᵀ · op(A)
            BLAS.gemm(
                transposeA: true, transposeB: aShape.transposed, m: n, n: k, k: m,
                a: dC, lda: n, b: a, ldb: lda, beta: 1, c: bGrad, ldc: ldb)
        }
    }
}

/// `op(a) · op(b)` for 2-D tensors (`op` = transpose when the flag is set).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.shape.count == 2 && b.shape.count == 2, "matmul of \(a.shape) and \(b.shape)")
    let aShape = MatrixOperand(rows: a.shape[0], columns: a.shape[1], transposed: transposeA)
    let bShape = MatrixOperand(rows: b.shape[0], columns: b.shape[1], transposed: transposeB)
    precondition(aShape.n == bShape.m, "matmul inner dimensions \(a.shape) · \(b.shape)")
    let output = Tensor(uninitialized: [aShape.m, bShape.n])  // [m, n]
    BLAS.gemm(
        transposeA: transposeA, transposeB: transposeB, m: aShape.m, n: bShape.n, k: aShape.n,
        a: a.data, lda: aShape.columns, b: b.data, ldb: bShape.columns,
        beta: 0, c: output.data, ldc: bShape.n)
    if Tape.needsGradient(a, b) {
        Tape.record(output, .matmul) { dC in
            matmulPullback(
                a: a.data, aGrad: a.requiresGrad ? a.gradData() : nil, aShape: aShape,
                b: b.data, bGrad: b.requiresGrad ? b.gradData() : nil, bShape: bShape,
                outputGrad: dC)
        }
    }
    return output
}

/// A linear layer: `y = x · Wᵀ (+ b)`, with `weight` stored `[out, in]`, `bias` (optional) `[out]`
/// and `x` of shape `[…, in]`; the leading dimensions are flattened into rows. Returns `[…, out]`.
///
/// With `residual` (`[…, out]`), `y = residual + x · Wᵀ (+ b)`: a residual connection fused into
/// the product, which starts from a copy of the residual instead of zeros. That saves a separate
/// add, forward and backward; the pullback passes `dy` to the residual unchanged. The bias is
/// added to that start row by row, so the product accumulates onto it as well; its pullback is
/// `db += Σ_rows dy` (`biasPullback`).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, adding residual: Tensor? = nil) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.matmul, started) }
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    precondition(x.shape.last == inFeatures, "linear: input \(x.shape) for weight \(weight.shape)")
    let rows = x.count / inFeatures
    let output = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])  // [N, out]
    startFromResidual(residual, output: output)
    if let bias { addBiasRows(bias, to: output, rows: rows, startingFromZero: residual == nil) }
    BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
        a: x.data, lda: inFeatures, b: weight.data, ldb: inFeatures,
        beta: residual == nil && bias == nil ? 0 : 1, c: output.data, ldc: outFeatures)
    let residualSlot = residualGradientSlot(residual)
    let biasGradient = bias.flatMap { Tape.needsGradient($0) ? $0 : nil }
    if Tape.needsGradient(x, weight) || residualSlot != nil || biasGradient != nil {
        Tape.record(output, .matmul) { dY in
            residualSlot?.add(dY)
            if let biasGradient { biasPullback(dY, rows: rows, into: biasGradient.gradData(), count: outFeatures) }
            matmulPullback(
                a: x.data, aGrad: x.requiresGrad ? x.gradData() : nil,
                aShape: MatrixOperand(rows: rows, columns: inFeatures, transposed: false),
                b: weight.data, bGrad: weight.requiresGrad ? weight.gradData() : nil,
                bShape: MatrixOperand(rows: outFeatures, columns: inFeatures, transposed: true),
                outputGrad: dY)
        }
    }
    return output
}

/// The slot a fused residual's gradient goes to: nil without a residual, when it needs no
/// gradient, or when the tape is not recording.
func residualGradientSlot(_ residual: Tensor?) -> GradientSlot? {
    guard let residual, residual.requiresGrad, Tape.isRecording else { return nil }
    return residual.gradientSlot
}

/// Copies `residual` (if any) into `output`, which has its shape: the start of a product that
/// adds to it.
func startFromResidual(_ residual: Tensor?, output: Tensor) {
    guard let residual else { return }
    precondition(residual.shape == output.shape, "residual \(residual.shape) for an output \(output.shape)")
    output.data.update(from: residual.data, count: output.count)
}

/// Adds `bias [out]` to every row of `output [rows, out]` (or writes it there when
/// `startingFromZero`): the start of a product that accumulates onto it.
private func addBiasRows(_ bias: Tensor, to output: Tensor, rows: Int, startingFromZero: Bool) {
    let width = bias.count
    precondition(bias.shape == [output.shape.last!], "bias \(bias.shape) for an output \(output.shape)")
    let b = bias.data, out = output.data
    Parallel.forEachChunk(rows, grain: max(1, elementwiseGrain / width)) { range in
        for row in range {
            let start = out + row * width
            if startingFromZero {
                start.update(from: b, count: width)
            } else {
                for j in 0..<width { start[j] += b[j] }
            }
        }
    }
}

/// `db[j] += Σ_r dY[r, j]` for `dY [rows, count]`: the rows are added in order, one column
/// range per thread, so the sum never depends on the thread count.
private func biasPullback(_ dY: UnsafePointer<Float>, rows: Int, into db: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forEachChunk(count, grain: 256) { columns in
        for row in 0..<rows {
            let source = dY + row * count
            for j in columns { db[j] += source[j] }
        }
    }
}

/// `op(a[i]) · op(b[i])` for every `i` of a leading batch dimension: `[n, …, …]` operands.
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(
        a.shape.count == 3 && b.shape.count == 3 && a.shape[0] == b.shape[0],
        "batchedMatmul of \(a.shape) and \(b.shape)")
    let batch = a.shape[0]
    let aShape = MatrixOperand(rows: a.shape[1], columns: a.shape[2], transposed: transposeA)
    let bShape = MatrixOperand(rows: b.shape[1], columns: b.shape[2], transposed: transposeB)
    precondition(aShape.n == bShape.m, "batchedMatmul inner dimensions \(a.shape) · \(b.shape)")
    let aStride = aShape.rows * aShape.columns, bStride = bShape.rows * bShape.columns
    let cStride = aShape.m * bShape.n
    let output = Tensor(zeros: [batch, aShape.m, bShape.n])
    for i in 0..<batch {
        BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m: aShape.m, n: bShape.n, k: aShape.n,
            a: a.data + i * aStride, lda: aShape.columns, b: b.data + i * bStride, ldb: bShape.columns,
            beta: 0, c: output.data + i * cStride, ldc: bShape.n)
    }
    if Tape.needsGradient(a, b) {
        Tape.record(output, .matmul) { dC in
            let aGrad = a.requiresGrad ? a.gradData() : nil, bGrad = b.requiresGrad ? b.gradData() : nil
            for i in 0..<batch {
                matmulPullback(
                    a: a.data + i * aStride, aGrad: aGrad.map { $0 + i * aStride }, aShape: aShape,
                    b: b.data + i * bStride, bGrad: bGrad.map { $0 + i * bStride }, bShape: bShape,
                    outputGrad: dC + i * cStride)
            }
        }
    }
    return output
}
