import Foundation

/// Per model size, smallest first, one panel of final loss against learning rate (log x), one line per variant
/// without its size, through the losses the LR sensitivity counts (the seeds' mean capped at the
/// initial loss ℓ0; a learning rate at which a seed diverged at ℓ0); × marks a diverged seed, an
/// open marker a learning rate at which a seed ended above the bigram loss. The corpus's bigram
/// loss is the grey dashed line. Each line has its own dash pattern and marker shape
/// (`SeriesStyle`), so lines with equal values stay visible.
public enum LossCurvesChart {
    public static func svg(_ summary: SweepSummary) -> String {
        var sizes: [String] = []  // in increasing parameter count, as the scaling view orders them
        for size in summary.scaling.flatMap({ $0.points.map(\.size) }) where !sizes.contains(size) {
            sizes.append(size)
        }
        var lines: [String] = []
        for variant in summary.variants where !lines.contains(variant.line) { lines.append(variant.line) }
        let curves = summary.variants.flatMap(\.curve).filter(\.countedLoss.isFinite)
        let bigrams = summary.variants.compactMap(\.facts.bigramLoss)
        guard let minRate = curves.map(\.learningRate).min(), let maxRate = curves.map(\.learningRate).max(),
            let minLoss = (curves.map(\.countedLoss) + bigrams).min(),
            let maxLoss = (curves.map(\.countedLoss) + bigrams).max()
        else {
            return SweepChart.placeholder("no finished points yet", width: 720)
        }
        let (panelWidth, panelHeight, columns) = (360.0, 280.0, 2)
        let rows = (sizes.count + columns - 1) / columns
        let (width, height) = (Double(columns) * panelWidth + 210, Double(rows) * panelHeight + 20)
        let x = ChartAxis.logarithmic(minRate / 1.5, maxRate * 1.5), y = ChartAxis.linear(minLoss, maxLoss)
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        ]
        for (panel, size) in sizes.enumerated() {
            let (originX, originY) = (Double(panel % columns) * panelWidth, Double(panel / columns) * panelHeight)
            let frame = ChartFrame(
                width: panelWidth, height: panelHeight, left: 70, right: 15, top: 40, bottom: 60, x: x, y: y)
            let variants = summary.variants.filter { $0.size == size }
            var body = frame.axes(
                title: "final loss vs learning rate" + (size.isEmpty ? "" : ", " + size),
                xLabel: "learning rate (log scale)", yLabel: "final loss")
            if let bigram = Set(variants.compactMap(\.facts.bigramLoss)).first {
                body.append(
                    frame.bigramLine(at: bigram, rightEdge: panelWidth - frame.right)
                )
            }
            for variant in variants {
                body += curve(variant, frame: frame, style: SeriesStyle(index: lines.firstIndex(of: variant.line)!))
            }
            out.append("<g transform=\"translate(\(originX) \(originY))\">")
            out += body
            out.append("</g>")
        }
        let legend = ChartFrame(width: width, height: height, left: 0, right: 210, top: 20, bottom: 0, x: x, y: y)
        for (index, line) in lines.enumerated() {
            out += legend.legend(index: index, label: line, style: SeriesStyle(index: index))
        }
        out += legend.legend(index: lines.count, label: "bigram loss", style: .reference)
        out += [
            "<text x=\"\(width - 195)\" y=\"\(20 + 20 + Double(lines.count + 1) * 20)\" font-size=\"10\">× a seed diverged (at ℓ0)</text>",
            "<text x=\"\(width - 195)\" y=\"\(20 + 34 + Double(lines.count + 1) * 20)\" font-size=\"10\">open marker: a seed above bigram</text>",
        ]
        return ChartFrame(width: width, height: height, left: 0, right: 0, top: 0, bottom: 0, x: x, y: y).close(out)
    }

    /// One variant's polyline and markers in `frame`.
    static func curve(_ variant: SweepSummary.VariantResult, frame: ChartFrame, style: SeriesStyle) -> [String] {
        let drawn = variant.curve.filter(\.countedLoss.isFinite)
        let points = drawn.map { "\(frame.px($0.learningRate)),\(frame.py($0.countedLoss))" }.joined(separator: " ")
        var out = [
            "<polyline class=\"series\" data-variant=\"\(SweepChart.escape(variant.variant))\" points=\"\(points)\" fill=\"none\" \(style.stroke)/>"
        ]
        for point in drawn {
            let (cx, cy) = (frame.px(point.learningRate), frame.py(point.countedLoss))
            if point.divergedRuns > 0 {
                out.append(
                    "<path class=\"diverged\" d=\"M\(cx - 5),\(cy - 5) L\(cx + 5),\(cy + 5) M\(cx - 5),\(cy + 5) L\(cx + 5),\(cy - 5)\" stroke=\"\(style.color)\" stroke-width=\"2\"/>"
                )
            } else {
                out.append(style.marker(x: cx, y: cy, open: point.runsAboveBigram > 0))
            }
        }
        return out
    }
}
