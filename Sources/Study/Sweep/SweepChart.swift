import Foundation

/// "Final loss vs learning rate": one line per variant through the losses the LR sensitivity
/// counts (the seeds' mean final loss, clamped at the initial loss), log-scale x with 1-2-5
/// ticks (`ChartAxis`); a learning rate at which a seed diverged is a cross, one at which a seed
/// failed an open circle (both at the initial loss); the corpus's bigram loss is the dashed line.
/// A variant whose sensitivity was not computed is marked "incomplete" in the legend.
public enum SweepChart {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    public static func svg(_ summary: SweepSummary) -> String {
        let curves = summary.variants.flatMap(\.curve).filter(\.countedLoss.isFinite)
        let bigram = summary.variants.compactMap(\.facts.bigramLoss).first
        let losses = curves.map(\.countedLoss) + (bigram.map { [$0] } ?? [])
        guard let minRate = curves.map(\.learningRate).min(), let maxRate = curves.map(\.learningRate).max(),
            let minLoss = losses.min(), let maxLoss = losses.max()
        else {
            return placeholder("no finished points yet", width: 760)
        }
        let frame = ChartFrame(
            width: 760, height: 440, left: 70, right: 220, top: 40, bottom: 60,
            x: .logarithmic(minRate / 1.5, maxRate * 1.5), y: .linear(minLoss, maxLoss))
        var out = frame.open(
            title: "Final loss vs learning rate", xLabel: "learning rate (log scale)", yLabel: "final loss")
        if let bigram {
            out.append(
                "<line class=\"bigram\" x1=\"\(frame.left)\" y1=\"\(frame.py(bigram))\" x2=\"\(frame.width - frame.right)\" y2=\"\(frame.py(bigram))\" stroke=\"gray\" stroke-dasharray=\"5,3\"/>"
            )
        }
        for (index, variant) in summary.variants.enumerated() {
            let color = colors[index % colors.count]
            out += LossCurvesChart.curve(variant, frame: frame, color: color)
            out += frame.legend(
                index: index, label: variant.variant + (variant.withheld == nil ? "" : " (incomplete)"), color: color)
        }
        var legendRows = summary.variants.count
        if bigram != nil {
            out += frame.legend(index: legendRows, label: "bigram loss", color: "gray", dashed: true)
            legendRows += 1
        }
        out.append(
            "<text x=\"\(frame.width - frame.right + 15)\" y=\"\(frame.top + 24 + Double(legendRows) * 20)\" font-size=\"11\">× diverged, ○ failed (at initial loss)</text>"
        )
        return frame.close(out)
    }

    /// A one-line SVG saying why there is no chart.
    static func placeholder(_ text: String, width: Double) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"80\"><text x=\"10\" y=\"40\">\(escape(text))</text></svg>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
