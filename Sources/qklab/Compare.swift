import ArgumentParser
import Formats
import Foundation
import Study

/// `qklab compare`: a side-by-side table of runs and, with `--out`, an SVG chart of their curves.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Compare runs: a table of their differing config keys and stability numbers, and a chart of their curves.")

    @Argument(help: "Run folders.")
    var runs: [String]

    @Option(
        help: ArgumentHelp(
            "Write the chart to this SVG file (a new file, or a chart qklab compare wrote).", valueName: "file.svg"))
    var out: String?

    @Option(
        help: ArgumentHelp(
            "Chart panels, repeatable or comma-separated: \(ChartPanel.allCases.map(\.rawValue).joined(separator: ", ")) (default: every panel some run has data for).",
            valueName: "panel"))
    var metric: [String] = []

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Report the first step whose validation loss is at or below this (a finite number ≥ 0).", valueName: "loss"),
        transform: { try OptionValue.number($0, atLeast: 0) })
    var target: Double?

    // Issue 31 item 5: any per-step quantity reduced as Wortsman et al. reduce gradient RMS (LastStepsMean).
    @Option(
        help: ArgumentHelp(
            "Also print the mean over each run's last K logged steps of every per-step metrics key (per element for per-layer lists).",
            valueName: "K"))
    var meanLast: Int?

    // Issue 32 item 2: the achieved logit at the step a forecast was made for (Fig. 9).
    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Also print each run's value of every per-step metrics key at these training steps (repeatable or comma-separated).",
            valueName: "step"),
        transform: { try Compare.steps($0) })
    var atStep: [[Int]] = []

    @Option(
        help: ArgumentHelp(
            "With --mean-last or --at-step: only these metrics.jsonl keys (repeatable or comma-separated).",
            valueName: "key"))
    var key: [String] = []

    func validate() throws {
        if let meanLast, meanLast < 1 { throw ValidationError("--mean-last must be ≥ 1 logged step (got \(meanLast))") }
        if !key.isEmpty && meanLast == nil && atStep.isEmpty {
            throw ValidationError("--key chooses what --mean-last or --at-step shows: give one of them too")
        }
        if runs.isEmpty { throw ValidationError("give one or more run folders") }
        _ = try panels()
        if !metric.isEmpty && out == nil {
            throw ValidationError("--metric chooses the chart's panels: give --out FILE.svg too")
        }
    }

    /// `--metric` values as panels.
    func panels() throws -> [ChartPanel] {
        try metric.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }.map { name in
            guard let panel = ChartPanel(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError(
                    "--metric \"\(name)\": expected one of \(ChartPanel.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            return panel
        }
    }

    func run() throws {
        if let out { try ChartFile.check(URL(fileURLWithPath: out)) }
        let histories = try RunHistory.load(runs)
        for run in histories where run.damagedMetricsLines > 0 {
            FileHandle.standardError.write(
                Data(
                    "qklab: note: \(run.folder.metrics.path): \(run.damagedMetricsLines) damaged line\(run.damagedMetricsLines == 1 ? "" : "s") skipped\n"
                        .utf8))
        }
        let keys = key.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if !keys.isEmpty { try checkLogged(keys, in: histories) }
        print(ComparisonTable(runs: histories, target: target).text)
        if let meanLast {
            print("\n" + LastStepsMean(runs: histories, count: meanLast, keys: keys).text)
        }
        if !atStep.isEmpty {
            print("\n" + StepValues(runs: histories, steps: atStep.flatMap { $0 }, keys: keys).text)
        }
        guard let out else { return }
        let panels = try panels()
        for panel in panels where !panel.hasData(in: histories) {
            FileHandle.standardError.write(
                Data("qklab: note: no run has \(panel.rawValue) data: its panel is empty\n".utf8))
        }
        let chart = ComparisonChart(runs: histories, panels: panels)
        try ChartFile.write(chart.svg, to: URL(fileURLWithPath: out))
        print("chart: \(out)")
    }

    /// `--at-step` values: comma-separated training steps, each an integer ≥ 0.
    static func steps(_ text: String) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            do { return try OptionValue.integer(String(item), in: 0...Int.max) } catch {
                throw OptionValueError("\"\(item)\": \(error)")
            }
        }
    }

    /// - Throws: `RunError` naming the `--key` values no run logs in its training lines.
    func checkLogged(_ keys: [String], in runs: [RunHistory]) throws {
        let unknown = keys.filter { key in !runs.contains { $0.trainingLines.contains { $0[key] != nil } } }
        guard unknown.isEmpty else {
            throw RunError(
                "--key \(unknown.joined(separator: ", ")): no run logs \(unknown.count == 1 ? "this key" : "these keys") in its training lines (see docs/metrics.md)"
            )
        }
    }
}
