import Foundation

/// The frame the sweep's SVG charts share: plot area, axes with `ChartAxis` ticks, titles and a
/// legend column on the right.
struct ChartFrame {
    let width: Double, height: Double, left: Double, right: Double, top: Double, bottom: Double
    let x: ChartAxis, y: ChartAxis

    func px(_ value: Double) -> Double { left + (x.fraction(value) ?? 0) * (width - left - right) }
    func py(_ value: Double) -> Double { height - bottom - (y.fraction(value) ?? 1) * (height - top - bottom) }

    /// The opening tags, background, axes, ticks and labels of a chart of its own.
    func open(title: String, xLabel: String, yLabel: String) -> [String] {
        [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        ] + axes(title: title, xLabel: xLabel, yLabel: yLabel)
    }

    /// Axes, ticks and labels (for a panel of a larger SVG too).
    func axes(title: String, xLabel: String, yLabel: String) -> [String] {
        var out = [
            "<text x=\"\(left)\" y=\"\(top - 16)\" font-size=\"15\">\(SweepChart.escape(title))</text>",
            "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>",
            "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>",
        ]
        for (tick, label) in zip(x.ticks, x.tickLabels) {
            let position = px(tick)
            out.append(
                "<line x1=\"\(position)\" y1=\"\(height - bottom)\" x2=\"\(position)\" y2=\"\(height - bottom + 5)\" stroke=\"black\"/>"
            )
            out.append(
                "<text x=\"\(position)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(label)</text>"
            )
        }
        for (tick, label) in zip(y.ticks, y.tickLabels) {
            let position = py(tick)
            out.append(
                "<line x1=\"\(left - 5)\" y1=\"\(position)\" x2=\"\(left)\" y2=\"\(position)\" stroke=\"black\"/>")
            out.append(
                "<text x=\"\(left - 8)\" y=\"\(position + 4)\" text-anchor=\"end\">\(label)</text>")
        }
        out.append(
            "<text x=\"\((left + width - right) / 2)\" y=\"\(height - bottom + 38)\" text-anchor=\"middle\">\(SweepChart.escape(xLabel))</text>"
        )
        out.append(
            "<text transform=\"translate(\(left - 52) \((top + height - bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">\(SweepChart.escape(yLabel))</text>"
        )
        return out
    }

    /// The corpus's bigram loss as a grey dashed horizontal line across the plot area, which ends
    /// at `rightEdge` (a panel's, in a chart of several; the frame's own by default).
    func bigramLine(at loss: Double, rightEdge: Double? = nil) -> String {
        "<line class=\"bigram\" x1=\"\(left)\" y1=\"\(py(loss))\" x2=\"\(rightEdge ?? width - right)\" y2=\"\(py(loss))\" stroke=\"gray\" stroke-dasharray=\"5,3\"/>"
    }

    /// Legend entry `index` in the right-hand column: the series' line and marker, and its label.
    func legend(index: Int, label: String, style: SeriesStyle) -> [String] {
        let legendY = top + 20 + Double(index) * 20
        var out = [
            "<line x1=\"\(width - right + 10)\" y1=\"\(legendY)\" x2=\"\(width - right + 40)\" y2=\"\(legendY)\" \(style.stroke)/>"
        ]
        if style.hasMarker { out.append(style.marker(x: width - right + 25, y: legendY, open: false)) }
        let shown = Self.shortened(label, toFit: right - 50)
        out.append(
            "<text x=\"\(width - right + 45)\" y=\"\(legendY + 4)\">\(SweepChart.escape(shown))"
                + (shown == label ? "" : "<title>\(SweepChart.escape(label))</title>") + "</text>")
        return out
    }

    /// `label` as it fits `width` pixels at about 6.5 pixels a character (the 12-pixel sans-serif
    /// font), so a legend entry never runs into the next column or off the chart: whole when it
    /// fits, else its values without their keys (`optimizer=muon,stabilizer=none` → `muon, none`,
    /// which still tells the variants of one grid apart), cut with "…" if that is still too long.
    static func shortened(_ label: String, toFit width: Double) -> String {
        let characters = max(4, Int(width / 6.5))
        if label.count <= characters { return label }
        let values = label.split(separator: ",").map { $0.split(separator: "=", maxSplits: 1).last ?? $0 }
            .joined(separator: ", ")
        return values.count <= characters ? values : String(values.prefix(characters - 1)) + "…"
    }

    func close(_ lines: [String]) -> String { (lines + ["</svg>"]).joined(separator: "\n") + "\n" }
}
