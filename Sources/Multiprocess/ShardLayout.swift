/// Which of a step's batch shards each process runs: process r of N runs the contiguous shards
/// `(r·S)/N ..< ((r+1)·S)/N` of S (docs/spec/cli.md, "Beyond one machine"); the groups differ in
/// size by at most one. The shard count S is a property of the run; N only decides where shards
/// run.
public struct ShardLayout: Equatable {
    /// S: the run's shard count (`train.shards`).
    public let shards: Int
    /// N: the number of processes.
    public let processes: Int

    /// - Throws: `MultiprocessError` when `processes < 1` or `shards < processes` (a process
    ///   without a shard would only wait).
    public init(shards: Int, processes: Int) throws {
        guard processes >= 1 else { throw MultiprocessError("the process count must be at least 1, not \(processes)") }
        guard shards >= processes else {
            throw MultiprocessError(
                "train.shards = \(shards) is fewer than the \(processes) processes; "
                    + "start at most \(shards) process\(shards == 1 ? "" : "es") or use a run with more shards")
        }
        (self.shards, self.processes) = (shards, processes)
    }

    /// The shards process `rank` runs.
    public func shards(of rank: Int) -> Range<Int> {
        ((rank * shards) / processes)..<(((rank + 1) * shards) / processes)
    }
}
