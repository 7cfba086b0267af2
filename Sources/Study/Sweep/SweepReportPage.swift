import Formats
import Foundation

/// A result page written from a sweep folder (`qklab sweep FILE --report docs/results/NAME.md`):
/// the exact command, the sweep file, the summary's tables and the sweep's charts, copied into
/// `docs/results/NAME/`. No number on the page is typed by hand: a regeneration rewrites all of
/// it except the part between `interpretationStart` and `interpretationEnd`, which is written by
/// hand and kept. QKLab writes a page only where there is none, or one it wrote (its first line is
/// `mark`); likewise each chart copy.
public struct SweepReportPage {
    public static let mark =
        "<!-- written by qklab sweep --report: regenerate it with the command below; only the interpretation section is written by hand -->"
    public static let interpretationStart =
        "<!-- interpretation: written by hand; qklab sweep --report keeps everything up to the end mark -->"
    public static let interpretationEnd = "<!-- end of interpretation -->"

    public let page: URL
    /// The command that writes the page, as typed ("qklab sweep … --report …").
    public let command: String
    public let sweepFile: URL

    public init(page: URL, command: String, sweepFile: URL) {
        (self.page, self.command, self.sweepFile) = (page, command, sweepFile)
    }

    /// The folder next to the page that holds its charts: `NAME/` for `NAME.md`.
    public var chartFolder: URL { page.deletingPathExtension() }

    /// Throws one line unless the page and its chart copies are new or QKLab's own.
    /// - Throws: `RunError` naming the file; `FileError` when one cannot be read.
    public func checkOwnership(charts: [URL]) throws {
        if let text = try existingText(), text.split(separator: "\n", maxSplits: 1).first.map(String.init) != Self.mark
        {
            throw RunError(
                "result page \(page.path) was not written by qklab sweep --report, and QKLab never overwrites such a page: choose another path or move it away"
            )
        }
        for chart in charts {
            let copy = chartFolder.appendingPathComponent(chart.lastPathComponent)
            if FileManager.default.fileExists(atPath: copy.path), !(try SweepOutput.isSweepsOwn(copy)) {
                throw RunError(
                    "\(copy.path) was not written by qklab sweep, and QKLab never overwrites such a file: move it away")
            }
        }
    }

    /// Writes the page and copies `charts` beside it, keeping the hand-written interpretation of
    /// an earlier page.
    /// - Throws: as `checkOwnership`; `FileError` when reading or writing fails.
    public func write(_ summary: SweepSummary, charts: [URL]) throws {
        try checkOwnership(charts: charts)
        let interpretation = try existingText().flatMap(Self.interpretation) ?? "_Not written yet._"
        if !charts.isEmpty { try FileIO.createDirectory(chartFolder) }
        for chart in charts {
            try FileIO.replace(
                chartFolder.appendingPathComponent(chart.lastPathComponent), with: try FileIO.read(chart))
        }
        try FileIO.replace(page, with: Data(text(summary, charts: charts, interpretation: interpretation).utf8))
    }

    /// The page's Markdown.
    func text(_ summary: SweepSummary, charts: [URL], interpretation: String) -> String {
        let rendered = SweepSummaryText(summary)
        let sweepText = (try? String(contentsOf: sweepFile, encoding: .utf8)) ?? "(the sweep file cannot be read)"
        var lines = [
            Self.mark,
            "# Sweep \(sweepFile.deletingPathExtension().lastPathComponent)",
            "",
            "Written by QKLab from the sweep's run folders with:",
            "",
            "```sh", command, "```",
            "",
            "The sweep file, `\(sweepFile.lastPathComponent)`:",
            "",
            "```toml", sweepText.trimmingCharacters(in: .newlines), "```",
            "",
        ]
        if !charts.isEmpty {
            lines += ["## Charts", ""]
            lines += charts.map { chart in
                "![\(Self.chartTitle(chart.lastPathComponent))](\(chartFolder.lastPathComponent)/\(chart.lastPathComponent))"
            }
            lines.append("")
        }
        let sections: [(String, String?)] = [
            ("LR sensitivity", rendered.variantTable), ("Final loss per learning rate", rendered.curveTable),
            ("Scaling", rendered.scalingTable), ("Points", rendered.pointTable),
        ]
        for case let (title, table?) in sections { lines += ["## \(title)", "", "```", table, "```", ""] }
        lines += [
            "## Interpretation", "", Self.interpretationStart, interpretation.trimmingCharacters(in: .newlines),
            Self.interpretationEnd, "",
        ]
        return lines.joined(separator: "\n")
    }

    /// The hand-written part of an earlier page; nil when it has none.
    static func interpretation(of text: String) -> String? {
        guard let start = text.range(of: interpretationStart),
            let end = text.range(of: interpretationEnd, range: start.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.upperBound..<end.lowerBound])
    }

    static func chartTitle(_ name: String) -> String {
        switch name {
        case "lr_sweep.svg": return "Final loss against learning rate"
        case "loss_vs_attn_logit.svg": return "Final loss against the max attention logit"
        case "lr_sensitivity_scaling.svg": return "LR sensitivity against non-embedding parameters"
        case "loss_vs_lr_by_size.svg": return "Final loss against learning rate, per model size"
        default: return name
        }
    }

    func existingText() throws -> String? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: page.path, isDirectory: &isFolder) else { return nil }
        if isFolder.boolValue { throw RunError("result page \(page.path) is a folder: choose a .md file") }
        return String(decoding: try FileIO.read(page), as: UTF8.self)
    }
}
