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
    static let configuration = CommandConfiguration(abstract: "Run a grid of configs and report learning-rate sensitivity.")

    @Argument(help: "Sweep file (TOML: base, out, [set], [grid]).")
    var file: String

    @Option(help: "Runs trained at the same time (threads are split between them).")
    var jobs = 1

    @Flag(help: "Only summarise the runs already there.")
    var summaryOnly = false

    // Issue 18: one sweep as many jobs (SweepShare: --shard, or the processes of mpirun).
    @Option(help: "Train only slice i of n of the points (0-based, round-robin), e.g. 0/4: one job of a job array.")
    var shard: String?

    func run() throws {
        let group = try ProcessGroup.start()
        try group.failingTogether { try sweep(group) }
        group.finish()
    }

    func sweep(_ group: ProcessGroup) throws {
        let plan = try SweepPlan(file: URL(fileURLWithPath: file)) { base, overrides in
            try ConfigLoader.load(base, overrides: overrides).resolvedTOML()
        }
        let share = try SweepShare(shard: shard, group: group)
        let runner = SweepRunner(plan: plan, executable: URL(fileURLWithPath: "/proc/self/exe"), jobs: jobs)
        if !summaryOnly {
            let ownPoints = SweepRunner(plan: share.slice.map(plan.restricted) ?? plan, executable: runner.executable, jobs: jobs)
            try ownPoints.run { print($0); fflush(stdout) }
        }
        group.barrier()
        guard share.writesSummary || summaryOnly && group.rank == 0 else { return }
        let summary = SweepSummary(runner: runner)
        print(summary.table)
        let chart = plan.output.appendingPathComponent("lr_sweep.svg")
        try FileManager.default.createDirectory(at: plan.output, withIntermediateDirectories: true)
        try SweepChart.svg(summary).write(to: chart, atomically: true, encoding: .utf8)
        try summary.table.write(to: plan.output.appendingPathComponent("summary.txt"), atomically: true, encoding: .utf8)
        print("chart: \(chart.path)")
        if summary.hasSizes {   // the scaling view (Wortsman et al. 2023, Figure 1)
            let charts = [("lr_sensitivity_scaling.svg", ScalingChart.svg(summary)), ("loss_vs_lr_by_size.svg", LossCurvesChart.svg(summary))]
            for (name, svg) in charts {
                try svg.write(to: plan.output.appendingPathComponent(name), atomically: true, encoding: .utf8)
                print("chart: \(plan.output.appendingPathComponent(name).path)")
            }
        }
        if let failure = summary.failureMessage { throw RunError(failure) }
    }
}
