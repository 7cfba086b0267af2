import Autograd
import Formats
import Foundation
import Transformer

/// The training loop: batches, forward/backward, AdamW, metrics, evaluation, checkpoints.
///
/// A trainer is created for a new run (`Trainer(config:…)`) or from a run folder's latest
/// checkpoint (`Trainer(resuming:…)`); either way `run()` continues to `train.max_steps`.
/// Everything that decides the numbers — weights, moments, the sampler's generator — lives in
/// checkpoints, so a resumed run is bit-identical to one that never stopped.
public final class Trainer {
    public let config: TrainingConfig
    public let folder: RunFolder
    public let model: TransformerModel
    /// Runs each step's forward and backward in batch shards, one per kernel thread.
    let dataParallel: DataParallel
    public let optimizer: AdamW
    let corpus: Corpus
    let schedule: LearningRateSchedule
    let evaluationBatches: [Batch]
    let lock: RunLock
    var sampler: BatchSampler
    /// Optimizer steps completed.
    public private(set) var step = 0
    var bestValLoss: Double?
    var lastValLoss: Double?
    var skippedSteps = 0
    var elapsedBefore = 0.0
    /// The last few steps, for the non-finite report.
    var recentSteps: [StepRecord] = []
    /// Where the header, progress line and messages go (the console by default).
    public var progress = ConsoleProgress()

    /// A new run in `folder` (created; refused if it already holds a run). With `initialWeights`,
    /// the model starts from those weights instead of its initialisation.
    public init(config: TrainingConfig, folder: RunFolder, configSource: String, initialWeights: InitialWeights? = nil) throws {
        try folder.createForNewRun()   // refuses a folder holding a run, or someone's own files
        lock = try RunLock(folder: folder)
        Self.applyThreads(config.train.threads)
        corpus = try Corpus(path: config.data.path, valFraction: config.data.valFraction, blockSize: config.model.blockSize)
        var resolved = config
        resolved.model.vocabSize = corpus.tokenizer.vocabularySize
        resolved.optim.minLR = config.optim.minLR ?? config.optim.lr / 10        // fixed now, so extending
        resolved.optim.decaySteps = config.optim.decaySteps ?? config.train.maxSteps   // a run keeps its curve
        self.config = resolved
        self.folder = folder
        model = try TransformerModel(config: resolved.model)
        try initialWeights?.load(model, corpus.tokenizer)
        dataParallel = DataParallel(model: model, shards: Parallel.threadCount)
        optimizer = AdamW(parameters: model.parameters, config: resolved.optim)
        schedule = LearningRateSchedule(resolved)
        sampler = BatchSampler(seed: resolved.train.seed)
        evaluationBatches = BatchSampler.evaluationBatches(of: corpus.validation, count: resolved.train.evalBatches,
                                                          batchSize: resolved.train.batchSize, length: resolved.model.blockSize)
        try writeSynced(Data(resolved.resolvedTOML().utf8), to: folder.config)
        try writeHeader(configSource: initialWeights.map { "\(configSource), weights from \($0.source)" } ?? configSource)
    }

    /// Continues the run in `folder` from its newest complete checkpoint, with `overrides`
    /// (e.g. `train.max_steps=4000`) applied; changes to `[model]` or `[data]` are refused.
    public init(resuming folder: RunFolder, overrides: [String] = []) throws {
        guard let checkpoint = folder.latestCheckpoint() else {
            throw RunError("cannot resume \(folder.url.path): it has no complete checkpoint (it holds: \(folder.contentsSummary()))")
        }
        lock = try RunLock(folder: folder)
        let state = try Checkpoint.loadState(checkpoint)
        var config = state.config
        for override in overrides { try ConfigLoader.apply(override: override, to: &config) }
        config.model.vocabSize = state.config.model.vocabSize
        try ConfigLoader.validate(config)
        if config.model != state.config.model {
            throw RunError("cannot resume with a different [model] (the checkpoint's model is fixed); start a new run instead")
        }
        if config.data != state.config.data {
            throw RunError("cannot resume with a different [data] section; start a new run instead")
        }
        if config.train.seed != state.config.train.seed {
            throw RunError("cannot resume with a different train.seed (the sampler continues from the checkpoint); start a new run instead")
        }
        Self.applyThreads(config.train.threads)
        corpus = try Corpus(path: config.data.path, valFraction: config.data.valFraction, blockSize: config.model.blockSize)
        guard corpus.tokenizer == state.tokenizer else {
            throw RunError("corpus \(config.data.path) has changed since the run started (its vocabulary differs from the checkpoint's)")
        }
        self.config = config
        self.folder = folder
        model = try TransformerModel(config: config.model)
        dataParallel = DataParallel(model: model, shards: Parallel.threadCount)
        optimizer = AdamW(parameters: model.parameters, config: config.optim)
        try Checkpoint.restore(model: model, optimizer: optimizer, from: checkpoint)
        optimizer.stepCount = state.optimizerSteps
        schedule = LearningRateSchedule(config)
        sampler = state.sampler
        step = state.step
        bestValLoss = state.bestValLoss
        skippedSteps = state.skippedSteps
        elapsedBefore = state.elapsedSeconds
        evaluationBatches = BatchSampler.evaluationBatches(of: corpus.validation, count: config.train.evalBatches,
                                                          batchSize: config.train.batchSize, length: config.model.blockSize)
        try MetricsLog.truncate(folder.metrics, afterStep: step)
        try writeSynced(Data(config.resolvedTOML().utf8), to: folder.config)
        try writeHeader(configSource: "resumed from \(checkpoint.path)")
    }

    static func applyThreads(_ threads: Int) {
        let count = threads > 0 ? threads : System.coreCount
        BLAS.threadCount = count
        Parallel.threadCount = count
    }

    /// The one-line header (also written to `run.txt` with the system report).
    func writeHeader(configSource: String) throws {
        let report = SystemReport.current()
        let header = "qklab \(QKLabVersion.string) | OpenBLAS \(report.openBLASCore), \(report.blasThreads) threads | "
            + "\(model.parameters.scalarCount) parameters | config \(configSource) | run \(folder.url.path)"
        progress.message(header)
        try writeSynced(Data((header + "\n\n" + report.description + "\n").utf8), to: folder.info)
    }

    /// The checkpoint state after the current step.
    var checkpointState: CheckpointState {
        CheckpointState(step: step, optimizerSteps: optimizer.stepCount, sampler: sampler, tokenizer: corpus.tokenizer,
                        config: config, bestValLoss: bestValLoss, skippedSteps: skippedSteps, elapsedSeconds: elapsedBefore + clock.elapsed)
    }

    private var clock = Stopwatch()

    /// Trains to `train.max_steps`, logging, evaluating and checkpointing on the way.
    /// Throws `TrainingInterrupted` after a SIGINT/SIGTERM (a checkpoint is saved first) and a
    /// `RunError` on a non-finite step under `on_nonfinite = "stop"`.
    @discardableResult
    public func run() throws -> TrainingSummary {
        let metrics = try MetricsLog(url: folder.metrics)
        // The TensorBoard view equals metrics.jsonl: a resumed run's steps after its checkpoint
        // leave the old event files, and the new file sorts after them.
        try TensorBoardWriter.truncateEventFiles(in: folder.url, afterStep: step)
        let tensorBoard = try TensorBoardWriter(directory: folder.url)
        defer { tensorBoard.close() }
        clock = Stopwatch()
        let train = config.train
        let tokensPerStep = Double(train.batchSize * config.model.blockSize)
        let firstStep = step
        var intervalStart = (step: step, time: clock.elapsed)
        var tokensPerSecond = 0.0
        while step < train.maxSteps {
            if StopSignal.pending != 0 {
                let saved = step > 0 ? try saveCheckpoint() : nil
                throw TrainingInterrupted(signal: StopSignal.pending, checkpoint: saved)
            }
            step += 1
            let record = trainStep()
            let logged = train.logInterval > 0 && (step % train.logInterval == 0 || step == train.maxSteps)
            if logged || !record.isFinite {
                let now = clock.elapsed
                tokensPerSecond = Double(step - intervalStart.step) * tokensPerStep / max(now - intervalStart.time, 1e-9)
                intervalStart = (step, now)
                try metrics.append(metricsRecord(record, tokensPerSecond: tokensPerSecond))
                try tensorBoard.add(step: step, scalars: scalars(record, tokensPerSecond: tokensPerSecond))
            }
            if !record.isFinite { try handleNonFinite(record) }   // throws under "stop"; "skip" goes on
            if train.evalInterval > 0 && (step % train.evalInterval == 0 || step == train.maxSteps) {
                let valLoss = evaluate()
                lastValLoss = valLoss
                bestValLoss = min(bestValLoss ?? .infinity, valLoss)
                try metrics.append(MetricsRecord([("step", .integer(step)), ("val_loss", .precise(valLoss))]))
                try tensorBoard.add(step: step, scalars: [("val_loss", Float(valLoss))])
            }
            if step == train.maxSteps {
                try saveCheckpoint()
            } else if train.checkpointInterval > 0 && step % train.checkpointInterval == 0 {
                try savePeriodicCheckpoint()
            }
            let secondsPerStep = clock.elapsed / Double(step - firstStep)
            progress.update(step: step, maxSteps: train.maxSteps, loss: record.loss, valLoss: lastValLoss,
                            gradientNorm: record.gradientNorm, tokensPerSecond: tokensPerSecond,
                            secondsLeft: secondsPerStep * Double(train.maxSteps - step), logged: logged)
        }
        progress.message("done: \(step) steps in \(ConsoleProgress.duration(elapsedBefore + clock.elapsed))"
                         + (bestValLoss.map { ", best val loss \(String(format: "%.4f", $0))" } ?? "")
                         + (skippedSteps > 0 ? ", \(skippedSteps) skipped steps" : ""))
        return TrainingSummary(steps: step, bestValLoss: bestValLoss, lastValLoss: lastValLoss, skippedSteps: skippedSteps)
    }

    /// One optimizer step: batch, forward, backward, clip, AdamW (skipped if not finite).
    func trainStep() -> StepRecord {
        let batch = sampler.next(from: corpus.train, batchSize: config.train.batchSize, length: config.model.blockSize)
        model.zeroGradients()
        let result = dataParallel.lossAndGradients(tokens: batch.inputs, targets: batch.targets,
                                                   batch: batch.batchSize, length: batch.length)
        let (gradientNorm, layerGradientNorms) = model.gradientNorms()
        let record = StepRecord(step: step, loss: result.loss, crossEntropy: result.crossEntropy,
                                learningRate: schedule.rate(at: step), gradientNorm: gradientNorm,
                                layerGradientNorms: layerGradientNorms, attentionLogitMax: result.attentionLogitMax,
                                windowOffsets: batch.offsets)
        recentSteps.append(record)
        if recentSteps.count > 5 { recentSteps.removeFirst() }
        if record.isFinite {
            optimizer.step(learningRate: record.learningRate,
                           gradientScale: AdamW.clipFactor(gradientNorm: gradientNorm, clip: config.optim.gradClip))
        }
        return record
    }

    /// Mean cross-entropy over the fixed validation windows (no tape is recorded).
    public func evaluate() -> Double {
        Evaluation.meanCrossEntropy(model: model, batches: evaluationBatches)
    }

    @discardableResult
    func saveCheckpoint() throws -> URL {
        if let existing = folder.completeCheckpoints().last, existing == folder.checkpoint(step: step) {
            return existing        // this step is saved already (a signal right after a save)
        }
        let url = try Checkpoint.save(model: model, optimizer: optimizer, state: checkpointState, in: folder)
        Checkpoint.prune(folder, keep: config.train.keepCheckpoints)
        return url
    }

    /// A periodic checkpoint whose failure stops the run or, with `on_checkpoint_error =
    /// "continue"`, is reported and training goes on.
    func savePeriodicCheckpoint() throws {
        do {
            try saveCheckpoint()
        } catch {
            guard config.train.onCheckpointError == .continue else { throw error }
            progress.message("warning: \(error); training continues (on_checkpoint_error = \"continue\")")
        }
    }

    /// `stop`: writes the report and throws; `skip`: counts the step (its update was not applied).
    func handleNonFinite(_ record: StepRecord) throws {
        let first = skippedSteps == 0
        if first { try writeNonFiniteReport() }
        switch config.train.onNonfinite {
        case .stop:
            let last = folder.latestCheckpoint().map { "the last checkpoint (\($0.lastPathComponent)) holds the last finite state" } ?? "no checkpoint was written"
            throw RunError("step \(record.step): non-finite \(record.loss.isFinite ? "gradient" : "loss"); stopped (on_nonfinite = \"stop\"); \(last); details in \(folder.nonFiniteReport.path)")
        case .skip:
            skippedSteps += 1
            progress.message("step \(record.step): non-finite \(record.loss.isFinite ? "gradient" : "loss"), update skipped (\(skippedSteps) so far)"
                             + (first ? "; details in \(folder.nonFiniteReport.path)" : ""))
        }
    }

    /// `nonfinite.json`: the failing step and the ones before it, to replay and explain it.
    func writeNonFiniteReport() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeSynced(try encoder.encode(NonFiniteReport(steps: recentSteps, trainSeed: config.train.seed)), to: folder.nonFiniteReport)
    }

    func metricsRecord(_ record: StepRecord, tokensPerSecond: Double) -> MetricsRecord {
        var fields: [(key: String, value: MetricsRecord.Value)] = [
            ("step", .integer(record.step)), ("loss", .number(record.loss)),
        ]
        if config.model.zLoss > 0 { fields.append(("ce_loss", .number(record.crossEntropy))) }
        fields += [
            ("lr", .precise(record.learningRate)),
            ("grad_norm", .number(Float(record.gradientNorm))),
            ("grad_norm_layers", .numbers(record.layerGradientNorms.map(Float.init))),
            ("attn_logit_max", .numbers(record.attentionLogitMax)),
            ("tokens_per_s", .precise(tokensPerSecond.rounded())),
            ("elapsed_s", .precise(((elapsedBefore + clock.elapsed) * 1000).rounded() / 1000)),
        ]
        if skippedSteps > 0 || !record.isFinite { fields.append(("skipped_steps", .integer(skippedSteps + (record.isFinite ? 0 : 1)))) }
        return MetricsRecord(fields)
    }

    func scalars(_ record: StepRecord, tokensPerSecond: Double) -> [(tag: String, value: Float)] {
        var scalars: [(tag: String, value: Float)] = [
            ("loss", record.loss), ("lr", Float(record.learningRate)), ("grad_norm", Float(record.gradientNorm)),
            ("tokens_per_s", Float(tokensPerSecond)),
        ]
        if config.model.zLoss > 0 { scalars.append(("ce_loss", record.crossEntropy)) }
        if skippedSteps > 0 { scalars.append(("skipped_steps", Float(skippedSteps))) }
        for (layer, norm) in record.layerGradientNorms.enumerated() { scalars.append(("grad_norm_layers/\(layer)", Float(norm))) }
        for (layer, logit) in record.attentionLogitMax.enumerated() { scalars.append(("attn_logit_max/\(layer)", logit)) }
        return scalars
    }
}

/// How a `run()` ended.
public struct TrainingSummary {
    public let steps: Int
    public let bestValLoss: Double?
    public let lastValLoss: Double?
    public let skippedSteps: Int
}

/// Contents of `nonfinite.json`.
struct NonFiniteReport: Encodable {
    /// The non-finite step last, with up to four steps before it.
    let steps: [StepRecord]
    /// Seed of the batch sampler (with the window offsets, enough to rebuild every batch).
    let trainSeed: UInt64

    enum CodingKeys: String, CodingKey { case steps, trainSeed = "train_seed" }
}

/// Wall-clock seconds since creation (monotonic).
struct Stopwatch {
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
