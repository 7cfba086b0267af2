/// The processes one training run is spread over (docs/spec/cli.md, "Beyond one machine"): what the
/// trainer needs from an MPI job. Training knows nothing of MPI; `qklab` adapts Multiprocess's
/// process group to this protocol when `mpirun` started it. Every process makes the same calls
/// in the same order (they are collectives); an error on one process must end the whole job
/// (`ProcessGroup.failingTogether`), or the others wait in their next collective.
public protocol TrainingJob: AnyObject {
    /// This process's index, 0..<processCount; process 0 alone writes the run folder.
    var rank: Int { get }
    /// N: the number of processes.
    var processCount: Int { get }
    /// The host of every process, in rank order (the run header names them).
    var hosts: [String] { get }
    /// Per-shard buffers of `count` floats for `shards` shards (the gradients).
    /// - Throws: when there are fewer shards than processes.
    func gradientExchange(shards: Int, count: Int) throws -> any GradientExchange
    /// Per-shard buffers of `count` doubles for `shards` shards (losses and telemetry sums).
    /// - Throws: when there are fewer shards than processes.
    func numberExchange(shards: Int, count: Int) throws -> any ShardBuffers<Double>
    /// Process 0's `values` on every process (every process passes the same count).
    func broadcastFromFirst(_ values: [Double]) -> [Double]
    /// Waits until every process has reached it.
    func barrier()
}

/// One buffer per batch shard: each process writes its own shards', `exchange()` gathers them all
/// on every process (copies, no arithmetic).
public protocol ShardBuffers<Number>: AnyObject {
    associatedtype Number
    /// The contiguous shards this process runs and writes.
    var localShards: Range<Int> { get }
    /// Lets `body` write the buffer of `shard`, one of `localShards`.
    func withLocalBuffer<R>(of shard: Int, _ body: (UnsafeMutableBufferPointer<Number>) throws -> R) rethrows -> R
    /// Gathers every shard's buffer on every process (a collective).
    func exchange()
    /// Shard `shard`'s buffer, after `exchange()`.
    func buffer(of shard: Int) -> ArraySlice<Number>
}

/// Per-shard gradients, summed in shard order.
public protocol GradientExchange: ShardBuffers<Float> {
    /// `destination` = ((shard 0 + shard 1) + shard 2) + … element by element, after
    /// `exchange()`: the order of one process adding its shards' gradients.
    func sumInShardOrder(into destination: UnsafeMutableBufferPointer<Float>)
}

/// An end of training that every process of a job reaches at the same step (a non-finite step
/// under "stop", a run that learned nothing, an agreed stop signal): process 0 reports `error`
/// and every process leaves the job normally, instead of each aborting it.
public struct EveryProcessStop: Error, CustomStringConvertible {
    public let error: Error
    public var description: String { "\(error)" }
}
