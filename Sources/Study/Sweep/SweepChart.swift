import Foundation

/// "Final loss vs learning rate": one line per variant through the losses the LR sensitivity
/// counts (the seeds' mean final loss, capped at the initial loss ℓ0; Wortsman et al. 2023,
/// §2.2), log-scale x (`ChartAxis`); a learning rate at which a seed diverged is a cross at ℓ0,
/// one at which a seed ended above the bigram loss an open marker; the corpus's bigram loss is the
/// grey dashed line. Each variant has its own colour, dash pattern and marker shape
/// (`SeriesStyle`), so variants with equal values stay visible. A variant whose sensitivity was
/// not computed is marked "incomplete" in the legend.
public enum SweepChart {
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
            out.append(frame.bigramLine(at: bigram))
        }
        for (index, variant) in summary.variants.enumerated() {
            let style = SeriesStyle(index: index)
            out += LossCurvesChart.curve(variant, frame: frame, style: style)
            out += frame.legend(
                index: index, label: variant.variant + (variant.withheld == nil ? "" : " (incomplete)"), style: style)
        }
        var legendRows = summary.variants.count
        if bigram != nil {
            out += frame.legend(index: legendRows, label: "bigram loss", style: .reference)
            legendRows += 1
        }
        out += [
            "<text x=\"\(frame.width - frame.right + 15)\" y=\"\(frame.top + 24 + Double(legendRows) * 20)\" font-size=\"11\">× a seed diverged (at ℓ0)</text>",
            "<text x=\"\(frame.width - frame.right + 15)\" y=\"\(frame.top + 40 + Double(legendRows) * 20)\" font-size=\"11\">open marker: a seed above bigram</text>",
        ]
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
