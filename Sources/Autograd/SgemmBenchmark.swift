import Foundation

/// Measures `BLAS.gemm` throughput: the yardstick that MFU figures and `qklab info` report against.
public enum SgemmBenchmark {
    /// GFLOP/s of square `size × size` sgemm calls (2·size³ flops each) run on every kernel thread
    /// at once (`Parallel.threadCount`, each thread its own product, as batch shards run), repeated
    /// for about `seconds` after one warm-up round: the machine's peak for QKLab's products.
    public static func measure(size: Int, seconds: Double) -> Double {
        var random = SeededRandom(seed: 1)
        let a = Tensor(normal: [size, size], std: 1, random: &random)
        let b = Tensor(normal: [size, size], std: 1, random: &random)
        let threads = Parallel.threadCount
        let outputs = (0..<threads).map { _ in Tensor(zeros: [size, size]) }   // [size, size] per thread
        func multiplyOnEveryThread() {
            Parallel.forEachChunk(threads, grain: 1) { range in
                for thread in range {
                    BLAS.gemm(transposeA: false, transposeB: false, m: size, n: size, k: size,
                              a: a.data, lda: size, b: b.data, ldb: size, beta: 0, c: outputs[thread].data, ldc: size)
                }
            }
        }
        multiplyOnEveryThread()
        let start = Date()
        var rounds = 0
        repeat {
            multiplyOnEveryThread()
            rounds += 1
        } while Date().timeIntervalSince(start) < seconds
        let elapsed = Date().timeIntervalSince(start)
        return 2 * pow(Double(size), 3) * Double(threads * rounds) / elapsed / 1e9
    }
}
