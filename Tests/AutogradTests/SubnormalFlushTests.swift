import Autograd
import XCTest

/// `SubnormalFlush`: after `enable()`, subnormal operands count as zero on the calling thread,
/// in `Parallel`'s chunks and in OpenBLAS's own worker threads, so a product's result does not
/// depend on which thread computed which rows. (The mode then holds for the rest of the test
/// process, as it does in `qklab`.)
final class SubnormalFlushTests: XCTestCase {
    func testSubnormalOperandsAreZeroOnEveryThread() throws {
        try XCTSkipUnless(Self.isX86_64, "flush-to-zero is set on x86-64 only")
        SubnormalFlush.enable()
        XCTAssertTrue(SubnormalFlush.isActiveOnThisThread)

        // 512 × 512 products split across OpenBLAS's threads: A holds subnormals only.
        let n = 512
        let a = Tensor(shape: [n, n], values: [Float](repeating: 1e-39, count: n * n))
        let b = Tensor(shape: [n, n], values: [Float](repeating: 1, count: n * n))
        let c = Tensor(shape: [n, n], values: [Float](repeating: 7, count: n * n))
        let previous = BLAS.threadCount
        defer { BLAS.threadCount = previous }
        BLAS.threadCount = max(2, System.coreCount)
        BLAS.gemm(transposeA: false, transposeB: false, m: n, n: n, k: n,
                  a: a.data, lda: n, b: b.data, ldb: n, beta: 0, c: c.data, ldc: n)
        XCTAssertEqual(c.values.filter { $0 != 0 }.count, 0, "a thread computed with subnormals")

        // Parallel's chunks (whatever threads Dispatch gives them) run in the mode too.
        let chunks = 8
        var active = [Bool](repeating: false, count: chunks)
        active.withUnsafeMutableBufferPointer { flags in
            let flags = flags
            Parallel.forEachChunk(chunks, grain: 1) { range in
                for i in range { flags[i] = SubnormalFlush.isActiveOnThisThread }
            }
        }
        XCTAssertEqual(active, [Bool](repeating: true, count: chunks))
    }

    private static var isX86_64: Bool {
        #if arch(x86_64)
        return true
        #else
        return false
        #endif
    }
}
