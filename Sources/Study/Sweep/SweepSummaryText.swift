import Foundation

/// `summary.txt` of a sweep, rendered from a `SweepSummary`, top to bottom: the per-point table
/// and its legends, what is missing and why, the per-variant table with the LR sensitivity
/// (Wortsman et al. 2023, §2.2; `LRSensitivity`), each variant's curve of final loss against
/// learning rate, and with a size axis the scaling table.
public struct SweepSummaryText {
    public let summary: SweepSummary

    public init(_ summary: SweepSummary) { self.summary = summary }

    /// The whole summary.
    public var text: String {
        var sections = [pointTable]
        if !summary.foldersOutsideGrid.isEmpty {
            sections.append(
                "not summarised: points/ also holds \(summary.foldersOutsideGrid.count) folder\(summary.foldersOutsideGrid.count == 1 ? "" : "s") outside this grid ("
                    + summary.foldersOutsideGrid.joined(separator: ", ") + ")")
        }
        sections.append(variantTable)
        if let curves = curveTable { sections.append(curves) }
        if let scaling = scalingTable { sections.append(scaling) }
        return sections.joined(separator: "\n\n")
    }

    // MARK: - Points

    /// One row per point, the legends, and a line for each point whose status needs a word.
    public var pointTable: String {
        let points = summary.points
        let kinds = Set(points.filter(\.isJudged).map(\.finalLossKind))
        let nameWidth = max(40, (points.map(\.point.name.count).max() ?? 0) + 2)
        var lines = [
            Self.pad("point", nameWidth) + Self.pad("status", 17) + Self.pad("final loss", 13)
                + Self.pad("vs bigram", 11) + Self.pad("max attn logit", 16) + "layer 0"
        ]
        for result in points {
            var final = result.finalLoss.map { $0.isFinite ? String(format: "%.4f", $0) : "non-finite" } ?? "—"
            if result.finalLoss != nil, kinds.count > 1 { final += " \(result.finalLossKind.rawValue)" }
            lines.append(
                Self.pad(result.point.name, nameWidth) + Self.pad(result.status.label, 17) + Self.pad(final, 13)
                    + Self.pad(result.bigramComparison ?? "—", 11) + Self.pad(Self.logit(result.attentionLogitMax), 16)
                    + Self.logit(result.attentionLogitMaxLayer0))
        }
        lines.append("")
        if let legend = Self.finalLossLegend(kinds) { lines.append(legend) }
        if let legend = bigramLegend { lines.append(legend) }
        lines.append(
            "max attn logit: the largest attention logit q·k/√d_head at any logged step, over all layers; layer 0: of the first layer (Wortsman et al. 2023, Fig. 2)"
        )
        let explained = points.compactMap(Self.explanation)
        if !explained.isEmpty { lines += [""] + explained }
        return lines.joined(separator: "\n")
    }

    /// What "vs bigram" says, true of these points: nil when no point has a result to compare.
    var bigramLegend: String? {
        let judged = summary.points.filter(\.isJudged)
        guard !judged.isEmpty else { return nil }
        let bigrams = Set(judged.compactMap(\.facts.bigramLoss))
        let value: String
        switch bigrams.count {
        case 0: value = " (not recorded by these runs, so none is compared: \"—\")"
        case 1: value = String(format: " (%.4f)", bigrams.first!)
        default: value = " (each point's corpus's)"
        }
        return
            "vs bigram: the final loss against the corpus's bigram loss\(value); diverged = stopped on a non-finite step. "
            + "A QKLab check, not part of the LR sensitivity"
    }

    static func finalLossLegend(_ kinds: Set<SweepSummary.LossKind>) -> String? {
        switch kinds {
        case []: return nil
        case [.validation]: return "final loss = validation loss at train.max_steps"
        case [.training]:
            return "final loss = training loss of the batch of train.max_steps (evaluation is off: eval_interval = 0)"
        default:
            return
                "final loss = validation loss at train.max_steps (val), or with evaluation off the training loss of that step's batch (train)"
        }
    }

    /// A line for a point whose status or numbers need a word; nil for a plain finished point.
    static func explanation(_ result: SweepSummary.PointResult) -> String? {
        let name = result.point.name
        let of = result.point.maxSteps.map { " of \($0)" } ?? ""
        switch result.status {
        case .finished:
            guard result.skippedSteps > 0 else { return nil }
            return
                "\(name): \(result.skippedSteps) non-finite step\(result.skippedSteps == 1 ? "" : "s") skipped (on_nonfinite = \"skip\"); finished"
        case .diverged(let step): return "\(name): diverged: stopped on a non-finite step at step \(step)\(of)"
        case .notStarted: return "\(name): not started"
        case .running(let pid): return "\(name): running (process \(pid))"
        case .failedToStart(let reason): return "\(name): failed to start: \(reason)"
        case .failed(let step, let reason):
            return
                "\(name): failed at step \(step.map(String.init) ?? "?")\(of): \(reason); rerun the sweep to resume it"
        case .stopped(let step):
            return
                "\(name): stopped at step \(step)\(of) with no record of why (interrupted, or training on another machine); rerun the sweep to resume it"
        case .configChanged(let differences):
            return
                "\(name): trained with another config than the sweep file now gives (\(differences.joined(separator: "; "))); its numbers are left out"
        }
    }

    // MARK: - Variants

    /// Why a variant's sensitivity was not computed: one line per variant, or one line for all of
    /// them when they share the reason (a grid of one learning rate gives every variant the same).
    static func withheldLines(_ variants: [SweepSummary.VariantResult]) -> [String] {
        let withheld = variants.compactMap { variant in variant.withheld.map { (variant.variant, $0) } }
        if variants.count > 1, withheld.count == variants.count, Set(withheld.map(\.1)).count == 1 {
            return ["every variant: LR sensitivity not computed: \(withheld[0].1)"]
        }
        return withheld.map { "\($0.0): LR sensitivity not computed: \($0.1)" }
    }

    /// Per variant: the LR sensitivity (and its window), ℓ0 and the largest attention logits.
    public var variantTable: String {
        let variants = summary.variants
        let width = max(31, (variants.map(\.variant.count).max() ?? 0) + 2)
        let windowed = variants.contains { $0.sensitivityWindow != nil }
        var lines = [
            Self.pad("variant", width) + Self.pad("LR sensitivity", 17) + (windowed ? Self.pad("window", 18) : "")
                + Self.pad("initial loss ℓ0", 17) + Self.pad("max attn logit", 16) + "layer 0"
        ]
        for variant in variants {
            lines.append(
                Self.pad(variant.variant, width)
                    + Self.pad(variant.sensitivity.map { String(format: "%.4f", $0) } ?? "not computed", 17)
                    + (windowed ? Self.pad(variant.sensitivityWindow.map(Self.window) ?? "whole grid", 18) : "")
                    + Self.pad(variant.initialLoss.map { String(format: "%.4f", $0) } ?? "—", 17)
                    + Self.pad(Self.logit(variant.attentionLogitMax), 16) + Self.logit(variant.attentionLogitMaxLayer0))
        }
        lines += Self.withheldLines(variants)
        lines.append(Self.formula(windowDecades: summary.windowDecades))
        if windowed {
            lines.append(
                "window: the grid spans more than \(Self.decades(summary.windowDecades)) decades of learning rate, so the LR sensitivity is the smallest over the \(Self.decades(summary.windowDecades))-decade windows of grid learning rates, each by the formula on its own learning rates; the column names the winning window (Wortsman et al. 2023, App. B, Fig. 6)"
            )
        }
        if variants.contains(where: { $0.lossKind == .training && $0.sensitivity != nil }) {
            lines.append(
                "note: with evaluation off, sensitivities rest on one training batch's loss per point: noisier than validation losses, and not comparable with them"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// The definition printed under the variant table, with its source.
    static func formula(windowDecades: Double) -> String {
        "LR sensitivity = mean over the grid's learning rates η of min(ℓ(η), ℓ0) − ℓ* (Wortsman et al. 2023, §2.2): "
            + "ℓ(η) = the final loss at η averaged over seeds (a diverged seed makes it non-finite, so it counts at ℓ0), "
            + "ℓ0 = the step-1 loss, ℓ* = the lowest ℓ(η) of the grid"
    }

    /// Per variant and learning rate: the seeds' mean final loss, what the sensitivity counts,
    /// and how many seeds diverged or ended above the bigram loss; nil when no point has a result.
    public var curveTable: String? {
        guard summary.variants.contains(where: { !$0.curve.isEmpty }) else { return nil }
        let width = max(31, (summary.variants.map(\.variant.count).max() ?? 0) + 2)
        var lines = [
            Self.pad("variant", width) + Self.pad("learning rate", 15) + Self.pad("mean final loss", 17)
                + Self.pad("min(ℓ, ℓ0)", 12) + Self.pad("diverged", 10) + "above bigram loss"
        ]
        for variant in summary.variants {
            for point in variant.curve {
                lines.append(
                    Self.pad(variant.variant, width) + Self.pad(Self.rate(point.learningRate), 15)
                        + Self.pad(
                            point.meanFinalLoss.isFinite ? String(format: "%.4f", point.meanFinalLoss) : "non-finite",
                            17)
                        + Self.pad(point.countedLoss.isFinite ? String(format: "%.4f", point.countedLoss) : "—", 12)
                        + Self.pad("\(point.divergedRuns) of \(point.seeds)", 10)
                        + (variant.facts.bigramLoss == nil && point.runsAboveBigram == 0
                            ? "—" : "\(point.runsAboveBigram) of \(point.seeds) seeds"))
            }
        }
        lines.append(
            "per learning rate over the variant's finished and diverged points; above bigram loss counts seeds that finished above the corpus's bigram loss (QKLab's check, not part of the LR sensitivity)"
        )
        return lines.joined(separator: "\n")
    }

    // MARK: - Scaling

    /// The scaling table (Wortsman et al. 2023, Fig. 1), or nil when the grid has one model size.
    public var scalingTable: String? {
        guard summary.hasSizes else { return nil }
        let lineWidth = max(16, (summary.variants.map(\.line.count).max() ?? 0) + 2)
        let sizeWidth = max(10, (summary.variants.map(\.size.count).max() ?? 0) + 2)
        var lines = [
            Self.pad("line", lineWidth) + Self.pad("size", sizeWidth)
                + "non-embedding parameters   LR sensitivity   seed range"
        ]
        for (line, points) in summary.scaling {
            for point in points {
                lines.append(
                    Self.pad(line, lineWidth) + Self.pad(point.size, sizeWidth)
                        + Self.pad(point.nonEmbeddingParameters.map(String.init) ?? "—", 27)
                        + Self.pad(point.sensitivity.map { String(format: "%.4f", $0) } ?? "not computed", 17)
                        + (point.seedRange.map { String(format: "%.4f–%.4f", $0.lowerBound, $0.upperBound) } ?? "—"))
            }
        }
        lines.append(
            "non-embedding parameters: all but the token embedding, learned positions and output head (Wortsman et al.'s x axis); "
                + "seed range: the LR sensitivity of each seed's own learning-rate curve, smallest to largest")
        return lines.joined(separator: "\n")
    }

    // MARK: - Formatting

    static func pad(_ text: String, _ width: Int) -> String {
        text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0)
    }

    static func logit(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "—" }

    static func rate(_ value: Double) -> String { ChartAxis.label(value) }

    static func window(_ range: ClosedRange<Double>) -> String { "\(rate(range.lowerBound))–\(rate(range.upperBound))" }

    static func decades(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : "\(value)" }
}
