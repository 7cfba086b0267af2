import Formats
import Foundation

/// The outcome of a sweep, computed (`SweepSummaryText` renders it): per point, its status and
/// numbers; per variant, the LR sensitivity of Wortsman et al. 2023 (`LRSensitivity`, the
/// paper's §2.2 formula and App. B window rule) and its curve of final loss against learning rate.
///
/// - A point's final loss: its validation loss at `train.max_steps`; with evaluation off
///   (`eval_interval = 0`), the training loss of that step's batch, labelled "train" (a variant
///   whose points mix the two is not ranked). +∞ when it diverged or the loss is non-finite.
/// - ℓ0 (`initialLoss`): the mean over the variant's points of the loss of step 1, which is the
///   model's loss before its first update (the same at every learning rate).
/// - *Diverged*: the run stopped on a non-finite step (`on_nonfinite = "stop"`); it counts at ℓ0.
///   Under "skip" a run that completes is finished, however many steps it skipped.
/// - *Above bigram loss*: the run finished with a final loss above its corpus's bigram loss
///   (`RunFacts`): it learned less than a character bigram table. QKLab counts such runs per
///   learning rate as a check of its own; the count is not part of the LR sensitivity and not
///   from the paper (whose bigram model appears only in its κ experiment, Fig. 10).
/// - *Failed* (status only): the point's trainer exited with an error, so it has no result.
///
/// The sensitivity is not computed — and the summary says why — when any point of the variant has
/// no result (not finished, failed, stopped, config changed), lacks a step-1 loss, or has no final
/// loss; or when every learning rate diverged, or the grid has one learning rate.
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
        /// Largest attention logit of any layer at any logged step (`attn_logit_max`).
        public let attentionLogitMax: Double?
        /// Largest attention logit of layer 0 (element 0 of `attn_logit_max`) at any logged step:
        /// the layer Wortsman et al. report (Fig. 2).
        public let attentionLogitMaxLayer0: Double?
        /// The last logged step.
        public let lastStep: Int?
        /// The step-0 facts: bigram loss and non-embedding parameter count.
        public let facts: RunFacts

        public var diverged: Bool { if case .diverged = status { return true } else { return false } }

        /// Whether the point has a result the summary judges: complete, with a final loss.
        public var isJudged: Bool { status.isComplete && finalLoss != nil }

        /// Finished with a finite final loss above the corpus's bigram loss (QKLab's check; not
        /// part of the LR sensitivity).
        public var endedAboveBigram: Bool {
            guard case .finished = status, let finalLoss, let bigram = facts.bigramLoss else { return false }
            return finalLoss.isFinite && finalLoss > bigram
        }

        /// The final loss against the bigram loss: "below", "above", "diverged", or nil when the
        /// point has no final loss or its run did not record a bigram loss (then "—" for a finite loss).
        public var bigramComparison: String? {
            guard isJudged, let finalLoss else { return nil }
            if diverged || !finalLoss.isFinite { return "diverged" }
            guard facts.bigramLoss != nil else { return nil }
            return endedAboveBigram ? "above" : "below"
        }
    }

    /// One learning rate of a variant.
    public struct CurvePoint: Equatable {
        public let learningRate: Double
        /// The mean of the seeds' final losses (+∞ when a seed diverged).
        public let meanFinalLoss: Double
        /// `min(meanFinalLoss, ℓ0)`: what the sensitivity counts, and the chart draws.
        public let countedLoss: Double
        public let seeds: Int
        public let divergedRuns: Int
        /// Seeds that finished above the bigram loss (not part of the sensitivity).
        public let runsAboveBigram: Int
    }

    public struct VariantResult {
        public let variant: String
        /// Learning rates in increasing order, over the variant's complete points.
        public let curve: [CurvePoint]
        /// ℓ0: the mean step-1 loss of the variant's points that have one.
        public let initialLoss: Double?
        /// nil when `withheld` says why it was not computed.
        public let sensitivity: Double?
        /// The learning rates of the window the window rule chose (nil: the whole grid).
        public let sensitivityWindow: ClosedRange<Double>?
        public let withheld: String?
        /// The kind of the final losses when they agree.
        public let lossKind: LossKind?
        public let attentionLogitMax: Double?
        public let attentionLogitMaxLayer0: Double?
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
    /// The window rule's width in decades (`LRSensitivity.paperWindowDecades` unless chosen).
    public let windowDecades: Double
    /// Folders under `points/` that no point of the grid names (left from another grid with the
    /// same `out`); they are not summarised.
    public let foldersOutsideGrid: [String]

    public init(runner: SweepRunner, windowDecades: Double = LRSensitivity.paperWindowDecades) {
        let names = Set(runner.plan.points.map(\.name))
        let present =
            (try? FileManager.default.contentsOfDirectory(
                atPath: runner.plan.output.appendingPathComponent("points").path))
            ?? []
        self.init(
            points: runner.plan.points.map { Self.result(of: $0, record: runner.record(of: $0)) },
            windowDecades: windowDecades,
            foldersOutsideGrid: present.filter { !names.contains($0) && !$0.hasPrefix(".") }.sorted())
    }

    init(
        points: [PointResult], windowDecades: Double = LRSensitivity.paperWindowDecades,
        foldersOutsideGrid: [String] = []
    ) {
        self.points = points
        self.windowDecades = windowDecades
        self.foldersOutsideGrid = foldersOutsideGrid
        variants = Self.variants(points, windowDecades: windowDecades)
    }

    /// Whether any point has a result to judge; a summary without one says nothing about the grid.
    public var judgesAnyPoint: Bool { points.contains(where: \.isJudged) }

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
            attentionLogitMaxLayer0: training.compactMap { $0.attnLogitMax.first ?? nil }.max(),
            lastStep: history?.lastStep, facts: history == nil ? RunFacts(lines: []) : RunFacts(folder: record.folder))
    }

    static func variants(_ points: [PointResult], windowDecades: Double) -> [VariantResult] {
        var order: [String] = []
        for result in points where !order.contains(result.point.variant) { order.append(result.point.variant) }
        return order.map { variant in
            let members = points.filter { $0.point.variant == variant }
            let complete = members.filter(\.status.isComplete)
            let initialLoss = Statistics.mean(members.compactMap(\.initialLoss))
            let kinds = Set(complete.map(\.finalLossKind))
            var reasons = Self.missingResults(members)
            let curve = Self.curve(complete.filter { $0.finalLoss != nil }, initialLoss: initialLoss ?? .infinity)
            var sensitivity: LRSensitivity.Value?
            if reasons.isEmpty, let initialLoss {
                sensitivity = LRSensitivity.windowed(
                    rates: curve.map(\.learningRate), finalLosses: curve.map(\.meanFinalLoss),
                    initialLoss: initialLoss, decades: windowDecades)
                if curve.count < 2 {
                    reasons.append("the grid has one learning rate")
                } else if sensitivity == nil {
                    reasons.append("every learning rate diverged")
                }
            }
            let computed = reasons.isEmpty ? sensitivity : nil
            return VariantResult(
                variant: variant, curve: curve, initialLoss: initialLoss,
                sensitivity: computed?.value, sensitivityWindow: computed?.window,
                withheld: reasons.isEmpty ? nil : reasons.joined(separator: "; "),
                lossKind: kinds.count == 1 ? kinds.first : nil,
                attentionLogitMax: members.compactMap(\.attentionLogitMax).max(),
                attentionLogitMaxLayer0: members.compactMap(\.attentionLogitMaxLayer0).max(),
                size: members[0].point.size, line: members[0].point.line, facts: Self.sharedFacts(members),
                seedSensitivities: computed == nil
                    ? [] : Self.seedSensitivities(complete, initialLoss: initialLoss!, windowDecades: windowDecades))
        }
    }

    /// Why a variant's points do not all have a result (empty when they do).
    static func missingResults(_ members: [PointResult]) -> [String] {
        var reasons: [String] = []
        let missing = members.filter { !$0.status.isComplete }
        if !missing.isEmpty {
            reasons.append(
                "\(missing.count) of \(members.count) points \(missing.count == 1 ? "has" : "have") no result ("
                    + missing.map { "\($0.point.name): \($0.status.label)" }.joined(separator: ", ") + ")")
        }
        let complete = members.filter(\.status.isComplete)
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
        if Set(complete.map(\.finalLossKind)).count > 1 {
            reasons.append("its final losses mix validation and training-batch losses")
        }
        return reasons
    }

    /// Per learning rate (increasing), the seeds' mean final loss and its cap at `initialLoss`.
    static func curve(_ results: [PointResult], initialLoss: Double) -> [CurvePoint] {
        let rates = Array(Set(results.compactMap(\.point.learningRate))).sorted()
        return rates.map { rate in
            let runs = results.filter { $0.point.learningRate == rate }
            let mean = LRSensitivity.seedMean(runs.map { $0.finalLoss ?? .infinity })
            return CurvePoint(
                learningRate: rate, meanFinalLoss: mean, countedLoss: min(mean, initialLoss),
                seeds: runs.count, divergedRuns: runs.filter(\.diverged).count,
                runsAboveBigram: runs.filter(\.endedAboveBigram).count)
        }
    }

    /// Per seed (`SweepPlan.Point.seed`), the sensitivity of that seed's points alone, against
    /// the variant's ℓ0 and with the same window rule; seeds missing a learning rate the others
    /// have are left out.
    static func seedSensitivities(_ results: [PointResult], initialLoss: Double, windowDecades: Double) -> [Double] {
        let rates = Set(results.compactMap(\.point.learningRate))
        var seeds: [String] = []
        for result in results where !seeds.contains(result.point.seed) { seeds.append(result.point.seed) }
        return seeds.compactMap { seed in
            let runs = results.filter { $0.point.seed == seed }.sorted {
                $0.point.learningRate! < $1.point.learningRate!
            }
            guard Set(runs.compactMap(\.point.learningRate)) == rates else { return nil }
            return LRSensitivity.windowed(
                rates: runs.map { $0.point.learningRate! }, finalLosses: runs.map { $0.finalLoss ?? .infinity },
                initialLoss: initialLoss, decades: windowDecades)?.value
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
}
