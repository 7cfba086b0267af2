import ArgumentParser
import Formats
import Foundation
import Multiprocess
import Study
import Training
import Transformer

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

    @Option(
        help: ArgumentHelp(
            "Also write a result page from the sweep folder: the command, the summary's tables, the charts copied into a folder beside it (a new page, or one qklab sweep --report wrote; its interpretation section is kept).",
            valueName: "page.md"))
    var report: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Window rule of the LR sensitivity: on a grid spanning more decades of learning rate, the smallest over windows this wide (default 3, Wortsman et al. 2023 App. B).",
            valueName: "decades"),
        transform: { try OptionValue.number($0, atLeast: 0) })
    var lrWindow: Double?

    // Issue 31 item 6: the logit forecast of Wortsman et al. 2023, Fig. 9 (LogitForecast).
    @Option(
        help:
            "Only forecast: fit each learning rate's max attention logit at this step against model size (needs --next-size)."
    )
    var forecastStep: Int?

    @Option(help: "The non-embedding parameter count to forecast the logit for (a size the sweep did not train).")
    var nextSize: Int?

    @Option(
        help: ArgumentHelp(
            "Instead of --next-size: the model to forecast for, as overrides of each line's config (repeatable), e.g. model.d_model=256.",
            valueName: "key=value"))
    var nextSet: [String] = []

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Flag forecasts above this logit (default 1e4, Wortsman et al. 2023).", valueName: "logit"),
        transform: { try OptionValue.number($0, atLeast: 0) })
    var logitThreshold: Double = 1e4

    func validate() throws {
        if (forecastStep == nil) == (nextSize != nil || !nextSet.isEmpty) {
            throw ValidationError(
                "--forecast-step and --next-size (or --next-set) go together: the step to read and the size to forecast"
            )
        }
        if nextSize != nil && !nextSet.isEmpty { throw ValidationError("give --next-size or --next-set, not both") }
        if let forecastStep, forecastStep < 1 {
            throw ValidationError("--forecast-step must be ≥ 1 (got \(forecastStep))")
        }
        if let nextSize, nextSize < 1 { throw ValidationError("--next-size must be ≥ 1 (got \(nextSize))") }
        if !(1...256).contains(jobs) { throw ValidationError("--jobs must be from 1 to 256 (got \(jobs))") }
        if let lrWindow, lrWindow <= 0 {
            throw ValidationError("--lr-window must be above 0 decades (got \(lrWindow))")
        }
        if let report, !report.hasSuffix(".md") { throw ValidationError("--report \(report): give a .md file") }
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
        if lrWindow != nil, Set(plan.points.compactMap(\.learningRate)).count < 2 {
            throw ConfigError("--lr-window: the grid of \(file) has one learning rate, so there is no window to choose")
        }
        if let forecastStep {  // reads the sweep's folders; trains nothing
            let runner = SweepRunner(plan: plan, executable: URL(fileURLWithPath: "/proc/self/exe"), jobs: 1)
            let target = { (point: SweepPlan.Point) in
                try nextSize
                    ?? Self.nonEmbeddingParameters(plan: plan, overrides: point.overridesWithoutShape + nextSet)
            }
            print(
                try LogitForecast(
                    runner: runner, step: forecastStep, targetParameters: target, threshold: logitThreshold
                )
                .text)
            return
        }
        let page = report.map {
            SweepReportPage(
                page: URL(fileURLWithPath: $0), command: Self.command(), sweepFile: URL(fileURLWithPath: file))
        }
        try page?.checkOwnership(charts: [])
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
        let summary = SweepSummary(runner: runner, windowDecades: lrWindow ?? LRSensitivity.paperWindowDecades)
        print(SweepSummaryText(summary).text)
        let output = SweepOutput(plan.output)
        if let reason = output.reasonToKeepPrevious(instead: summary) {
            FileHandle.standardError.write(Data("qklab: note: \(reason)\n".utf8))
        } else {
            let charts = try output.write(summary)
            for chart in charts { print("chart: \(chart.path)") }
            if let page {
                try page.write(summary, charts: charts)
                print("report: \(page.page.path)")
            }
        }
        if let failure = summary.failureMessage { throw RunError(failure) }
    }

    /// The non-embedding parameter count of the sweep's config with `overrides` (a model the
    /// sweep did not train), counted on the model itself as the trainer counts it.
    static func nonEmbeddingParameters(plan: SweepPlan, overrides: [String]) throws -> Int {
        let config = try ConfigLoader.load(plan.base, overrides: plan.fixedOverrides + overrides)
        return try TransformerModel(config: config.model).parameters.nonEmbeddingScalarCount
    }

    /// The command line as typed, the program named `qklab`, for the result page.
    static func command() -> String {
        (["qklab"] + CommandLine.arguments.dropFirst()).map { argument in
            argument.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:".contains($0) }
                ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
