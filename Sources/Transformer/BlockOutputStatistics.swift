import Autograd

/// `block_output_rms` of one decoder layer (docs/metrics.md, "Stability telemetry"), kept as a
/// sum of squares and a count so that batch shards merge exactly: the root mean square of every
/// element of the block's output `[B, T, d]`, the residual stream the next block receives
/// (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
/// instabilities", App. C, Fig. C.1).
public struct BlockOutputStatistics: Equatable {
    /// Σ h² over the block's output, and its number of elements `B·T·d`.
    public var squares: Double, count: Int

    public init(squares: Double, count: Int) {
        (self.squares, self.count) = (squares, count)
    }

    /// The sums of a block output `h` (any shape).
    init(of h: Tensor) {
        self.init(squares: squaredSum(h.data, count: h.count), count: h.count)
    }

    /// The sums of two shards (`self` first: callers add shards in shard order).
    public func merged(with other: BlockOutputStatistics) -> BlockOutputStatistics {
        BlockOutputStatistics(squares: squares + other.squares, count: count + other.count)
    }

    /// `block_output_rms`.
    public var rms: Double { (squares / Double(max(1, count))).squareRoot() }
}
