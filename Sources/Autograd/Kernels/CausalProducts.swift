/// The three products of causal attention for short sequences, in SIMD registers.
///
/// For one head of a short sequence every product is tiny (64×64×32 for the benchmark model S)
/// and a BLAS call costs about as much in setup and packing as in arithmetic. These loops work
/// on blocks of four rows, so each vector load feeds four FMAs into four independent
/// accumulators. All three read only the lower triangle of their `[t, t]` operand (position i
/// sees positions j ≤ i) and rely on its upper triangle being zero (the causal softmax and its
/// pullback leave it so). Every sum runs in a fixed order: results are deterministic and do not
/// depend on threads. Matrices are row-major with row strides `ld…`.
///
/// With AVX-512 (`pairsOfVectors`), where 32 columns or more remain, a block takes two vectors of
/// each of its four rows at once: eight independent accumulators, enough to keep both FMA units
/// of a core busy through the FMA latency (four left half of them idle). Each element's sum still
/// runs over the same terms in the same order, so the two widths give the same bits
/// (`AttentionTests.testCausalProductsEqualScalarFMAChains`).

/// Rows per register block.
private let blockRows = 4

/// Whether blocks take two vectors per row: where a `Vector` is one AVX-512 register (32 of
/// them). With AVX2 a `Vector` is two of the 16 registers, four accumulators already take half of
/// them, and eight spill (measured slower). Read from the CPU's flags, which for the numeric
/// targets (`-target-cpu native`) are those the code was compiled for; tests set it both ways.
nonisolated(unsafe) var pairsOfVectors = OpenBLASKernel.cpuFlags().contains("avx512f")

/// `c[i, j] = alpha · Σ_d a[i, d] · b[j, d]` for `j ≤ i < t` (the lower triangle of `alpha·A·Bᵀ`,
/// A and B `[t, depth]`): scores `Q·Kᵀ`, or `dY·Vᵀ`. Rows are computed in whole vectors of 16
/// through their block's diagonal, so some entries right of the diagonal are written too (their
/// products, which callers overwrite or ignore). `transposed` is scratch for `depth · t` floats.
func causalProductTransposed(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
    t: Int, depth: Int, alpha: Float,
    into c: UnsafeMutablePointer<Float>, ldc: Int,
    transposed: UnsafeMutablePointer<Float>
) {
    let pairs = pairsOfVectors
    transpose(b, ldb: ldb, rows: t, columns: depth, into: transposed)  // Bᵀ, so that a row of C is a vector
    for first in stride(from: 0, to: t, by: blockRows) {
        let rows = rowPointers(a, stride: lda, first: first, t: t)
        let columns = min(t, (first + blockRows + vectorWidth - 1) / vectorWidth * vectorWidth)
        var j = 0
        while pairs && j + 2 * vectorWidth <= columns {
            var low = (Vector(), Vector(), Vector(), Vector()), high = low
            var column = transposed + j
            for d in 0..<depth {
                let (c0, c1) = (column.vector(at: 0), column.vector(at: vectorWidth))
                addProducts(&low, &high, (rows.0[d], rows.1[d], rows.2[d], rows.3[d]), c0, c1)
                column += t
            }
            storeRows(low, scale: alpha, c, stride: ldc, first: first, t: t, at: j, vectorWidth)
            storeRows(high, scale: alpha, c, stride: ldc, first: first, t: t, at: j + vectorWidth, vectorWidth)
            j += 2 * vectorWidth
        }
        forEachVector(j..<columns) { j, lanes in
            var sums = (Vector(), Vector(), Vector(), Vector())
            for d in 0..<depth {
                let column = load(transposed + d * t, j, lanes)
                sums.0.addProduct(Vector(repeating: rows.0[d]), column)
                sums.1.addProduct(Vector(repeating: rows.1[d]), column)
                sums.2.addProduct(Vector(repeating: rows.2[d]), column)
                sums.3.addProduct(Vector(repeating: rows.3[d]), column)
            }
            storeRows(sums, scale: alpha, c, stride: ldc, first: first, t: t, at: j, lanes)
        }
    }
}

/// `c[i, :] = Σ_{j ≤ i} p[i, j] · b[j, :]` for `i < t` (added to c's rows with `accumulate`): a
/// lower-triangular P `[t, t]` times B `[t, width]` — `P·V`, or `dS·K`.
func causalProduct(
    _ p: UnsafePointer<Float>, ldp: Int, _ b: UnsafePointer<Float>, ldb: Int,
    t: Int, width: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
) {
    let pairs = pairsOfVectors
    for first in stride(from: 0, to: t, by: blockRows) {
        let rows = rowPointers(p, stride: ldp, first: first, t: t)
        let last = min(t, first + blockRows) - 1
        var d = 0
        while pairs && d + 2 * vectorWidth <= width {
            let zeros = (Vector(), Vector(), Vector(), Vector())
            var low = accumulate ? loadRows(c, stride: ldc, first: first, t: t, at: d, vectorWidth) : zeros
            var high =
                accumulate ? loadRows(c, stride: ldc, first: first, t: t, at: d + vectorWidth, vectorWidth) : zeros
            var row = b + d
            for j in 0...last {  // P's zeros above the diagonal add nothing
                addProducts(
                    &low, &high, (rows.0[j], rows.1[j], rows.2[j], rows.3[j]), row.vector(at: 0),
                    row.vector(at: vectorWidth))
                row += ldb
            }
            storeRows(low, scale: 1, c, stride: ldc, first: first, t: t, at: d, vectorWidth)
            storeRows(high, scale: 1, c, stride: ldc, first: first, t: t, at: d + vectorWidth, vectorWidth)
            d += 2 * vectorWidth
        }
        forEachVector(d..<width) { d, lanes in
            var sums =
                accumulate
                ? loadRows(c, stride: ldc, first: first, t: t, at: d, lanes) : (Vector(), Vector(), Vector(), Vector())
            for j in 0...last {  // P's zeros above the diagonal add nothing
                let row = load(b + j * ldb, d, lanes)
                sums.0.addProduct(Vector(repeating: rows.0[j]), row)
                sums.1.addProduct(Vector(repeating: rows.1[j]), row)
                sums.2.addProduct(Vector(repeating: rows.2[j]), row)
                sums.3.addProduct(Vector(repeating: rows.3[j]), row)
            }
            storeRows(sums, scale: 1, c, stride: ldc, first: first, t: t, at: d, lanes)
        }
    }
}

/// `c[j, :] += Σ_{i ≥ j} p[i, j] · b[i, :]` for `j < t`: the transpose of a lower-triangular
/// P `[t, t]` times B `[t, width]`, added — `dV += Pᵀ·dY`, or `dK += dSᵀ·Q`.
func causalTransposedProductAdding(
    _ p: UnsafePointer<Float>, ldp: Int, _ b: UnsafePointer<Float>, ldb: Int,
    t: Int, width: Int, into c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let pairs = pairsOfVectors
    for first in stride(from: 0, to: t, by: blockRows) {
        let valid = min(blockRows, t - first)  // columns first..<first+valid of P
        let (w1, w2, w3) = (min(1, valid - 1), min(2, valid - 1), min(3, valid - 1))
        var d = 0
        while pairs && d + 2 * vectorWidth <= width {
            var low = loadRows(c, stride: ldc, first: first, t: t, at: d, vectorWidth)
            var high = loadRows(c, stride: ldc, first: first, t: t, at: d + vectorWidth, vectorWidth)
            var row = b + first * ldb + d, weights = p + first * ldp + first
            for _ in first..<t {  // P's zeros above the diagonal add nothing
                addProducts(
                    &low, &high, (weights[0], weights[w1], weights[w2], weights[w3]), row.vector(at: 0),
                    row.vector(at: vectorWidth))
                row += ldb
                weights += ldp
            }
            storeRows(low, scale: 1, c, stride: ldc, first: first, t: t, at: d, vectorWidth)
            storeRows(high, scale: 1, c, stride: ldc, first: first, t: t, at: d + vectorWidth, vectorWidth)
            d += 2 * vectorWidth
        }
        forEachVector(d..<width) { d, lanes in
            var sums = loadRows(c, stride: ldc, first: first, t: t, at: d, lanes)
            for i in first..<t {  // P's zeros above the diagonal add nothing
                let row = load(b + i * ldb, d, lanes), weights = p + i * ldp + first
                sums.0.addProduct(Vector(repeating: weights[0]), row)
                sums.1.addProduct(Vector(repeating: weights[w1]), row)
                sums.2.addProduct(Vector(repeating: weights[w2]), row)
                sums.3.addProduct(Vector(repeating: weights[w3]), row)
            }
            storeRows(sums, scale: 1, c, stride: ldc, first: first, t: t, at: d, lanes)
        }
    }
}

/// `low.r += weights.r · a`, `high.r += weights.r · b` for the block's four rows r: eight
/// independent FMAs.
@inline(__always)
private func addProducts(
    _ low: inout (Vector, Vector, Vector, Vector), _ high: inout (Vector, Vector, Vector, Vector),
    _ weights: (Float, Float, Float, Float), _ a: Vector, _ b: Vector
) {
    let w = (
        Vector(repeating: weights.0), Vector(repeating: weights.1), Vector(repeating: weights.2),
        Vector(repeating: weights.3)
    )
    low.0.addProduct(w.0, a)
    high.0.addProduct(w.0, b)
    low.1.addProduct(w.1, a)
    high.1.addProduct(w.1, b)
    low.2.addProduct(w.2, a)
    high.2.addProduct(w.2, b)
    low.3.addProduct(w.3, a)
    high.3.addProduct(w.3, b)
}

/// Pointers to rows `first ..< first + 4` of a matrix; past row `t − 1` they repeat the last row
/// (whose sums are then computed but never stored).
@inline(__always)
private func rowPointers(_ m: UnsafePointer<Float>, stride: Int, first: Int, t: Int)
    -> (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)
{
    func row(_ r: Int) -> UnsafePointer<Float> { m + min(first + r, t - 1) * stride }
    return (row(0), row(1), row(2), row(3))
}

/// The vectors at column `at` of rows `first ..< first + 4` (zero past row `t − 1`).
@inline(__always)
private func loadRows(_ m: UnsafeMutablePointer<Float>, stride: Int, first: Int, t: Int, at column: Int, _ lanes: Int)
    -> (Vector, Vector, Vector, Vector)
{
    func row(_ r: Int) -> Vector { first + r < t ? load(m + (first + r) * stride, column, lanes) : Vector() }
    return (row(0), row(1), row(2), row(3))
}

/// Stores `scale · sums` at column `at` of rows `first ..< first + 4` that exist.
@inline(__always)
private func storeRows(
    _ sums: (Vector, Vector, Vector, Vector), scale: Float, _ m: UnsafeMutablePointer<Float>,
    stride: Int, first: Int, t: Int, at column: Int, _ lanes: Int
) {
    let count = min(blockRows, t - first)
    store(sums.0 * scale, m + first * stride, column, lanes)
    if count > 1 { store(sums.1 * scale, m + (first + 1) * stride, column, lanes) }
    if count > 2 { store(sums.2 * scale, m + (first + 2) * stride, column, lanes) }
    if count > 3 { store(sums.3 * scale, m + (first + 3) * stride, column, lanes) }
}
