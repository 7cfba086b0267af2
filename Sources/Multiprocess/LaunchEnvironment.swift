import Foundation

/// How this process was started: alone, or as one process of a job that Open MPI's `mpirun`
/// (or a scheduler's launcher, such as Slurm's `srun --mpi=pmix`) started.
public enum LaunchEnvironment {
    /// Variables that only a launcher sets: `OMPI_COMM_WORLD_SIZE` (mpirun, and Open MPI under
    /// any launcher after start-up) and `PMIX_RANK` (srun with PMIx, before MPI starts).
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK"]

    /// The first launcher variable set in `environment` as `NAME=value`; nil for a process
    /// started by hand (one process, no MPI).
    public static func launcher(in environment: [String: String]) -> String? {
        launcherVariables.lazy.compactMap { name in environment[name].map { "\(name)=\($0)" } }.first
    }
}

extension LaunchEnvironment {
    /// Removes the launcher variables from this process's environment, so that the processes it
    /// spawns (a sweep's `qklab train` runs) start as processes of their own instead of taking
    /// this one's place in the job. Call after `ProcessGroup.start()`, which has read them.
    public static func hideFromChildProcesses() {
        for name in launcherVariables { unsetenv(name) }
    }
}
