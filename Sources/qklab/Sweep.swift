import ArgumentParser
import Formats
import Foundation
import Multiprocess
import Study
import Training

/// `qklab sweep`: a grid of runs (e.g. learning rate × qk_norm × seed) and its stability summary.
/// Exits non-zero when any point failed (an error exit, or a folder trained with another config),
/// after writing the summary of the rest.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a grid of configs and report learning-rate sensitivity.")

    @Argument(help: "Sweep file (TOML: base, out, [set], [grid]).")
    var file: String

    @Option(help: "Runs trained at the same time, 1 to 256 (threads are split between them).")
    var jobs = 1

    @Flag(help: "Only summarise the runs already there.")
    var summaryOnly = false

    // Issue 18: one sweep as many jobs (SweepShare: --shard, or the processes of mpirun).
    @Option(help: "Train only slice i of n of the points (0-based, round-robin), e.g. 0/4: one job of a job array.")
    var shard: String?

    func validate() throws {
        if !(1...256).contains(jobs) { throw ValidationError("--jobs must be from 1 to 256 (got \(jobs))") }
        if let shard { _ = try SweepShare.slice(parsing: shard) }
    }

    func run() throws {
        let group = try ProcessGroup.start()
        try group.failingTogether { try sweep(group) }
        group.finish()
    }

    func sweep(_ group: ProcessGroup) throws {
        let plan = try SweepPlan(file: URL(fileURLWithPath: file), defaults: TrainingConfig().resolvedTOML()) {
            base, overrides in
            try ConfigLoader.load(base, overrides: overrides).resolvedTOML()
        }
        let share = try SweepShare(shard: shard, group: group)
        let runner = SweepRunner(plan: plan, executable: URL(fileURLWithPath: "/proc/self/exe"), jobs: jobs)
        if !summaryOnly {
            let ownPoints = SweepRunner(
                plan: share.slice.map(plan.restricted) ?? plan, executable: runner.executable, jobs: jobs)
            StopSignal.install()
            do {
                try ownPoints.run(stopRequested: { StopSignal.pending }) {
                    print($0)
                    fflush(stdout)
                }
            } catch let stopped as SweepStopped {
                FileHandle.standardError.write(Data("qklab: \(stopped)\n".utf8))
                throw ExitCode(stopped.exitCode)
            }
        }
        group.barrier()
        guard share.writesSummary || summaryOnly && group.rank == 0 else { return }
        if summaryOnly, !FileManager.default.fileExists(atPath: SweepOutput(plan.output).points.path) {
            throw RunError(
                "sweep output \(plan.output.path) has no points yet (no points/ folder): run the sweep without --summary-only first"
            )
        }
        let summary = SweepSummary(runner: runner)
        print(summary.table)
        for chart in try SweepOutput(plan.output).write(summary) { print("chart: \(chart.path)") }
        if let failure = summary.failureMessage { throw RunError(failure) }
    }
}
