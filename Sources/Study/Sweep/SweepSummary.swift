import Formats
import Foundation

/// The outcome of a sweep: per point, the numbers of its run; per variant, the
/// learning-rate sensitivity of Wortsman et al. 2023 ("Small-scale proxies for large-scale
/// Transformer training instabilities"):
///
///     sensitivity = mean over the LR grid of  min(final_loss(lr), initial_loss) − best_final_loss
///
/// where `final_loss` is the last validation loss (the last training loss when a run has no
/// evaluation), averaged over seeds, and a diverged point counts at `initial_loss`.
public struct SweepSummary {
    public struct PointResult {
        public let point: SweepPlan.Point
        /// Loss of step 1 (≈ ln V for a fresh model).
        public let initialLoss: Double?
        /// nil when the run diverged (a non-finite step) or has no loss yet.
        public let finalLoss: Double?
        public let diverged: Bool
        /// Largest attention logit of any layer at any logged step.
        public let attentionLogitMax: Double?
        public let finished: Bool
    }

    public struct VariantResult {
        public let variant: String
        /// (lr, final loss averaged over seeds with diverged runs at the initial loss, diverged seeds)
        public let curve: [(learningRate: Double, finalLoss: Double, divergedRuns: Int)]
        public let initialLoss: Double
        public let sensitivity: Double
        public let attentionLogitMax: Double?
    }

    public let points: [PointResult]
    public let variants: [VariantResult]

    public init(runner: SweepRunner) {
        points = runner.plan.points.map { Self.result(of: $0, folder: runner.folder(of: $0)) }
        variants = Self.variants(points)
    }

    init(points: [PointResult]) {
        self.points = points
        variants = Self.variants(points)
    }

    static func result(of point: SweepPlan.Point, folder: RunFolder) -> PointResult {
        let lines = (try? MetricsReader.read(folder.metrics)) ?? []
        func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
        let training = lines.filter { $0["loss"] != nil }
        let diverged = FileManager.default.fileExists(atPath: folder.nonFiniteReport.path)
            || training.contains { !($0["loss"] is NSNumber) }
        let lastVal = lines.last { number($0["val_loss"]) != nil }.flatMap { number($0["val_loss"]) }
        let logits = training.flatMap { ($0["attn_logit_max"] as? [Any] ?? []).compactMap(number) }
        let finished = FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("finished").path)
        return PointResult(point: point, initialLoss: training.first.flatMap { number($0["loss"]) },
                           finalLoss: diverged ? nil : (lastVal ?? training.last.flatMap { number($0["loss"]) }),
                           diverged: diverged, attentionLogitMax: logits.max(), finished: finished)
    }

    static func variants(_ points: [PointResult]) -> [VariantResult] {
        var order: [String] = []
        for result in points where !order.contains(result.point.variant) { order.append(result.point.variant) }
        return order.compactMap { variant in
            let members = points.filter { $0.point.variant == variant }
            let initials = members.compactMap(\.initialLoss)
            guard !initials.isEmpty else { return nil }
            let initialLoss = initials.reduce(0, +) / Double(initials.count)
            let rates = Array(Set(members.compactMap(\.point.learningRate))).sorted()
            let curve = rates.compactMap { lr -> (Double, Double, Int)? in
                let runs = members.filter { $0.point.learningRate == lr && ($0.finalLoss != nil || $0.diverged) }
                guard !runs.isEmpty else { return nil }
                let losses = runs.map { $0.finalLoss.map { min($0, initialLoss) } ?? initialLoss }
                return (lr, losses.reduce(0, +) / Double(losses.count), runs.filter(\.diverged).count)
            }
            return VariantResult(variant: variant, curve: curve.map { ($0.0, $0.1, $0.2) }, initialLoss: initialLoss,
                                 sensitivity: sensitivity(finalLosses: curve.map(\.1), initialLoss: initialLoss),
                                 attentionLogitMax: members.compactMap(\.attentionLogitMax).max())
        }
    }

    /// `mean(min(loss, initial) − best)` over the grid, `best = min(loss)`; losses of diverged
    /// points are passed as `initialLoss`. 0 for an empty grid.
    public static func sensitivity(finalLosses: [Double], initialLoss: Double) -> Double {
        guard let best = finalLosses.min() else { return 0 }
        return finalLosses.map { min($0, initialLoss) - best }.reduce(0, +) / Double(finalLosses.count)
    }

    /// The per-point table and the per-variant summary, as text.
    public var table: String {
        var lines = ["point                                   final loss   max attn logit   diverged"]
        for result in points {
            let final = result.finalLoss.map { String(format: "%.4f", $0) } ?? (result.diverged ? "—" : "running")
            let logit = result.attentionLogitMax.map { String(format: "%.1f", $0) } ?? "—"
            lines.append(result.point.name.padding(toLength: 40, withPad: " ", startingAt: 0)
                         + final.padding(toLength: 13, withPad: " ", startingAt: 0)
                         + logit.padding(toLength: 17, withPad: " ", startingAt: 0) + (result.diverged ? "yes" : "no"))
        }
        lines.append("")
        lines.append("variant                        LR sensitivity   initial loss   largest attn logit")
        for variant in variants {
            lines.append(variant.variant.padding(toLength: 31, withPad: " ", startingAt: 0)
                         + String(format: "%-17.4f%-15.4f", variant.sensitivity, variant.initialLoss)
                         + (variant.attentionLogitMax.map { String(format: "%.1f", $0) } ?? "—"))
        }
        return lines.joined(separator: "\n")
    }
}
