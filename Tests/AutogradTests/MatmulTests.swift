import Autograd
import XCTest

final class MatmulTests: XCTestCase {
    /// OpenBLAS computes every product on its caller's thread, so thread counts cannot change a
    /// product's bits (its own threading did, with its Haswell and Prescott kernels).
    func testOpenBLASRunsOnOneThread() {
        let a = randomTensor([64, 64], seed: 1), c = randomTensor([64, 64], seed: 2)
        BLAS.gemm(transposeA: false, transposeB: false, m: 64, n: 64, k: 64,
                  a: a.data, lda: 64, b: a.data, ldb: 64, beta: 0, c: c.data, ldc: 64)
        XCTAssertEqual(BLAS.threadCount, 1)
    }

    /// `BLAS.gemm` against the naive triple loop, all four transpose cases, odd sizes, beta = 1.
    func testGemmMatchesReferenceForAllTransposes() {
        for (m, n, k) in [(1, 1, 1), (3, 17, 65), (65, 3, 17), (17, 65, 3), (65, 65, 65)] {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 1)
                    let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
                    let fast = randomTensor([m, n], seed: 3), reference = randomTensor([m, n], seed: 3)
                    let lda = a.shape[1], ldb = b.shape[1]
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                              a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 1, c: fast.data, ldc: n)
                    BLAS.referenceGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                       a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 1, c: reference.data, ldc: n)
                    assertClose(fast.values, reference.values, tolerance: 1e-4)
                }
            }
        }
    }

    /// One-row products (a generation step's, spread over cores in blocks of columns) against the
    /// naive loop: all four transpose cases, a strided column as op(A), beta = 1 and beta = 0 over
    /// a C full of NaN (which must not leak through); and bit for bit the same on one kernel
    /// thread as on several.
    func testOneRowGemmMatchesReference() {
        let (n, k) = (513, 257)
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                for beta: Float in [1, 0] {
                    let a = randomTensor(transposeA ? [k, 2] : [1, k], seed: 1)    // with transposeA, column 0 (stride 2)
                    let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
                    let fast = beta == 0 ? Tensor(filling: .nan, shape: [1, n]) : randomTensor([1, n], seed: 3)
                    let reference = randomTensor([1, n], seed: 3)
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
                              a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: beta, c: fast.data, ldc: n)
                    BLAS.referenceGemm(transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
                                       a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: beta, c: reference.data, ldc: n)
                    assertClose(fast.values, reference.values, tolerance: 1e-4)
                    let threads = Parallel.threadCount
                    defer { Parallel.threadCount = threads }
                    Parallel.threadCount = 1
                    let oneThread = beta == 0 ? Tensor(filling: .nan, shape: [1, n]) : randomTensor([1, n], seed: 3)
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
                              a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: beta, c: oneThread.data, ldc: n)
                    XCTAssertEqual(oneThread.values, fast.values, "one kernel thread against \(threads)")
                }
            }
        }
    }

    func testMatmulGradientsForAllTransposes() {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let (m, n, k) = (3, 5, 4)
                let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 4)
                let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 5)
                assertGradientsMatch([a, b]) { probe(matmul(a, b, transposeA: transposeA, transposeB: transposeB)) }
            }
        }
    }

    func testLinearIsXTimesWeightTransposed() {
        let x = randomTensor([2, 3, 4], seed: 6), weight = randomTensor([5, 4], seed: 7)
        let y = linear(x, weight: weight)
        XCTAssertEqual(y.shape, [2, 3, 5])
        let expected = matmul(x.reshaped([6, 4]), weight, transposeB: true)
        assertClose(y.values, expected.values, tolerance: 1e-6)
        assertGradientsMatch([x, weight]) { probe(linear(x, weight: weight)) }
    }

    /// `linear(_:weight:adding:)` is `residual + x·Wᵀ`, with the residual's gradient passed
    /// through; without a tape it records nothing, even for inputs that require gradients.
    func testLinearAddingResidual() {
        let x = randomTensor([2, 3, 4], seed: 16), weight = randomTensor([5, 4], seed: 17)
        let residual = randomTensor([2, 3, 5], seed: 18)
        assertClose(linear(x, weight: weight, adding: residual).values, add(residual, linear(x, weight: weight)).values,
                    tolerance: 1e-6)
        assertGradientsMatch([x, weight, residual]) { probe(linear(x, weight: weight, adding: residual)) }
        let recorded = Tape.count
        Tape.withoutGradients { _ = linear(x, weight: weight, adding: residual) }
        XCTAssertEqual(Tape.count, recorded)
    }

    func testBatchedMatmulGradients() {
        let a = randomTensor([3, 4, 5], seed: 8), b = randomTensor([3, 6, 5], seed: 9)
        assertGradientsMatch([a, b]) { probe(batchedMatmul(a, b, transposeB: true)) }
        let c = randomTensor([3, 4, 2], seed: 10)
        assertGradientsMatch([a, c]) { probe(batchedMatmul(a, c, transposeA: true)) }
    }
}
