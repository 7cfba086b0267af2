import ArgumentParser
import Formats
import Foundation
import Study

/// `qklab compare`: a side-by-side table of runs and, with `--out`, an SVG chart of their curves.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare runs: a table of their differing config keys and stability numbers, and a chart of their curves.")

    @Argument(help: "Run folders.")
    var runs: [String]

    @Option(help: ArgumentHelp("Write the chart to this SVG file.", valueName: "file.svg"))
    var out: String?

    @Option(help: ArgumentHelp("Chart panels, repeatable or comma-separated: \(ChartPanel.allCases.map(\.rawValue).joined(separator: ", ")) (default: every panel some run has data for).",
                               valueName: "panel"))
    var metric: [String] = []

    @Option(help: ArgumentHelp("Report the first step whose validation loss is at or below this.", valueName: "loss"))
    var target: Double?

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give one or more run folders") }
        _ = try panels()
    }

    /// `--metric` values as panels.
    func panels() throws -> [ChartPanel] {
        try metric.flatMap { $0.split(separator: ",") }.map { name in
            guard let panel = ChartPanel(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--metric \(name): expected one of \(ChartPanel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return panel
        }
    }

    func run() throws {
        let histories = try RunHistory.load(runs)
        print(ComparisonTable(runs: histories, target: target).text)
        guard let out else { return }
        let chart = ComparisonChart(runs: histories, panels: try panels())
        do {
            try chart.svg.write(to: URL(fileURLWithPath: out), atomically: true, encoding: .utf8)
        } catch {
            throw RunError("cannot write chart \(out): check that its folder exists and is writable (\(error.localizedDescription))")
        }
        print("chart: \(out)")
    }
}
