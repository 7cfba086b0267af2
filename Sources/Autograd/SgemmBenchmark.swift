import Foundation

/// Measures `BLAS.gemm` throughput: the yardstick that MFU figures and `qklab info` report against.
public enum SgemmBenchmark {
    /// GFLOP/s of square `size × size` sgemm calls (2·size³ flops each) repeated for about
    /// `seconds`, after one warm-up call.
    public static func measure(size: Int, seconds: Double) -> Double {
        var random = SeededRandom(seed: 1)
        let a = Tensor(normal: [size, size], std: 1, random: &random)
        let b = Tensor(normal: [size, size], std: 1, random: &random)
        let c = Tensor(zeros: [size, size])
        func multiply() {
            BLAS.gemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                      a: a.data, lda: size, b: b.data, ldb: size, beta: 0, c: c.data, ldc: size)
        }
        multiply()
        let start = Date()
        var calls = 0
        repeat {
            multiply()
            calls += 1
        } while Date().timeIntervalSince(start) < seconds
        let elapsed = Date().timeIntervalSince(start)
        return 2 * pow(Double(size), 3) * Double(calls) / elapsed / 1e9
    }
}
