/// Per-shard buffers of `count` numbers, exchanged so that every process holds every shard's
/// buffer, and (for `Float` gradients) summed in global shard order: the deterministic gradient
/// combination. `Double` buffers carry each shard's losses and telemetry sums, which the caller
/// folds in shard order the same way.
///
/// One process summing shards 0…S−1 computes ((g₀ + g₁) + g₂) + … element by element; MPI's own
/// allreduce promises no order, so its sums can differ in the last bit between process counts.
/// Here each process writes its own shards' buffers (`localBuffer(of:)`), `exchange()` gathers
/// them all (MPI_Allgatherv in place, S·count floats on every process), and `sumInShardOrder`
/// adds them in that same order on every process: bit-identical to one process summing the
/// same shards, whatever the number of processes. Costs S·count numbers of memory and each
/// process receives (S − own)·count numbers per exchange.
public final class ShardExchange<Number: ExchangedNumber> {
    public let group: ProcessGroup
    public let layout: ShardLayout
    /// Numbers per shard (e.g. the model's gradient buffer length).
    public let count: Int
    /// [S, count]: shard s's buffer at s·count.
    private var buffers: [Number]

    /// - Throws: `MultiprocessError` when the layout is not for `group.size` processes.
    public init(group: ProcessGroup, layout: ShardLayout, count: Int) throws {
        guard layout.processes == group.size else {
            throw MultiprocessError("a shard layout for \(layout.processes) processes used in a job of \(group.size)")
        }
        (self.group, self.layout, self.count) = (group, layout, count)
        buffers = [Number](repeating: 0, count: layout.shards * count)
    }

    /// The shards this process writes.
    public var localShards: Range<Int> { layout.shards(of: group.rank) }

    /// Lets `body` write the buffer of `shard`, one of `localShards`.
    public func withLocalBuffer<R>(of shard: Int, _ body: (UnsafeMutableBufferPointer<Number>) throws -> R) rethrows
        -> R
    {
        precondition(localShards.contains(shard), "shard \(shard) is not one of this process's \(localShards)")
        return try buffers.withUnsafeMutableBufferPointer {
            try body(.init(rebasing: $0[(shard * count)..<((shard + 1) * count)]))
        }
    }

    /// Gathers every shard's buffer on every process (a collective: every process calls it).
    public func exchange() {
        let counts = (0..<layout.processes).map { layout.shards(of: $0).count * count }
        buffers.withUnsafeMutableBufferPointer { group.communicator.allgatherInPlace($0, counts: counts) }
    }

    /// Shard `shard`'s buffer, after `exchange()`.
    public func buffer(of shard: Int) -> ArraySlice<Number> { buffers[(shard * count)..<((shard + 1) * count)] }
}

extension ShardExchange where Number == Float {
    /// `destination` = ((shard 0 + shard 1) + shard 2) + … element by element, after `exchange()`.
    public func sumInShardOrder(into destination: UnsafeMutableBufferPointer<Float>) {
        precondition(destination.count == count, "destination holds \(destination.count) floats, not \(count)")
        buffers.withUnsafeBufferPointer { all in shardOrderSum(all, shards: layout.shards, into: destination) }
    }
}

/// `destination[i]` = ((all[i] + all[count + i]) + all[2·count + i]) + … over `shards` buffers of
/// `destination.count` floats laid end to end: the order of one process adding shards 0, 1, 2, …
public func shardOrderSum(
    _ all: UnsafeBufferPointer<Float>, shards: Int, into destination: UnsafeMutableBufferPointer<Float>
) {
    let count = destination.count
    precondition(all.count == shards * count, "\(all.count) floats are not \(shards) buffers of \(count)")
    for i in 0..<count { destination[i] = all[i] }
    for shard in 1..<max(1, shards) {
        let offset = shard * count
        for i in 0..<count { destination[i] += all[offset + i] }
    }
}
