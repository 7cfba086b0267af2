import Foundation

/// Where a training step's time goes: forward and backward time of the ops, by category.
/// Off by default (one branch per op); the benchmark turns it on. Times of ops running at once on
/// several threads (batch shards) add up: the totals are core-seconds.
public enum OpProfile {
    public enum Category: Int, CaseIterable, CustomStringConvertible {
        case matmul, attention, norm, rope, elementwise, embedding, loss, optimizer
        public var description: String {
            ["matmul", "attention", "norms", "rope", "elementwise", "embedding", "loss", "optimizer"][rawValue]
        }
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) private static var nanoseconds = [UInt64](repeating: 0, count: Category.allCases.count)
    private static let lock = NSLock()

    /// A start time for `end`, or 0 when profiling is off.
    @inline(__always)
    public static func begin() -> UInt64 {
        isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
    }

    /// Adds the time since `start` to `category`.
    @inline(__always)
    public static func end(_ category: Category, _ start: UInt64) {
        guard isEnabled else { return }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        lock.lock()
        nanoseconds[category.rawValue] += elapsed
        lock.unlock()
    }

    /// The libraries that multiply matrices (`BLAS.gemm`).
    public enum ProductLibrary: Int, CaseIterable, CustomStringConvertible {
        case openBLAS, libxsmm
        public var description: String { ["OpenBLAS", "libxsmm"][rawValue] }
    }

    /// The products inside the ops, per library (nested in their categories' times, not a
    /// category of their own): how fast the products run in a real step, with their operands
    /// wherever the step left them, against an sgemm measured alone. Nanoseconds summed over the
    /// threads that ran them (core-nanoseconds), and FLOPs (2·m·n·k per product), since the last
    /// `reset()`; lanes indexed by `ProductLibrary.rawValue` (a SIMD pair: reading the totals
    /// allocates nothing, so a benchmark can read them around every step).
    nonisolated(unsafe) public private(set) static var productNanoseconds = SIMD2<UInt64>()
    nonisolated(unsafe) public private(set) static var productFLOPs = SIMD2<Double>()

    /// Adds one product of `flops` FLOPs run by `library` that started at `start` (from `begin()`).
    @inline(__always)
    public static func endProduct(_ library: ProductLibrary, flops: Double, _ start: UInt64) {
        guard isEnabled else { return }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        lock.lock()
        productNanoseconds[library.rawValue] += elapsed
        productFLOPs[library.rawValue] += flops
        lock.unlock()
    }

    /// Wall nanoseconds of each batch shard's forward and backward in the last `DataParallel` step
    /// run while profiling, by the shard's index among the shards this process ran. With the
    /// batch's rows split evenly and one shard per core, the shards do the same work, so their
    /// spread shows how far apart the cores ran: on a shared machine two cores need not run at one
    /// speed, and the faster waits for the slower at the end of the step.
    nonisolated(unsafe) public private(set) static var shardNanoseconds: [UInt64] = []

    /// Records shard `index` of `count` that started at `start` (from `begin()`).
    @inline(__always)
    public static func endShard(_ index: Int, of count: Int, _ start: UInt64) {
        guard isEnabled else { return }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        lock.lock()
        if shardNanoseconds.count != count { shardNanoseconds = [UInt64](repeating: 0, count: count) }
        shardNanoseconds[index] = elapsed
        lock.unlock()
    }

    /// Seconds per category since the last `reset()`.
    public static var seconds: [(category: Category, seconds: Double)] {
        Category.allCases.map { ($0, Double(nanoseconds[$0.rawValue]) / 1e9) }
    }

    public static func reset() {
        nanoseconds = [UInt64](repeating: 0, count: Category.allCases.count)
        (productNanoseconds, productFLOPs) = (SIMD2(), SIMD2())
        shardNanoseconds = []
    }
}
