import Foundation

/// The processes of one job: one process when started by hand, N when started by `mpirun -np N`
/// (or a scheduler's launcher) from a build with the trait MPI. Every process runs the same
/// program; they differ only in `rank`, and meet in collective calls that each process makes in
/// the same order.
///
/// Failure: an error on any process must end the whole job, or the others wait forever in their
/// next collective. `failingTogether` turns a thrown error into one line on stderr from the
/// failing process and MPI_Abort, which makes `mpirun` end every process; a process killed by a
/// signal makes `mpirun` end the job by itself.
public final class ProcessGroup {
    let communicator: Communicator

    /// This process's index, 0..<size; process 0 is the one that writes shared results.
    public var rank: Int { communicator.rank }
    /// Number of processes in the job.
    public var size: Int { communicator.size }
    /// The host this process runs on (MPI_Get_processor_name).
    public var hostname: String { communicator.processorName }

    init(communicator: Communicator) { self.communicator = communicator }

    /// Joins the job this process was launched into (MPI_Init_thread), or forms a group of one
    /// when no launcher started it. Call once, from the main thread, before any thread starts;
    /// end with `finish()`.
    /// - Throws: `MultiprocessError` when a launcher started this process but this build has no
    ///   Open MPI (built without `--traits MPI`), or when Open MPI cannot start.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup
    {
        guard let launcher = LaunchEnvironment.launcher(in: environment) else {
            return ProcessGroup(communicator: SingleProcess(processorName: ProcessInfo.processInfo.hostName))
        }
        #if MPI
            return ProcessGroup(communicator: try MPICommunicator())
        #else
            throw MultiprocessError(
                "started by an MPI launcher (\(launcher)) but this qklab was built without Open MPI; "
                    + "rebuild with `swift build -c release --traits MPI` (needs libopenmpi-dev)")
        #endif
    }

    /// Leaves the job (MPI_Finalize). Every process must call it, after its last collective.
    public func finish() { communicator.finish() }

    /// Waits until every process has reached it.
    public func barrier() { communicator.barrier() }

    /// One value from every process, in rank order (e.g. a loss, a time, a flag as 0/1).
    public func allgather(_ value: Double) -> [Double] { communicator.allgather(value) }

    /// Process `root`'s `values` on every process; all pass arrays of the same count.
    public func broadcast(_ values: [Double], from root: Int = 0) -> [Double] {
        communicator.broadcast(values, from: root)
    }

    /// The host of every process, in rank order.
    public func hosts() -> [String] { communicator.allgather(hostname) }

    /// Runs `body`; when it throws in a job of several processes, prints
    /// `qklab: process R of N (HOST): ERROR` and ends the whole job with exit status 1. In a job
    /// of one process the error is rethrown, for the command's usual one-line report.
    public func failingTogether<T>(_ body: () throws -> T) rethrows -> T {
        do { return try body() } catch {
            guard size > 1 else { throw error }
            abort("\(error)")
        }
    }

    /// Ends the job together when `error` is set on any process (a collective: every process calls
    /// it at the same point, e.g. after reading its config, corpus and checkpoint): the
    /// lowest-ranked failing process prints `qklab: process R of N (HOST): ERROR`, every process
    /// leaves the job normally and exits with status 1 — one line whether one process or all of
    /// them failed; before that, every process calls `undo` (to take back what it wrote for a
    /// start that will not happen). Returns when none did.
    public func endIfAnyFailed(_ error: Error?, undoing undo: () -> Void = {}) {
        guard size > 1 else { return }
        let failed = communicator.allgather(error == nil ? 0.0 : 1.0)
        guard let first = failed.firstIndex(of: 1) else { return }
        undo()
        if rank == first, let error { printFailure("\(error)", rank: rank, size: size, host: hostname) }
        communicator.finish()
        exit(1)
    }

    /// Prints `qklab: process R of N (HOST): MESSAGE` and ends every process of the job with exit
    /// status 1.
    public func abort(_ message: String) -> Never {
        printFailure(message, rank: rank, size: size, host: hostname)
        communicator.abort(code: 1)
    }
}

/// The one line a failing process prints before it ends the job.
func printFailure(_ message: String, rank: Int, size: Int, host: String) {
    FileHandle.standardError.write(Data("qklab: process \(rank) of \(size) (\(host)): \(message)\n".utf8))
}
