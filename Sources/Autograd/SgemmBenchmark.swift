import Foundation

/// Measures `BLAS.gemm` throughput: the yardstick that MFU figures and `qklab info` report against.
public enum SgemmBenchmark {
    /// GFLOP/s of square `size × size` sgemm calls (2·size³ flops each) using every kernel thread
    /// (`Parallel.threadCount`), repeated for about `seconds` each way after one warm-up round;
    /// the better of two ways: one product split by OpenBLAS's own threads (the usual way to
    /// quote a BLAS's peak; QKLab itself never splits a product that way, see `BLAS`), and one
    /// product per thread at once, as batch shards run them.
    public static func measure(size: Int, seconds: Double) -> Double {
        let probe = Probe(size: size), threads = Parallel.threadCount
        var splitByOpenBLAS = 0.0
        BLAS.withOpenBLASThreads(threads) {
            splitByOpenBLAS = rate(products: 1, size: size, seconds: seconds) { probe.multiply(into: 0) }
        }
        let onePerThread = rate(products: threads, size: size, seconds: seconds) { probe.round() }
        return max(splitByOpenBLAS, onePerThread)
    }

    /// A short measurement to repeat between the steps of a benchmark, on a machine whose speed
    /// drifts (a shared virtual machine: its sgemm 2048² rate moved between 147 and 317 GFLOP/s
    /// from one run to the next within an hour): one `size × size` product per kernel thread at
    /// once, as batch shards run them. `Probe(size:)` allocates the operands once; `gflops()`
    /// times one round.
    public final class Probe {
        public let size: Int
        let a: Tensor, b: Tensor, outputs: [Tensor]

        public init(size: Int) {
            var random = SeededRandom(seed: 1)
            a = Tensor(normal: [size, size], std: 1, random: &random)
            b = Tensor(normal: [size, size], std: 1, random: &random)
            outputs = (0..<Parallel.threadCount).map { _ in Tensor(zeros: [size, size]) }  // [size, size] per thread
            self.size = size
        }

        /// FLOPs of one product: 2·size³.
        public var productFLOPs: Double { 2 * pow(Double(size), 3) }

        /// One product on the calling thread, into output `index` (< `Parallel.threadCount`).
        public func multiply(into index: Int) {
            BLAS.gemm(
                transposeA: false, transposeB: false, m: size, n: size, k: size,
                a: a.data, lda: size, b: b.data, ldb: size, beta: 0, c: outputs[index].data, ldc: size)
        }

        /// `Parallel.threadCount` products, one per thread at once.
        public func round() {
            Parallel.forEachChunk(outputs.count, grain: 1) { range in
                for index in range { multiply(into: index) }
            }
        }

        /// GFLOP/s of one `round()`.
        public func gflops() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            round()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return productFLOPs * Double(outputs.count) / seconds / 1e9
        }
    }

    /// GFLOP/s of `round`, which computes `products` size³ products, run for about `seconds`
    /// after one warm-up call.
    private static func rate(products: Int, size: Int, seconds: Double, _ round: () -> Void) -> Double {
        round()
        let start = Date()
        var rounds = 0
        repeat {
            round()
            rounds += 1
        } while Date().timeIntervalSince(start) < seconds
        let elapsed = Date().timeIntervalSince(start)
        return 2 * pow(Double(size), 3) * Double(products * rounds) / elapsed / 1e9
    }
}
