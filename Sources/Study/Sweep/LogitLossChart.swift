import Foundation

/// "Final loss vs max attention logit": each finished point's final loss against the largest
/// attention logit it reached at any logged step (`attn_logit_max`, all layers), log-scale x, one
/// colour and marker per variant, the corpus's bigram loss as the grey dashed line. The axes of
/// Wortsman et al. 2023, Fig. 10 (loss against the logit the κ gain forces; their bigram model is
/// the reference) and the reading of Fig. 9's threshold ("every point above 1e4 diverged").
/// Diverged points and points without a logit are left out and counted under the chart.
public enum LogitLossChart {
    public static func svg(_ summary: SweepSummary) -> String {
        let variantIndex = Dictionary(
            summary.variants.enumerated().map { ($1.variant, $0) }, uniquingKeysWith: { first, _ in first })
        let judged = summary.points.filter(\.isJudged)
        let drawn = judged.filter {
            ($0.finalLoss?.isFinite ?? false) && ($0.attentionLogitMax.map { $0 > 0 && $0.isFinite } ?? false)
        }
        let bigram = summary.variants.compactMap(\.facts.bigramLoss).first
        let losses = drawn.compactMap(\.finalLoss) + (bigram.map { [$0] } ?? [])
        guard let minLogit = drawn.compactMap(\.attentionLogitMax).min(),
            let maxLogit = drawn.compactMap(\.attentionLogitMax).max(), let minLoss = losses.min(),
            let maxLoss = losses.max()
        else {
            return SweepChart.placeholder("no finished point with an attention logit yet", width: 760)
        }
        let frame = ChartFrame(
            width: 760, height: 440, left: 70, right: 220, top: 40, bottom: 60,
            x: .logarithmic(minLogit / 1.5, maxLogit * 1.5), y: .linear(minLoss, maxLoss))
        var out = frame.open(
            title: "Final loss vs max attention logit", xLabel: "max attention logit, all layers (log scale)",
            yLabel: "final loss")
        if let bigram {
            out.append(frame.bigramLine(at: bigram))
        }
        for point in drawn {
            let style = SeriesStyle(index: variantIndex[point.point.variant] ?? 0)
            out.append(style.marker(x: frame.px(point.attentionLogitMax!), y: frame.py(point.finalLoss!), open: false))
        }
        for (index, variant) in summary.variants.enumerated() {
            out += frame.legend(index: index, label: variant.variant, style: SeriesStyle(index: index))
        }
        if bigram != nil { out += frame.legend(index: summary.variants.count, label: "bigram loss", style: .reference) }
        let left = judged.count - drawn.count
        if left > 0 {
            out.append(
                "<text x=\"\(frame.left)\" y=\"\(frame.height - 2)\" font-size=\"10\">not drawn: \(left) diverged or without a logit</text>"
            )
        }
        return frame.close(out)
    }
}
