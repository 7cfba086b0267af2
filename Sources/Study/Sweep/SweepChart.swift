import Foundation

/// "Final loss vs learning rate": one line per variant through the losses the LR sensitivity
/// counts (the seeds' mean final loss, clamped at the initial loss), log-scale x; a learning
/// rate at which a seed diverged or failed is drawn as a cross (at the initial loss). A variant whose
/// sensitivity was not computed is marked "incomplete" in the legend.
public enum SweepChart {
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    public static func svg(_ summary: SweepSummary) -> String {
        let (width, height, left, right, top, bottom) = (720.0, 440.0, 70.0, 200.0, 40.0, 60.0)
        let curves = summary.variants.flatMap(\.curve).filter(\.countedLoss.isFinite)
        guard let minRate = curves.map(\.learningRate).min(), let maxRate = curves.map(\.learningRate).max(),
              let minLoss = curves.map(\.countedLoss).min(), let maxLoss = curves.map(\.countedLoss).max() else {
            return placeholder("no finished points yet", width: width)
        }
        let (x0, x1) = (log10(minRate) - 0.2, log10(maxRate) + 0.2)
        let span = max(maxLoss - minLoss, 0.05)
        let (y0, y1) = (minLoss - 0.08 * span, maxLoss + 0.08 * span)
        func px(_ lr: Double) -> Double { left + (log10(lr) - x0) / (x1 - x0) * (width - left - right) }
        func py(_ loss: Double) -> Double { top + (y1 - loss) / (y1 - y0) * (height - top - bottom) }
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(left)\" y=\"24\" font-size=\"15\">Final loss vs learning rate</text>",
                   "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>",
                   "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>"]
        for exponent in Int(floor(x0))...Int(ceil(x1)) {
            for mantissa in [1.0, 3.0] {
                let lr = mantissa * pow(10, Double(exponent))
                guard log10(lr) >= x0, log10(lr) <= x1 else { continue }
                let x = px(lr)
                out.append("<line x1=\"\(x)\" y1=\"\(height - bottom)\" x2=\"\(x)\" y2=\"\(height - bottom + 5)\" stroke=\"black\"/>")
                out.append("<text x=\"\(x)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(mantissa == 1 ? "1e\(exponent)" : "3e\(exponent)")</text>")
            }
        }
        for i in 0...5 {
            let loss = y0 + Double(i) / 5 * (y1 - y0), y = py(loss)
            out.append("<line x1=\"\(left - 5)\" y1=\"\(y)\" x2=\"\(left)\" y2=\"\(y)\" stroke=\"black\"/>")
            out.append("<text x=\"\(left - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(String(format: "%.2f", loss))</text>")
        }
        out.append("<text x=\"\((left + width - right) / 2)\" y=\"\(height - 15)\" text-anchor=\"middle\">learning rate (log scale)</text>")
        out.append("<text transform=\"translate(18 \((top + height - bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">final loss</text>")
        for (index, variant) in summary.variants.enumerated() {
            let color = colors[index % colors.count]
            let drawn = variant.curve.filter(\.countedLoss.isFinite)
            let points = drawn.map { "\(px($0.learningRate)),\(py($0.countedLoss))" }.joined(separator: " ")
            out.append("<polyline class=\"series\" data-variant=\"\(escape(variant.variant))\" points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            for point in drawn {
                let (x, y) = (px(point.learningRate), py(point.countedLoss))
                if point.divergedRuns + point.failedRuns > 0 {
                    out.append("<path d=\"M\(x - 5),\(y - 5) L\(x + 5),\(y + 5) M\(x - 5),\(y + 5) L\(x + 5),\(y - 5)\" stroke=\"\(color)\" stroke-width=\"2\"/>")
                } else {
                    out.append("<circle cx=\"\(x)\" cy=\"\(y)\" r=\"3.5\" fill=\"\(color)\"/>")
                }
            }
            let legendY = top + 20 + Double(index) * 20
            out.append("<line x1=\"\(width - right + 15)\" y1=\"\(legendY)\" x2=\"\(width - right + 35)\" y2=\"\(legendY)\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            let label = variant.variant + (variant.withheld == nil ? "" : " (incomplete)")
            out.append("<text x=\"\(width - right + 40)\" y=\"\(legendY + 4)\">\(escape(label))</text>")
        }
        out.append("<text x=\"\(width - right + 15)\" y=\"\(top + 30 + Double(summary.variants.count) * 20)\">× = diverged or failed (at initial loss)</text>")
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
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
