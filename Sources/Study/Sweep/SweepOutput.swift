import Formats
import Foundation

/// A sweep's output folder (`out` of the sweep file): `points/` with a run folder per point, then
/// the summary and charts. QKLab writes there only when the folder is new, empty, or a sweep's
/// own (it holds `points/`), so an `out` that names a folder of someone's own files is refused
/// before anything is written, and files there are never replaced.
public struct SweepOutput {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public var points: URL { url.appendingPathComponent("points") }

    /// Throws one line unless the folder is new, empty, or a sweep's output.
    public func checkOwnership() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw RunError("sweep output \(url.path) is a file, not a folder: change out in the sweep file") }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if !names.isEmpty && !names.contains("points") {
            throw RunError("sweep output \(url.path) is not empty and is not a sweep's (it has no points/ folder): change out in the sweep file or empty the folder")
        }
    }

    /// Writes `summary.txt` and the charts (the scaling charts when the grid has a size axis),
    /// each replaced atomically; returns the charts' paths.
    @discardableResult
    public func write(_ summary: SweepSummary) throws -> [URL] {
        try checkOwnership()
        try FileIO.createDirectory(url)
        try FileIO.replace(url.appendingPathComponent("summary.txt"), with: Data(summary.table.utf8))
        var charts = [("lr_sweep.svg", SweepChart.svg(summary))]
        if summary.hasSizes {   // the scaling view (Wortsman et al. 2023, Figure 1)
            charts += [("lr_sensitivity_scaling.svg", ScalingChart.svg(summary)), ("loss_vs_lr_by_size.svg", LossCurvesChart.svg(summary))]
        }
        return try charts.map { name, svg in
            let chart = url.appendingPathComponent(name)
            try FileIO.replace(chart, with: Data(svg.utf8))
            return chart
        }
    }
}
