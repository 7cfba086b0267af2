import Formats
import Foundation

/// The outcome of a sweep: per point, its status and numbers; per variant, the learning-rate
/// sensitivity of Wortsman et al. 2023 ("Small-scale proxies for large-scale Transformer
/// training instabilities"):
///
///     LR sensitivity = mean over the LR grid of  min(final_loss(lr), initial_loss) − min over the grid of final_loss(lr)
///
/// - `final_loss(lr)`: the mean over the seeds of the points' final losses at that learning rate,
///   averaged first and clamped after (a seed that diverged has final loss +∞, so a learning rate
///   at which any seed diverged counts at `initial_loss`).
/// - A point's final loss: its validation loss at `train.max_steps`; with evaluation off
///   (`eval_interval = 0`), the training loss of that step's batch, labelled "train" (a variant
///   whose points mix the two is not ranked). +∞ when it diverged or the loss is non-finite.
/// - `initial_loss`: the mean over the variant's points of the loss of step 1, which is the
///   model's loss before its first update (the same at every learning rate).
/// - *Diverged*: the run stopped on a non-finite step (`on_nonfinite = "stop"`). Under "skip" a
///   run that completes is finished, however many steps it skipped.
/// - *Failed* (Wortsman et al.'s term): the run finished with a final loss above its corpus's
///   bigram loss (`RunFacts`): it learned less than a character bigram table. A failed run counts
///   like a diverged one: its final loss is +∞ for the sensitivity, so its learning rate counts at
///   `initial_loss`. (Not to be confused with a point whose trainer exited with an error, the
///   status "failed", which has no result at all.)
///
/// The sensitivity is not computed — and the summary says why — when any point of the variant has
/// no result (not finished, failed, stopped, config changed), lacks a step-1 loss (run folders
/// from before QKLab always logged step 1), or has no final loss; or when every learning rate
/// diverged, or the grid has one learning rate.
public struct SweepSummary {
    /// Which loss a point's final loss is.
    public enum LossKind: String, Equatable {
        case validation = "val"
        case training = "train"
    }

    public struct PointResult {
        public let point: SweepPlan.Point
        public let status: SweepPointStatus
        /// The loss of step 1 (the model before any update); nil when the run has no finite
        /// step-1 line.
        public let initialLoss: Double?
        /// The loss at `train.max_steps` (+∞ when non-finite or diverged); nil unless the point
        /// is complete, or when nothing was measured at that step.
        public let finalLoss: Double?
        public let finalLossKind: LossKind
        /// Non-finite steps skipped under `on_nonfinite = "skip"`.
        public let skippedSteps: Int
        /// Largest attention logit of any layer at any logged step.
        public let attentionLogitMax: Double?
        /// The last logged step.
        public let lastStep: Int?
        /// The step-0 facts: bigram loss and non-embedding parameter count.
        public let facts: RunFacts

        public var diverged: Bool { if case .diverged = status { return true } else { return false } }

        /// Finished with a finite final loss above the bigram loss (Wortsman et al.'s "failed").
        public var failed: Bool {
            guard case .finished = status, let finalLoss, let bigram = facts.bigramLoss else { return false }
            return finalLoss.isFinite && finalLoss > bigram
        }

        /// The final loss the LR sensitivity counts: +∞ when the run diverged or failed.
        public var countedFinalLoss: Double? { diverged || failed ? .infinity : finalLoss }

        /// "learned", "failed" or "diverged" for a complete point with a final loss; nil otherwise.
        public var outcome: String? {
            guard status.isComplete, finalLoss != nil else { return nil }
            return diverged || finalLoss == .infinity ? "diverged" : failed ? "failed" : "learned"
        }
    }

    /// One learning rate of a variant.
    public struct CurvePoint: Equatable {
        public let learningRate: Double
        /// The mean of the seeds' counted final losses (+∞ when a seed diverged or failed).
        public let meanFinalLoss: Double
        /// `min(meanFinalLoss, initial loss)`: what the sensitivity counts, and the chart draws.
        public let countedLoss: Double
        public let seeds: Int
        public let divergedRuns: Int
        /// Seeds that finished above the bigram loss.
        public let failedRuns: Int
    }

    public struct VariantResult {
        public let variant: String
        /// Learning rates in increasing order, over the variant's complete points.
        public let curve: [CurvePoint]
        /// Mean step-1 loss of the variant's points that have one.
        public let initialLoss: Double?
        /// nil when `withheld` says why it was not computed.
        public let sensitivity: Double?
        public let withheld: String?
        /// The kind of the final losses when they agree.
        public let lossKind: LossKind?
        public let attentionLogitMax: Double?
        /// The variant's size settings and line (`SweepPlan.Point.size`, `.line`).
        public let size: String
        public let line: String
        /// The step-0 facts when every point that has them agrees (nil fields otherwise).
        public let facts: RunFacts
        /// The sensitivity of each seed's own curve (the seeds' spread); empty when `sensitivity` is nil.
        public let seedSensitivities: [Double]
    }

    public let points: [PointResult]
    public let variants: [VariantResult]

    public init(runner: SweepRunner) {
        self.init(points: runner.plan.points.map { Self.result(of: $0, record: runner.record(of: $0)) })
    }

    init(points: [PointResult]) {
        self.points = points
        variants = Self.variants(points)
    }

    static func result(of point: SweepPlan.Point, record: SweepPointRecord) -> PointResult {
        let status = record.status(planned: point.config, defaults: point.defaults)
        let history: RunHistory? = {
            if case .configChanged = status { return nil }  // its numbers are another config's
            return try? RunHistory(folder: record.folder.url)
        }()
        let evaluates = (point.config.integer("train.eval_interval") ?? 0) > 0
        let kind: LossKind = evaluates ? .validation : .training
        var final: Double?
        if let history, let maxSteps = point.maxSteps {
            switch status {
            case .finished:
                if evaluates {
                    final = history.evaluations.last { $0.step == maxSteps }.map { $0.valLoss ?? .infinity }
                } else {
                    final = history.training.last { $0.step == maxSteps }.map { $0.loss ?? .infinity }
                }
            case .diverged: final = .infinity
            default: break
            }
        }
        let training = history?.training ?? []
        return PointResult(
            point: point, status: status,
            initialLoss: training.first { $0.step == 1 }?.loss,
            finalLoss: final, finalLossKind: kind,
            skippedSteps: max(
                training.compactMap(\.skippedSteps).max() ?? 0,
                point.config["train.on_nonfinite"] == .text("skip") ? training.filter(\.isNonFinite).count : 0),
            attentionLogitMax: training.compactMap { $0.maxAttnLogit?.value }.max(),
            lastStep: history?.lastStep, facts: history == nil ? RunFacts(lines: []) : RunFacts(folder: record.folder))
    }

    static func variants(_ points: [PointResult]) -> [VariantResult] {
        var order: [String] = []
        for result in points where !order.contains(result.point.variant) { order.append(result.point.variant) }
        return order.map { variant in
            let members = points.filter { $0.point.variant == variant }
            let complete = members.filter(\.status.isComplete)
            let initials = members.compactMap(\.initialLoss)
            let initialLoss = Statistics.mean(initials)
            let kinds = Set(complete.map(\.finalLossKind))
            var reasons: [String] = []
            let missing = members.filter { !$0.status.isComplete }
            if !missing.isEmpty {
                reasons.append(
                    "\(missing.count) of \(members.count) points have no result ("
                        + missing.map { "\($0.point.name): \($0.status.label)" }.joined(separator: ", ") + ")")
            }
            let noStepOne = complete.filter { $0.initialLoss == nil }
            if !noStepOne.isEmpty {
                reasons.append(
                    "no step-1 loss in " + noStepOne.map(\.point.name).joined(separator: ", ")
                        + " (trained before QKLab logged step 1 whatever log_interval; train them again)")
            }
            let noFinal = complete.filter { $0.finalLoss == nil }
            if !noFinal.isEmpty {
                reasons.append(
                    "no loss logged at the last step in " + noFinal.map(\.point.name).joined(separator: ", ")
                        + " (log_interval and eval_interval are 0)")
            }
            if kinds.count > 1 { reasons.append("its final losses mix validation and training-batch losses") }
            let curve = Self.curve(complete.filter { $0.finalLoss != nil }, initialLoss: initialLoss ?? .infinity)
            var sensitivity: Double?
            if reasons.isEmpty, let initialLoss {
                sensitivity = Self.sensitivity(finalLosses: curve.map(\.meanFinalLoss), initialLoss: initialLoss)
                if curve.count < 2 {
                    reasons.append("the grid has one learning rate")
                } else if sensitivity == nil {
                    reasons.append("every learning rate diverged or failed")
                }
            }
            let computed = reasons.isEmpty ? sensitivity : nil
            return VariantResult(
                variant: variant, curve: curve, initialLoss: initialLoss,
                sensitivity: computed,
                withheld: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
                lossKind: kinds.count == 1 ? kinds.first : nil,
                attentionLogitMax: members.compactMap(\.attentionLogitMax).max(),
                size: members[0].point.size, line: members[0].point.line, facts: Self.sharedFacts(members),
                seedSensitivities: computed == nil ? [] : Self.seedSensitivities(complete, initialLoss: initialLoss!))
        }
    }

    /// Per learning rate (increasing), the seeds' mean final loss and its clamp at `initialLoss`.
    static func curve(_ results: [PointResult], initialLoss: Double) -> [CurvePoint] {
        let rates = Array(Set(results.compactMap(\.point.learningRate))).sorted()
        return rates.map { rate in
            let runs = results.filter { $0.point.learningRate == rate }
            let finals = runs.map { $0.countedFinalLoss ?? .infinity }
            let mean = finals.contains(.infinity) ? .infinity : finals.reduce(0, +) / Double(finals.count)
            return CurvePoint(
                learningRate: rate, meanFinalLoss: mean, countedLoss: min(mean, initialLoss),
                seeds: runs.count, divergedRuns: runs.filter(\.diverged).count, failedRuns: runs.filter(\.failed).count)
        }
    }

    /// Per seed (`SweepPlan.Point.seed`), the sensitivity of that seed's points alone, against
    /// the variant's initial loss; seeds missing a learning rate the others have are left out.
    static func seedSensitivities(_ results: [PointResult], initialLoss: Double) -> [Double] {
        let rates = Set(results.compactMap(\.point.learningRate))
        var seeds: [String] = []
        for result in results where !seeds.contains(result.point.seed) { seeds.append(result.point.seed) }
        return seeds.compactMap { seed in
            let runs = results.filter { $0.point.seed == seed }
            guard Set(runs.compactMap(\.point.learningRate)) == rates else { return nil }
            return sensitivity(
                finalLosses: runs.sorted { $0.point.learningRate! < $1.point.learningRate! }.map {
                    $0.countedFinalLoss ?? .infinity
                },
                initialLoss: initialLoss)
        }
    }

    /// The facts the points agree on: a field is nil when no point has it or two points differ.
    static func sharedFacts(_ results: [PointResult]) -> RunFacts {
        let bigrams = Set(results.compactMap(\.facts.bigramLoss)),
            counts = Set(results.compactMap(\.facts.nonEmbeddingParameters))
        return RunFacts(
            bigramLoss: bigrams.count == 1 ? bigrams.first : nil,
            nonEmbeddingParameters: counts.count == 1 ? counts.first : nil)
    }

    /// Wortsman et al.'s LR sensitivity from the seed-mean final loss at each learning rate
    /// (`finalLosses`, +∞ for a learning rate at which a seed diverged):
    /// `mean(min(loss, initialLoss)) − min(loss)`. nil when no loss is finite (every learning
    /// rate diverged) or the grid is empty.
    public static func sensitivity(finalLosses: [Double], initialLoss: Double) -> Double? {
        guard let best = finalLosses.filter(\.isFinite).min() else { return nil }
        return finalLosses.map { min($0, initialLoss) - best }.reduce(0, +) / Double(finalLosses.count)
    }

    /// The same from every seed's final loss at each learning rate: the seeds are averaged
    /// first, then the mean is clamped at `initialLoss`.
    public static func sensitivity(seedFinalLosses: [[Double]], initialLoss: Double) -> Double? {
        sensitivity(
            finalLosses: seedFinalLosses.map { seeds in
                seeds.contains(.infinity) || seeds.isEmpty ? .infinity : seeds.reduce(0, +) / Double(seeds.count)
            }, initialLoss: initialLoss)
    }

    // MARK: - Outcome

    /// The points that failed (an error exit, or a folder trained with another config).
    public var failures: [PointResult] { points.filter(\.status.isFailure) }

    /// One line for a non-zero exit when any point failed; nil when none did.
    public var failureMessage: String? {
        guard !failures.isEmpty else { return nil }
        return "\(failures.count) of \(points.count) sweep points failed: "
            + failures.map { "\($0.point.name) (\($0.status.label))" }.joined(separator: ", ")
            + "; the summary says why"
    }

    // MARK: - Text

    /// The per-point table, what is missing and why, and the per-variant summary.
    public var table: String {
        let kinds = Set(points.map(\.finalLossKind))
        let nameWidth = max(40, (points.map(\.point.name.count).max() ?? 0) + 2)
        var lines = [
            "point".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + "status           final loss   outcome    max attn logit"
        ]
        for result in points {
            var final = result.finalLoss.map { $0.isFinite ? String(format: "%.4f", $0) : "non-finite" } ?? "—"
            if result.finalLoss != nil, kinds.count > 1 { final += " \(result.finalLossKind.rawValue)" }
            let logit = result.attentionLogitMax.map { String(format: "%.1f", $0) } ?? "—"
            lines.append(
                result.point.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                    + result.status.label.padding(toLength: 17, withPad: " ", startingAt: 0)
                    + final.padding(toLength: 13, withPad: " ", startingAt: 0)
                    + (result.outcome ?? "—").padding(toLength: 11, withPad: " ", startingAt: 0) + logit)
        }
        lines.append("")
        lines.append(Self.finalLossLegend(kinds))
        lines.append(Self.outcomeLegend(Set(points.compactMap(\.facts.bigramLoss))))
        let explained = points.compactMap(Self.explanation)
        if !explained.isEmpty {
            lines.append("")
            lines += explained
        }
        lines.append("")
        let variantWidth = max(31, (variants.map(\.variant.count).max() ?? 0) + 2)
        lines.append(
            "variant".padding(toLength: variantWidth, withPad: " ", startingAt: 0)
                + "LR sensitivity   initial loss (step 1)   largest attn logit")
        for variant in variants {
            lines.append(
                variant.variant.padding(toLength: variantWidth, withPad: " ", startingAt: 0)
                    + (variant.sensitivity.map { String(format: "%.4f", $0) } ?? "not computed").padding(
                        toLength: 17, withPad: " ", startingAt: 0)
                    + (variant.initialLoss.map { String(format: "%.4f", $0) } ?? "—").padding(
                        toLength: 24, withPad: " ", startingAt: 0)
                    + (variant.attentionLogitMax.map { String(format: "%.1f", $0) } ?? "—"))
        }
        for variant in variants {
            if let withheld = variant.withheld {
                lines.append("\(variant.variant): LR sensitivity not computed: \(withheld)")
            }
        }
        lines.append(
            "LR sensitivity = mean over the learning rates of min(final loss, initial loss) − the lowest final loss, "
                + "the final loss averaged over seeds first (a learning rate at which a seed diverged or failed counts at the initial loss)"
        )
        if variants.contains(where: { $0.lossKind == .training && $0.sensitivity != nil }) {
            lines.append(
                "note: with evaluation off, sensitivities rest on one training batch's loss per point: noisier than validation losses, and not comparable with them"
            )
        }
        if let scaling = scalingTable { lines += ["", scaling] }
        return lines.joined(separator: "\n")
    }

    /// What "failed" and "diverged" mean, with the bigram loss the points were judged by.
    static func outcomeLegend(_ bigrams: Set<Double>) -> String {
        let bigram =
            bigrams.count == 1
            ? String(format: " (%.4f)", bigrams.first!)
            : bigrams.isEmpty
                ? " (not recorded: runs from before QKLab wrote it, none judged failed)" : " (of each point's corpus)"
        return
            "outcome: failed = finished above the corpus's bigram loss\(bigram), diverged = stopped on a non-finite step (Wortsman et al. 2023); "
            + "learned = neither"
    }

    static func finalLossLegend(_ kinds: Set<LossKind>) -> String {
        switch kinds {
        case [.validation]: return "final loss = validation loss at train.max_steps"
        case [.training]:
            return "final loss = training loss of the batch of train.max_steps (evaluation is off: eval_interval = 0)"
        default:
            return
                "final loss = validation loss at train.max_steps (val), or with evaluation off the training loss of that step's batch (train)"
        }
    }

    /// A line for a point whose status or numbers need a word; nil for a plain finished point.
    static func explanation(_ result: PointResult) -> String? {
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
}
