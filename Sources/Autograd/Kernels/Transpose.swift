/// Transposes for the products that need an operand's transpose laid out in memory: attention's
/// Kᵀ and Vᵀ (`CausalProducts` for short sequences, the 32-row blocks `BLAS.gemm` hands to
/// libxsmm on x86-64 for longer ones).

/// `out[d, j] = b[j, d]` (`out` is `[columns, rows]`, row stride `rows`): blocks of 8×8, each
/// eight vector loads, an in-register transpose and eight vector stores, element by element at
/// the edges. Building each stored vector from eight scalar loads instead costs about 1.7× as
/// long on a 64×32 head, and libxsmm's `libxsmm_otrans` about 1.1×.
func transpose(_ b: UnsafePointer<Float>, ldb: Int, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    let wholeRows = rows / 8 * 8, wholeColumns = columns / 8 * 8
    for j in stride(from: 0, to: wholeRows, by: 8) {
        for d in stride(from: 0, to: wholeColumns, by: 8) {
            transpose8x8(b + j &* ldb + d, ldb: ldb, into: out + d &* rows + j, ldo: rows)
        }
        for d in wholeColumns..<columns {
            for row in j..<(j + 8) { out[d &* rows + row] = b[row &* ldb + d] }
        }
    }
    for row in wholeRows..<rows {
        for d in 0..<columns { out[d &* rows + row] = b[row &* ldb + d] }
    }
}

/// The 8×8 block at `b` (row stride `ldb`) transposed into `out` (row stride `ldo`): pairs of
/// rows interleaved, then pairs of pairs, then the halves swapped — shuffles the compiler turns
/// into unpack and permute instructions.
@inline(__always)
private func transpose8x8(_ b: UnsafePointer<Float>, ldb: Int, into out: UnsafeMutablePointer<Float>, ldo: Int) {
    typealias Eight = SIMD8<Float>
    func row(_ r: Int) -> Eight { UnsafeRawPointer(b + r &* ldb).loadUnaligned(as: Eight.self) }
    func store(_ v: Eight, _ r: Int) { UnsafeMutableRawPointer(out + r &* ldo).storeBytes(of: v, as: Eight.self) }
    // Columns 0, 1, 4, 5 (then 2, 3, 6, 7) of rows x and y, interleaved.
    func low(_ x: Eight, _ y: Eight) -> Eight { Eight(x[0], y[0], x[1], y[1], x[4], y[4], x[5], y[5]) }
    func high(_ x: Eight, _ y: Eight) -> Eight { Eight(x[2], y[2], x[3], y[3], x[6], y[6], x[7], y[7]) }
    // Lanes 0-1 and 4-5 (then 2-3 and 6-7) of x and y: one column (left half) and the column 4 on (right half).
    func even(_ x: Eight, _ y: Eight) -> Eight { Eight(x[0], x[1], y[0], y[1], x[4], x[5], y[4], y[5]) }
    func odd(_ x: Eight, _ y: Eight) -> Eight { Eight(x[2], x[3], y[2], y[3], x[6], x[7], y[6], y[7]) }
    let (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
    let (l01, h01, l23, h23) = (low(r0, r1), high(r0, r1), low(r2, r3), high(r2, r3))
    let (l45, h45, l67, h67) = (low(r4, r5), high(r4, r5), low(r6, r7), high(r6, r7))
    let top = (even(l01, l23), odd(l01, l23), even(h01, h23), odd(h01, h23))  // rows 0-3 of columns c and c+4
    let bottom = (even(l45, l67), odd(l45, l67), even(h45, h67), odd(h45, h67))  // rows 4-7
    store(Eight(lowHalf: top.0.lowHalf, highHalf: bottom.0.lowHalf), 0)
    store(Eight(lowHalf: top.1.lowHalf, highHalf: bottom.1.lowHalf), 1)
    store(Eight(lowHalf: top.2.lowHalf, highHalf: bottom.2.lowHalf), 2)
    store(Eight(lowHalf: top.3.lowHalf, highHalf: bottom.3.lowHalf), 3)
    store(Eight(lowHalf: top.0.highHalf, highHalf: bottom.0.highHalf), 4)
    store(Eight(lowHalf: top.1.highHalf, highHalf: bottom.1.highHalf), 5)
    store(Eight(lowHalf: top.2.highHalf, highHalf: bottom.2.highHalf), 6)
    store(Eight(lowHalf: top.3.highHalf, highHalf: bottom.3.highHalf), 7)
}
