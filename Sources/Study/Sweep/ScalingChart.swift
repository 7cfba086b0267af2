import Foundation

/// "LR sensitivity vs non-embedding parameters" (Wortsman et al. 2023, Figure 1): one line per
/// variant without its size (`SweepSummary.scaling`), log-scale x, the seeds' range as error
/// bars. Sizes whose sensitivity or parameter count is unknown are left out and said so.
public enum ScalingChart {
    public static func svg(_ summary: SweepSummary) -> String {
        let (width, height, left, right, top, bottom) = (720.0, 440.0, 70.0, 200.0, 40.0, 60.0)
        let lines = summary.scaling.map { line in
            (line.line, line.points.filter { $0.sensitivity != nil && $0.nonEmbeddingParameters != nil })
        }
        let drawn = lines.flatMap(\.1)
        guard let minCount = drawn.compactMap(\.nonEmbeddingParameters).min(),
            let maxCount = drawn.compactMap(\.nonEmbeddingParameters).max()
        else {
            return SweepChart.placeholder("no LR sensitivity with a parameter count yet", width: width)
        }
        let highest = drawn.map { $0.seedRange?.upperBound ?? $0.sensitivity! }.max()!
        let x = ChartAxis.logarithmic(Double(minCount) / 1.3, Double(maxCount) * 1.3)
        let y = ChartAxis.linear(0, max(highest, 0.01) * 1.05)
        let frame = ChartFrame(
            width: width, height: height, left: left, right: right, top: top, bottom: bottom, x: x, y: y)
        var out = frame.open(
            title: "LR sensitivity vs non-embedding parameters",
            xLabel: "non-embedding parameters (log scale)", yLabel: "LR sensitivity")
        for (index, (line, points)) in lines.enumerated() {
            let style = SeriesStyle(index: index)
            let color = style.color
            let coordinates = points.map { (frame.px(Double($0.nonEmbeddingParameters!)), frame.py($0.sensitivity!)) }
            out.append(
                "<polyline class=\"series\" data-line=\"\(SweepChart.escape(line))\" points=\"\(coordinates.map { "\($0.0),\($0.1)" }.joined(separator: " "))\" fill=\"none\" \(style.stroke)/>"
            )
            for (point, (px, py)) in zip(points, coordinates) {
                if let range = point.seedRange, range.upperBound > range.lowerBound {
                    let (low, high) = (frame.py(range.lowerBound), frame.py(range.upperBound))
                    out.append(
                        "<path class=\"error-bar\" d=\"M\(px),\(low) L\(px),\(high) M\(px - 4),\(low) L\(px + 4),\(low) M\(px - 4),\(high) L\(px + 4),\(high)\" stroke=\"\(color)\"/>"
                    )
                }
                out.append(style.marker(x: px, y: py, open: false))
            }
            out += frame.legend(index: index, label: line, style: style)
        }
        let missing = summary.scaling.flatMap(\.points).filter {
            $0.sensitivity == nil || $0.nonEmbeddingParameters == nil
        }
        var note = "error bars: the seeds' range"
        if !missing.isEmpty {
            note += "; not drawn: " + missing.map { "\($0.line) \($0.size)" }.joined(separator: ", ")
        }
        out.append("<text x=\"\(left)\" y=\"\(height - 2)\" font-size=\"10\">\(SweepChart.escape(note))</text>")
        return frame.close(out)
    }
}
