import Formats
import Foundation

/// A sweep's output folder (`out` of the sweep file): `points/` with a run folder per point, then
/// the summary and charts. QKLab writes there only when the folder is new, empty, or a sweep's
/// own (it holds `points/`), so an `out` that names a folder of someone's own files is refused
/// before anything is written; and it replaces a summary or chart there only when an earlier
/// `qklab sweep` wrote it (its first line is its `mark`), never a file of someone's own by that name.
public struct SweepOutput {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var points: URL { url.appendingPathComponent("points") }

    /// The first line of each file the sweep writes beside `points/`: a text line for the summary,
    /// an XML comment for a chart.
    public static func mark(_ name: String) -> String {
        name.hasSuffix(".svg") ? "<!-- written by qklab sweep -->" : "# written by qklab sweep"
    }
    /// The files the sweep writes beside `points/` (the last two with a size axis only).
    static let fileNames = [
        "summary.txt", "lr_sweep.svg", "loss_vs_attn_logit.svg", "lr_sensitivity_scaling.svg", "loss_vs_lr_by_size.svg",
    ]

    /// Throws one line unless the folder is new, empty, or a sweep's output whose summary and
    /// charts, where present, are the sweep's own.
    /// - Throws: `RunError` naming the folder or the file; `FileError` when a file there cannot be read.
    public func checkOwnership() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw RunError("sweep output \(url.path) is a file, not a folder: change out in the sweep file")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if !names.isEmpty && !names.contains("points") {
            throw RunError(
                "sweep output \(url.path) is not empty and is not a sweep's (it has no points/ folder): change out in the sweep file or empty the folder"
            )
        }
        for name in Self.fileNames where names.contains(name) {
            let file = url.appendingPathComponent(name)
            guard try Self.isSweepsOwn(file) else {
                throw RunError(
                    "sweep output \(file.path) was not written by qklab sweep, and QKLab never overwrites such a file: move it away"
                )
            }
        }
    }

    /// Whether the file at `url` is a summary or chart of `qklab sweep`: its first line is its `mark`,
    /// or it is one that versions before the mark wrote (a summary's table header, a chart's
    /// opening tag as `ChartFrame` and `SweepChart.placeholder` write it).
    static func isSweepsOwn(_ url: URL) throws -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return false
        }
        let head = String(decoding: try FileIO.read(url).prefix(400), as: UTF8.self)
        let first =
            head.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if first == mark(url.lastPathComponent) { return true }
        if url.pathExtension == "txt" { return first.hasPrefix("point ") && first.contains(" final loss ") }
        return first.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
            && (first.hasSuffix(" font-family=\"sans-serif\" font-size=\"12\">")
                || first.contains(" height=\"80\"><text x=\"10\" y=\"40\">"))
    }

    /// Why `summary` must not replace the summary there, or nil when it may: a summary that
    /// judges no point (every point config changed, failed or unfinished) says nothing about the
    /// grid, so an earlier summary stays in place.
    public func reasonToKeepPrevious(instead summary: SweepSummary) -> String? {
        guard !summary.judgesAnyPoint,
            FileManager.default.fileExists(atPath: url.appendingPathComponent("summary.txt").path)
        else { return nil }
        return
            "\(url.appendingPathComponent("summary.txt").path) and the charts left as they were: no point of this grid has a result to judge (\(Self.statusCounts(summary)))"
    }

    /// "3 config changed, 1 not started".
    static func statusCounts(_ summary: SweepSummary) -> String {
        var counts: [(String, Int)] = []
        for label in summary.points.map(\.status.label) {
            if let index = counts.firstIndex(where: { $0.0 == label }) {
                counts[index].1 += 1
            } else {
                counts.append((label, 1))
            }
        }
        return counts.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
    }

    /// Writes `summary.txt` and the charts (the scaling charts when the grid has a size axis),
    /// each with its `mark` as its first line and replaced atomically; returns the charts' paths.
    /// - Throws: as `checkOwnership`; `FileError` when writing fails.
    @discardableResult
    public func write(_ summary: SweepSummary) throws -> [URL] {
        try checkOwnership()
        try FileIO.createDirectory(url)
        try FileIO.replace(
            url.appendingPathComponent("summary.txt"),
            with: Data((Self.mark("summary.txt") + "\n" + SweepSummaryText(summary).text).utf8))
        var charts = [
            ("lr_sweep.svg", SweepChart.svg(summary)), ("loss_vs_attn_logit.svg", LogitLossChart.svg(summary)),
        ]
        if summary.hasSizes {  // the scaling view (Wortsman et al. 2023, Figure 1)
            charts += [
                ("lr_sensitivity_scaling.svg", ScalingChart.svg(summary)),
                ("loss_vs_lr_by_size.svg", LossCurvesChart.svg(summary)),
            ]
        }
        return try charts.map { name, svg in
            let chart = url.appendingPathComponent(name)
            try FileIO.replace(chart, with: Data((Self.mark(name) + "\n" + svg).utf8))
            return chart
        }
    }
}
