import ArgumentParser
import Formats
import Multiprocess
import Study

/// This process's share of a sweep: all points; the slice `--shard i/n` names (one job of a job
/// array); or under `mpirun -np N`, slice r/N for process r. The summary is written by the
/// process that saw the whole sweep finish: a lone process, or process 0 of an mpirun job after
/// the barrier; a `--shard` job leaves it to `qklab sweep FILE --summary-only`.
struct SweepShare {
    let slice: SweepSlice?
    let writesSummary: Bool

    /// - Throws: `ValidationError` (a usage error) for a malformed `--shard`, or for `--shard`
    ///   under mpirun (both would split the points).
    init(shard: String?, group: ProcessGroup) throws {
        switch (shard, group.size) {
        case (let text?, 1):
            (slice, writesSummary) = (try Self.slice(parsing: text), false)
        case (_?, let size):
            throw ValidationError(
                "--shard splits the points across jobs and mpirun across its \(size) processes; use one of them")
        case (nil, 1):
            (slice, writesSummary) = (nil, true)
        case (nil, let size):
            (slice, writesSummary) = (try SweepSlice(index: group.rank, count: size), group.rank == 0)
            LaunchEnvironment.hideFromChildProcesses()
        }
    }

    /// The slice `--shard` names; a malformed one is a usage error.
    static func slice(parsing text: String) throws -> SweepSlice {
        do {
            return try SweepSlice(parsing: text)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
