import Autograd
import XCTest

/// `SubnormalFlush`: after `enable()`, subnormal operands count as zero on the calling thread
/// and in `Parallel`'s chunks, so a result does not depend on which thread computed it. (The mode then holds for the rest of the test
/// process, as it does in `qklab`.)
final class SubnormalFlushTests: XCTestCase {
    func testSubnormalOperandsAreZeroOnEveryThread() throws {
        try XCTSkipUnless(Self.isX86_64, "flush-to-zero is set on x86-64 only")
        SubnormalFlush.enable()
        XCTAssertTrue(SubnormalFlush.isActiveOnThisThread)

        // A product with subnormal operands on this thread and in each of Parallel's chunks.
        let n = 256
        let subnormal = Float.leastNormalMagnitude / 16  // 2^-130 ≈ 7.3e-40
        let a = Tensor(shape: [n, n], values: [Float](repeating: subnormal, count: n * n))
        let b = Tensor(shape: [n, n], values: [Float](repeating: 1, count: n * n))
        let c = Tensor(shape: [n, n], values: [Float](repeating: 7, count: n * n))
        BLAS.gemm(
            transposeA: false, transposeB: false, m: n, n: n, k: n,
            a: a.data, lda: n, b: b.data, ldb: n, beta: 0, c: c.data, ldc: n)
        XCTAssertEqual(c.values.filter { $0 != 0 }.count, 0, "the main thread computed with subnormals")

        // Parallel's chunks (whatever threads Dispatch gives them) run in the mode too.
        let chunks = 8
        // one 1×1 product per chunk
        let products = Tensor(shape: [chunks], values: [Float](repeating: 7, count: chunks))
        var active = [Bool](repeating: false, count: chunks)
        active.withUnsafeMutableBufferPointer { flags in
            let flags = flags
            Parallel.forEachChunk(chunks, grain: 1) { range in
                for i in range {
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: 1, n: 1, k: 1,
                        a: a.data, lda: 1, b: b.data, ldb: 1, beta: 0, c: products.data + i, ldc: 1)
                    flags[i] = SubnormalFlush.isActiveOnThisThread
                }
            }
        }
        XCTAssertEqual(active, [Bool](repeating: true, count: chunks))
        XCTAssertEqual(products.values, [Float](repeating: 0, count: chunks), "a chunk computed with subnormals")
    }

    private static var isX86_64: Bool {
        #if arch(x86_64)
            return true
        #else
            return false
        #endif
    }
}
