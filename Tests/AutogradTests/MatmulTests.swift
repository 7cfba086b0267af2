@testable import Autograd
import Foundation
import XCTest

final class MatmulTests: XCTestCase {
    /// OpenBLAS computes every product on its caller's thread, so thread counts cannot change a
    /// product's bits (its own threading did, with its Haswell and Prescott kernels).
    func testOpenBLASRunsOnOneThread() {
        let a = randomTensor([64, 64], seed: 1), c = randomTensor([64, 64], seed: 2)
        BLAS.gemm(
            transposeA: false, transposeB: false, m: 64, n: 64, k: 64,
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
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                        a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 1, c: fast.data, ldc: n)
                    BLAS.referenceGemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                        a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 1, c: reference.data, ldc: n)
                    assertClose(fast.values, reference.values, tolerance: 1e-4)
                }
            }
        }
    }

    /// Products with a short inner dimension go to libxsmm (`SmallProducts`): `NN`, `TN` and `NT`
    /// (Bᵀ copied out first, from enough rows on), beta 1 over random C and beta 0 over a C full of
    /// NaN (which must not leak through), operands and C inside wider rows whose extra columns must
    /// stay as they were (a neighbouring head's), k and the operands' size up to and just past the
    /// largest libxsmm takes; each against the naive loop, and libxsmm taking exactly the products
    /// it should (none in a build without it, where OpenBLAS computes them all).
    func testShortInnerDimensionProductsMatchReference() {
        let (longest, largest, rowsForNT) = (
            SmallProducts.largestInnerDimension, SmallProducts.largestFootprint,
            SmallProducts.transposedOperandRows
        )
        let shapes = [
            (1, 1, 1), (7, 33, 17), (rowsForNT, 70, 33), (384, 128, 128), (40, 65, longest), (9, 20, longest + 1),
            (700, 300, 200), (1000, 300, 200),
        ]
        for (m, n, k) in shapes {
            for (transposeA, transposeB) in [(false, false), (true, false), (false, true)] {
                for beta: Float in [1, 0] {
                    let (lda, ldb, ldc) = ((transposeA ? m : k) + 3, (transposeB ? k : n) + 5, n + 2)
                    let a = randomTensor(transposeA ? [k, lda] : [m, lda], seed: 1)
                    let b = randomTensor(transposeB ? [n, ldb] : [k, ldb], seed: 2)
                    let reference = randomTensor([m, ldc], seed: 3),
                        fast = Tensor(shape: [m, ldc], values: reference.values)
                    for row in 0..<m {
                        if beta == 0 { (fast.data + row * ldc).update(repeating: .nan, count: n) }
                        (fast.data + row * ldc + n).update(repeating: 7, count: ldc - n)  // another head's columns
                    }
                    let taken = SmallProducts.multiply(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                        a: a.data, lda: lda, b: b.data, ldb: ldb, beta: beta, c: fast.data, ldc: ldc)
                    let expected =
                        SmallProducts.isAvailable && k <= longest && m * k + k * n + m * n <= largest
                        && (!transposeB || m >= rowsForNT)
                    XCTAssertEqual(
                        taken, expected, "libxsmm for m \(m) n \(n) k \(k) transposes \(transposeA) \(transposeB)")
                    if !taken {
                        BLAS.gemm(
                            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                            a: a.data, lda: lda, b: b.data, ldb: ldb, beta: beta, c: fast.data, ldc: ldc)
                    }
                    BLAS.referenceGemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        a: a.data, lda: lda, b: b.data, ldb: ldb, beta: beta, c: reference.data, ldc: ldc)
                    let columns = { (t: Tensor, range: (Int) -> Range<Int>) in
                        (0..<m).flatMap { row in t.values[range(row)] }
                    }
                    let product = { (row: Int) in (row * ldc)..<(row * ldc + n) },
                        padding = { (row: Int) in (row * ldc + n)..<((row + 1) * ldc) }
                    XCTAssertFalse(
                        columns(fast, product).contains(where: \.isNaN), "NaN in C (m \(m) n \(n) k \(k) beta \(beta))")
                    assertClose(
                        columns(fast, product), columns(reference, product), tolerance: 2e-4 * Float(k).squareRoot())
                    XCTAssertTrue(
                        columns(fast, padding).allSatisfy { $0 == 7 }, "columns past n written (m \(m) n \(n) k \(k))")
                }
            }
        }
        let c = Tensor(zeros: [2, 2]), one = Tensor(filling: 1, shape: [2, 2])
        for (transposeB, alpha, beta) in [(true, Float(1), Float(0)), (false, 0.5, 0), (false, 1, 0.5)] {
            XCTAssertFalse(
                SmallProducts.multiply(
                    transposeA: false, transposeB: transposeB, m: 2, n: 2, k: 2, alpha: alpha,
                    a: one.data, lda: 2, b: one.data, ldb: 2, beta: beta, c: c.data, ldc: 2),
                "transposeB \(transposeB) alpha \(alpha) beta \(beta) is OpenBLAS's")
        }
    }

    /// Threads asking libxsmm for kernels of many shapes at once, over and over, each on threads
    /// that come and go (as `Parallel`'s workers do): every product gives the bits the same shape
    /// gave on the main thread (a kernel for another shape would give other numbers).
    func testShortProductsOnManyThreadsAtOnce() throws {
        try XCTSkipUnless(SmallProducts.isAvailable, "a build without libxsmm (not x86-64)")
        let shapes = (0..<24).map { index in (m: 64 + index, n: 16 + 3 * index, k: 8 + 5 * index) }
        let a = randomTensor([200, 200], seed: 7), b = randomTensor([200, 200], seed: 8)
        func product(_ shape: (m: Int, n: Int, k: Int), transposeA: Bool) -> [Float] {
            var c = [Float](repeating: .nan, count: shape.m * shape.n)
            XCTAssertTrue(
                SmallProducts.multiply(
                    transposeA: transposeA, transposeB: false, m: shape.m, n: shape.n, k: shape.k,
                    alpha: 1, a: a.data, lda: 200, b: b.data, ldb: 200, beta: 0, c: &c, ldc: shape.n))
            return c
        }
        let expected = shapes.map { [product($0, transposeA: false), product($0, transposeA: true)] }
        for round in 0..<20 {
            let mismatches = UnsafeMutablePointer<Int>.allocate(capacity: 8)
            defer { mismatches.deallocate() }
            mismatches.initialize(repeating: 0, count: 8)
            DispatchQueue.concurrentPerform(iterations: 8) { thread in
                for step in 0..<48 {
                    let index = (step * 7 + thread * 5 + round) % shapes.count, transposeA = (step + thread) % 2 == 1
                    if product(shapes[index], transposeA: transposeA) != expected[index][transposeA ? 1 : 0] {
                        mismatches[thread] += 1
                    }
                }
            }
            XCTAssertEqual((0..<8).map { mismatches[$0] }, Array(repeating: 0, count: 8), "round \(round)")
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
                    let a = randomTensor(transposeA ? [k, 2] : [1, k], seed: 1)  // with transposeA, column 0 (stride 2)
                    let b = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
                    let fast = beta == 0 ? Tensor(filling: .nan, shape: [1, n]) : randomTensor([1, n], seed: 3)
                    let reference = randomTensor([1, n], seed: 3)
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
                        a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: beta, c: fast.data, ldc: n)
                    BLAS.referenceGemm(
                        transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
                        a: a.data, lda: a.shape[1], b: b.data, ldb: b.shape[1], beta: beta, c: reference.data, ldc: n)
                    assertClose(fast.values, reference.values, tolerance: 1e-4)
                    let threads = Parallel.threadCount
                    defer { Parallel.threadCount = threads }
                    Parallel.threadCount = 1
                    let oneThread = beta == 0 ? Tensor(filling: .nan, shape: [1, n]) : randomTensor([1, n], seed: 3)
                    BLAS.gemm(
                        transposeA: transposeA, transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5,
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
        assertClose(
            linear(x, weight: weight, adding: residual).values, add(residual, linear(x, weight: weight)).values,
            tolerance: 1e-6)
        assertGradientsMatch([x, weight, residual]) { probe(linear(x, weight: weight, adding: residual)) }
        let recorded = Tape.count
        Tape.withoutGradients { _ = linear(x, weight: weight, adding: residual) }
        XCTAssertEqual(Tape.count, recorded)
    }

    /// `linear(_:weight:bias:)` is `x·Wᵀ` plus the bias on every row, alone and with a fused
    /// residual; the bias's gradient is the column sums of dy (finite differences); without a
    /// tape nothing is recorded.
    func testLinearWithBias() {
        let x = randomTensor([2, 3, 4], seed: 26), weight = randomTensor([5, 4], seed: 27)
        let bias = randomTensor([5], seed: 28), residual = randomTensor([2, 3, 5], seed: 29)
        let rows = Tensor(shape: [2, 3, 5], values: (0..<6).flatMap { _ in bias.values })
        assertClose(
            linear(x, weight: weight, bias: bias).values, add(linear(x, weight: weight), rows).values, tolerance: 1e-6)
        assertClose(
            linear(x, weight: weight, bias: bias, adding: residual).values,
            add(add(residual, rows), linear(x, weight: weight)).values, tolerance: 1e-6)
        assertGradientsMatch([x, weight, bias]) { probe(linear(x, weight: weight, bias: bias)) }
        assertGradientsMatch([x, weight, bias, residual]) {
            probe(linear(x, weight: weight, bias: bias, adding: residual))
        }
        let recorded = Tape.count
        Tape.withoutGradients { _ = linear(x, weight: weight, bias: bias) }
        XCTAssertEqual(Tape.count, recorded)
    }

    func testBatchedMatmulGradients() {
        let a = randomTensor([3, 4, 5], seed: 8), b = randomTensor([3, 6, 5], seed: 9)
        assertGradientsMatch([a, b]) { probe(batchedMatmul(a, b, transposeB: true)) }
        let c = randomTensor([3, 4, 2], seed: 10)
        assertGradientsMatch([a, c]) { probe(batchedMatmul(a, c, transposeA: true)) }
    }
}
