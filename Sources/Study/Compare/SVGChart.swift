import Foundation

/// A panel of the comparison chart: one metric against step. The telemetry panels draw, per run
/// and logged step, the extreme over layers (and over q and k) that signals trouble.
public enum ChartPanel: String, CaseIterable, Sendable {
    case trainLoss = "train_loss"
    case valLoss = "val_loss"
    case gradNorm = "grad_norm"
    case attnLogit = "attn_logit"
    case attnEntropy = "attn_entropy"
    case qkRMS = "qk_rms"
    case updateRatio = "update_ratio"

    public var title: String {
        switch self {
        case .trainLoss: return "Train loss"
        case .valLoss: return "Validation loss"
        case .gradNorm: return "Gradient norm (global, before clipping)"
        case .attnLogit: return "Max attention logit (over layers)"
        case .attnEntropy: return "Min attention entropy (over layers; mean over heads)"
        case .qkRMS: return "Max q/k RMS (over layers, q and k)"
        case .updateRatio: return "Max update ratio (over layers)"
        }
    }

    var axisLabel: String {
        switch self {
        case .trainLoss, .valLoss: return "loss (nats)"
        case .gradNorm: return "L2 norm"
        case .attnLogit: return "max |q·k|/√Dh"
        case .attnEntropy: return "H / ln(t+1)"
        case .qkRMS: return "RMS of q, k"
        case .updateRatio: return "‖Δθ‖ / ‖θ‖"
        }
    }

    /// Losses and entropy are drawn on a linear scale; the others on a log scale when their
    /// values span a decade or more.
    var allowsLogScale: Bool { ![.trainLoss, .valLoss, .attnEntropy].contains(self) }

    /// Whether the panel shows the run's bigram loss as a dashed reference line.
    var showsBigramLoss: Bool { self == .trainLoss || self == .valLoss }

    /// The panel's points for `run`, in step order; a nil value was non-finite. Lines without the
    /// metric (runs from before the telemetry, the update ratio of a skipped step) give no point.
    func points(of run: RunHistory) -> [(step: Int, value: Double?)] {
        switch self {
        case .trainLoss: return run.training.map { ($0.step, $0.loss) }
        case .valLoss: return run.evaluations.map { ($0.step, $0.valLoss) }
        case .gradNorm: return run.training.map { ($0.step, $0.gradNorm) }
        case .attnLogit:
            return run.training.map { ($0.step, $0.attnLogitMax.contains(nil) ? nil : $0.maxAttnLogit?.value) }
        case .attnEntropy: return Self.extremes(run, of: { $0.telemetry.attnEntropy }, largest: false)
        case .qkRMS: return Self.extremes(run, of: { $0.telemetry.qRMS + $0.telemetry.kRMS }, largest: true)
        case .updateRatio: return Self.extremes(run, of: { $0.telemetry.updateRatio }, largest: true)
        }
    }

    /// Per logged step with the list, its largest or smallest entry (nil when one is non-finite).
    static func extremes(_ run: RunHistory, of list: (RunHistory.TrainingPoint) -> [Double?], largest: Bool) -> [(
        step: Int, value: Double?
    )] {
        run.training.compactMap { point in
            let values = list(point)
            guard !values.isEmpty else { return nil }
            let finite = values.compactMap { $0 }
            return (point.step, finite.count < values.count ? nil : largest ? finite.max() : finite.min())
        }
    }

    /// The panels `runs` have data for (all four of the classic ones at least).
    static func available(for runs: [RunHistory]) -> [ChartPanel] {
        allCases.filter { panel in
            [.trainLoss, .valLoss, .gradNorm, .attnLogit].contains(panel) || panel.hasData(in: runs)
        }
    }

    /// Whether some run of `runs` has a point for this panel.
    public func hasData(in runs: [RunHistory]) -> Bool { runs.contains { !points(of: $0).isEmpty } }
}

/// The chart of `qklab compare`: one panel per `ChartPanel`, two per row, curves against step
/// with one colour per run and a shared legend. All panels share the step range. Non-finite
/// values break a curve and are marked × on the panel's top edge. Loss values above 1.25 × the
/// largest first logged training loss (≈ ln V at initialisation) are drawn on the top edge, so
/// one diverging run does not flatten the others; the panel then says so. The loss panels draw
/// each run's bigram loss (the corpus's baseline) as a dashed grey line.
public struct ComparisonChart {
    public let runs: [RunHistory]
    public let panels: [ChartPanel]

    /// With no `panels`: every panel some run has data for (`ChartPanel.available`).
    public init(runs: [RunHistory], panels: [ChartPanel] = []) {
        self.runs = runs
        self.panels = panels.isEmpty ? ChartPanel.available(for: runs) : panels
    }

    static let width = 1200.0
    static let panelHeight = 400.0
    /// Matplotlib's "tab10"; past ten runs the colours repeat with dashes.
    static let colours = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    /// The chart as a standalone SVG document.
    public var svg: String {
        let columns = panels.count > 1 ? 2 : 1
        let panelWidth = Self.width / Double(columns)
        let (legend, legendHeight) = legendElements()
        let rows = (panels.count + columns - 1) / columns
        let height = legendHeight + Double(rows) * Self.panelHeight
        let steps = stepAxis()
        let body = panels.enumerated().map { index, panel in
            let frame = PlotFrame(
                x: Double(index % columns) * panelWidth, y: legendHeight + Double(index / columns) * Self.panelHeight,
                width: panelWidth, height: Self.panelHeight)
            return panelElements(panel, frame: frame, steps: steps)
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            \(ChartFile.mark)
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(height))" viewBox="0 0 \(Int(Self.width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            \(legend)
            \(body.joined(separator: "\n"))
            </svg>

            """
    }

    // MARK: - Layout

    /// A panel's box and, inside it, the plotting area.
    struct PlotFrame {
        let x, y, width, height: Double
        var left: Double { x + 80 }
        var right: Double { x + width - 25 }
        var top: Double { y + 40 }
        var bottom: Double { y + height - 55 }
    }

    func colour(_ run: Int) -> String { Self.colours[run % Self.colours.count] }

    func dashes(_ run: Int) -> String { run < Self.colours.count ? "" : " stroke-dasharray=\"6 3\"" }

    /// One entry per run (a line in its colour and its name), wrapped into rows.
    func legendElements() -> (svg: String, height: Double) {
        var x = 80.0, y = 24.0
        var elements: [String] = []
        for (index, run) in runs.enumerated() {
            let entryWidth = 40 + 7.5 * Double(run.name.count)
            if x + entryWidth > Self.width - 20 && x > 80 {
                x = 80
                y += 22
            }
            elements.append(
                """
                <g class="legend-entry"><line x1="\(x)" y1="\(y - 4)" x2="\(x + 24)" y2="\(y - 4)" stroke="\(colour(index))" stroke-width="3"\(dashes(index))/>\
                <text x="\(x + 30)" y="\(y)">\(Self.escape(run.name))</text></g>
                """)
            x += entryWidth + 16
        }
        return ("<g class=\"legend\">\(elements.joined())</g>", y + 16)
    }

    /// Steps from 0 to the last logged step of any run.
    func stepAxis() -> ChartAxis {
        let last = runs.compactMap(\.lastStep).max() ?? 1
        return ChartAxis.linear(0, Double(max(last, 1)))
    }

    /// Where the loss panels are clipped: 1.25 × the largest first logged training loss.
    var lossCeiling: Double? {
        runs.compactMap { $0.training.lazy.compactMap(\.loss).first }.max().map { 1.25 * $0 }
    }

    /// The distinct bigram losses of the runs, in order of first appearance.
    var bigramLosses: [Double] {
        runs.compactMap(\.bigramLoss).reduce(into: []) { seen, loss in if !seen.contains(loss) { seen.append(loss) } }
    }

    /// The value axis of `panel` over every run's finite values (and the bigram losses on the
    /// loss panels), losses up to `lossCeiling`; log scale where `panel` allows it and the values
    /// are positive and span a decade or more.
    func valueAxis(_ panel: ChartPanel) -> ChartAxis {
        var values = runs.flatMap { panel.points(of: $0).compactMap(\.value) }
        if panel.showsBigramLoss { values += bigramLosses }
        guard var high = values.max(), var low = values.min() else { return ChartAxis.linear(0, 1) }
        if panel.allowsLogScale && low > 0 && high >= 10 * low { return ChartAxis.logarithmic(low, high) }
        if panel.showsBigramLoss, let ceiling = lossCeiling {
            (low, high) = (min(low, ceiling), min(high, ceiling))
        }
        return ChartAxis.linear(low, high)
    }

    /// "values above X drawn at the top edge" when some value lies above the axis.
    func clipNote(_ panel: ChartPanel, values: ChartAxis) -> String? {
        guard runs.contains(where: { panel.points(of: $0).contains { ($0.value ?? 0) > values.upper } }) else {
            return nil
        }
        return "values above \(ChartAxis.label(values.upper)) drawn at the top edge"
    }

    // MARK: - A panel

    func panelElements(_ panel: ChartPanel, frame: PlotFrame, steps: ChartAxis) -> String {
        let values = valueAxis(panel)
        let series = runs.indices.map {
            seriesElements(run: $0, panel: panel, frame: frame, steps: steps, values: values)
        }
        return """
            <g class="panel" data-panel="\(panel.rawValue)">
            <text x="\(frame.left)" y="\(frame.y + 26)" font-size="15" font-weight="bold">\(Self.escape(panel.title))</text>
            \(clipNote(panel, values: values).map { "<text x=\"\(frame.right)\" y=\"\(frame.y + 26)\" text-anchor=\"end\" fill=\"#666\">\($0)</text>" } ?? "")
            \(gridAndTicks(frame: frame, steps: steps, values: values))
            \(axisLabels(panel, frame: frame, isLog: values.isLog))
            \(panel.showsBigramLoss ? bigramLines(frame: frame, values: values) : "")
            \(series.joined(separator: "\n"))
            <rect x="\(frame.left)" y="\(frame.top)" width="\(frame.right - frame.left)" height="\(frame.bottom - frame.top)" fill="none" stroke="#888"/>
            </g>
            """
    }

    func point(step: Int, value: Double, frame: PlotFrame, steps: ChartAxis, values: ChartAxis) -> (
        x: Double, y: Double
    )? {
        guard let xFraction = steps.fraction(Double(step)), let yFraction = values.fraction(value) else { return nil }
        return (
            frame.left + xFraction * (frame.right - frame.left), frame.bottom - yFraction * (frame.bottom - frame.top)
        )
    }

    /// Light grid lines with their labels at every tick of both axes.
    func gridAndTicks(frame: PlotFrame, steps: ChartAxis, values: ChartAxis) -> String {
        let vertical = zip(steps.ticks, steps.tickLabels).compactMap { tick, label -> String? in
            guard let x = point(step: Int(tick), value: values.lower, frame: frame, steps: steps, values: values)?.x
            else { return nil }
            return
                "<line x1=\"\(Self.f(x))\" y1=\"\(frame.top)\" x2=\"\(Self.f(x))\" y2=\"\(frame.bottom)\" stroke=\"#e6e6e6\"/>"
                + "<text x=\"\(Self.f(x))\" y=\"\(frame.bottom + 18)\" text-anchor=\"middle\">\(label)</text>"
        }
        let horizontal = zip(values.ticks, values.tickLabels).compactMap { tick, label -> String? in
            guard let fraction = values.fraction(tick) else { return nil }
            let y = frame.bottom - fraction * (frame.bottom - frame.top)
            return
                "<line x1=\"\(frame.left)\" y1=\"\(Self.f(y))\" x2=\"\(frame.right)\" y2=\"\(Self.f(y))\" stroke=\"#e6e6e6\"/>"
                + "<text x=\"\(frame.left - 8)\" y=\"\(Self.f(y + 4))\" text-anchor=\"end\">\(label)</text>"
        }
        return "<g class=\"ticks\">" + (vertical + horizontal).joined() + "</g>"
    }

    func axisLabels(_ panel: ChartPanel, frame: PlotFrame, isLog: Bool) -> String {
        let middleX = (frame.left + frame.right) / 2, middleY = (frame.top + frame.bottom) / 2
        let label = panel.axisLabel + (isLog ? " (log scale)" : "")
        return "<text x=\"\(Self.f(middleX))\" y=\"\(frame.bottom + 40)\" text-anchor=\"middle\">step</text>"
            + "<text x=\"\(frame.x + 20)\" y=\"\(Self.f(middleY))\" text-anchor=\"middle\" transform=\"rotate(-90 \(frame.x + 20) \(Self.f(middleY)))\">\(Self.escape(label))</text>"
    }

    /// A dashed grey line across the panel at each bigram loss the axis can show, labelled with
    /// its value and the corpus it is of (when the runs have more than one); labels that would
    /// overlap are moved apart (`ChartLabels.place`), each keeping a thin leader to its line.
    func bigramLines(frame: PlotFrame, values: ChartAxis) -> String {
        let shown = bigramLosses.compactMap { loss -> (loss: Double, y: Double)? in
            guard loss <= values.upper, let fraction = values.fraction(loss) else { return nil }
            return (loss, frame.bottom - fraction * (frame.bottom - frame.top))
        }
        let labelY = ChartLabels.place(
            shown.map { $0.y - 4 }, height: ChartLabels.lineHeight, within: (frame.top + 12)...frame.bottom)
        return zip(shown, labelY).map { line, textY in
            let corpus = bigramLosses.count > 1 ? corpusName(ofBigramLoss: line.loss).map { " (\($0))" } ?? "" : ""
            return
                "<g class=\"bigram\"><line x1=\"\(frame.left)\" y1=\"\(Self.f(line.y))\" x2=\"\(frame.right)\" y2=\"\(Self.f(line.y))\" stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                + "<text class=\"bigram-label\" x=\"\(frame.right - 4)\" y=\"\(Self.f(textY))\" text-anchor=\"end\" fill=\"#555\">bigram \(String(format: "%.3f", line.loss))\(Self.escape(corpus))</text></g>"
        }.joined()
    }

    /// The corpus file name (`data.path`) of the first run whose bigram loss is `loss`.
    func corpusName(ofBigramLoss loss: Double) -> String? {
        guard let run = runs.first(where: { $0.bigramLoss == loss }), case .text(let path)? = run.config["data.path"]
        else { return nil }
        return URL(fileURLWithPath: path).lastPathComponent
    }

    /// One run's curve: a path broken at non-finite values, dots where a piece is a single point
    /// (and at every validation point), and × marks on the top edge at non-finite steps.
    func seriesElements(run: Int, panel: ChartPanel, frame: PlotFrame, steps: ChartAxis, values: ChartAxis) -> String {
        var pieces: [[(x: Double, y: Double)]] = [[]]
        var nonFinite: [Double] = []
        for (step, value) in panel.points(of: runs[run]) {
            guard let value else {
                if let x = point(step: step, value: values.upper, frame: frame, steps: steps, values: values)?.x {
                    nonFinite.append(x)
                }
                pieces.append([])
                continue
            }
            guard let position = point(step: step, value: value, frame: frame, steps: steps, values: values) else {
                continue
            }
            pieces[pieces.count - 1].append(position)
        }
        pieces.removeAll { $0.isEmpty }
        let path = pieces.map { piece in
            "M" + piece.map { "\(Self.f($0.x)) \(Self.f($0.y))" }.joined(separator: " L")
        }.joined(separator: " ")
        let dots = pieces.filter { panel == .valLoss || $0.count == 1 }.flatMap { $0 }
            .map { "<circle cx=\"\(Self.f($0.x))\" cy=\"\(Self.f($0.y))\" r=\"2.5\" fill=\"\(colour(run))\"/>" }
        let crosses = nonFinite.map { x in
            "<path d=\"M\(Self.f(x - 4)) \(frame.top - 4) L\(Self.f(x + 4)) \(frame.top + 4) M\(Self.f(x - 4)) \(frame.top + 4) L\(Self.f(x + 4)) \(frame.top - 4)\" stroke-width=\"2\"/>"
        }
        return """
            <g class="series" data-run="\(Self.escape(runs[run].name))" stroke="\(colour(run))" fill="none">\
            <path d="\(path)" stroke-width="1.5" stroke-linejoin="round"\(dashes(run))/>\(dots.joined())\(crosses.joined())</g>
            """
    }

    // MARK: - Text

    /// A coordinate with one decimal.
    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// `text` safe inside XML text and attribute values.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
