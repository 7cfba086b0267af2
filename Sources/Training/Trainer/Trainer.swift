import Autograd
import Formats
import Foundation
import Transformer

/// The training loop: batches, forward/backward, the optimizer, metrics, evaluation, checkpoints.
///
/// A trainer is created for a new run (`Trainer(config:…)`) or from a run folder's latest
/// checkpoint (`Trainer(resuming:…)`); either way `run()` continues to `train.max_steps`.
/// Everything that decides the numbers — weights, moments, the sampler's generator — lives in
/// checkpoints, so a resumed run is bit-identical to one that never stopped.
public final class Trainer {
    public let config: TrainingConfig
    public let folder: RunFolder
    public let model: TransformerModel
    /// Runs each step's forward and backward in `train.shards` batch shards on the kernel threads.
    let dataParallel: DataParallel
    /// Under `mpirun`: this process's share of each step and the exchange of the shards' results.
    let distributed: DistributedStep?
    /// `optim.name`'s optimizer.
    public let optimizer: any Optimizer
    let corpus: Corpus
    /// Where `data.path` was given, recorded in checkpoints so that the corpus is found from
    /// another working folder.
    let corpusOrigin: CorpusOrigin
    let schedule: LearningRateSchedule
    let evaluationBatches: [Batch]
    /// The corpus's bigram loss: the baseline a run must get below to have learned anything.
    public private(set) lazy var bigramLoss = BigramLoss.of(
        train: corpus.train, validation: corpus.validation,
        vocabularySize: corpus.tokenizer.vocabularySize)
    /// The lock on the run folder (and whether this trainer made the folder), held by the process
    /// that writes it; nil on the others.
    let claim: FolderClaim?
    /// What `run()` writes first on the process that writes the folder; nil once written, and on
    /// the others.
    var start: RunStart?
    /// Newer checkpoints a resume passed over as damaged: `run()` sets each aside
    /// (`RunFolder.setAside`), since the resumed run replaces what they held.
    private var damagedCheckpoints: [URL] = []
    var sampler: BatchSampler
    /// Optimizer steps completed.
    public private(set) var step = 0
    var bestValLoss: Double?
    var lastValLoss: Double?
    var skippedSteps = 0
    /// Non-finite steps skipped in a row up to `step` (see `SkipRule`).
    var skippedInARow = 0
    var elapsedBefore = 0.0
    /// The step of the checkpoint this trainer last wrote or resumed from.
    var savedStep: Int?
    /// The last few steps, for the non-finite report.
    var recentSteps: [StepRecord] = []
    /// Rescales q_proj and k_proj after each update, with `optim.qk_clip_tau` > 0.
    lazy var qkClip = config.optim.qkClipTau > 0 ? QKClip(model: model, threshold: Float(config.optim.qkClipTau)) : nil
    /// Measures `update_ratio` on logged steps.
    lazy var updateRatioMeter = UpdateRatioMeter(parameters: model.parameters, layerCount: config.model.nLayer)
    /// The matrices of the per-matrix telemetry, in `model.parameters` and in the meter's list.
    lazy var trackedMatrices = (
        model: TrackedMatrices(parameters: model.parameters, layerCount: config.model.nLayer),
        meter: TrackedMatrices(parameters: updateRatioMeter.parameters, layerCount: config.model.nLayer)
    )
    /// Where the header, progress line and messages go (the console by default).
    public var progress = ConsoleProgress()

    /// A new run in `folder` (created; refused if it already holds a run). With `initialWeights`,
    /// the model starts from those weights instead of its initialisation.
    /// Under `mpirun`, `job` is the job's processes: process 0 alone writes the run folder.
    public init(
        config: TrainingConfig, folder: RunFolder, configSource: String, initialWeights: InitialWeights? = nil,
        job: TrainingJob? = nil
    ) throws {
        try ConfigLoader.checkSchedule(config)
        let writes = job.map { $0.rank == 0 } ?? true
        Self.applyThreads(config.train.threads)
        // What can fail on the user's input (the corpus, the weights of --init-from) comes before
        // the folder is made, so a refused run leaves no empty folder behind.
        corpus = try Corpus(
            path: config.data.path, valFraction: config.data.valFraction, blockSize: config.model.blockSize)
        corpusOrigin = CorpusOrigin(runFolder: folder.url)
        var resolved = config.withScheduleResolved  // fixed now, so extending a run keeps its curve
        resolved.model.vocabSize = corpus.tokenizer.vocabularySize
        resolved.train.shards = config.train.shards ?? System.coreCount  // fixed for the run's life
        self.config = resolved
        self.folder = folder
        model = try TransformerModel(config: resolved.model)
        try initialWeights?.load(model, corpus.tokenizer)
        (dataParallel, distributed) = try Self.shardRunners(model: model, config: resolved, job: job)
        // refuses a folder holding a run, or someone's own files
        claim = writes ? try FolderClaim(newRun: folder) : nil
        optimizer = Self.optimizer(for: model, config: resolved)
        schedule = LearningRateSchedule(resolved)
        sampler = BatchSampler(seed: resolved.train.seed)
        evaluationBatches = BatchSampler.evaluationBatches(
            of: corpus.validation, count: resolved.train.evalBatches,
            batchSize: resolved.train.batchSize, length: resolved.model.blockSize)
        guard writes else {
            progress = ConsoleProgress(quiet: true)
            return
        }
        start = RunStart(
            configText: resolved.resolvedTOML(notes: [corpusNote]),
            configSource: initialWeights.map { "\(configSource), weights from \($0.source)" } ?? configSource,
            lines: ConfigLoader.scheduleWarnings(resolved), resumed: false)
    }

    /// Continues the run in `folder` from its newest intact checkpoint (`Checkpoint.newestIntact`), with `overrides`
    /// (e.g. `train.max_steps=4000`) applied as `ResumePlan` allows: each is applied and said, or
    /// refused with one line. A corpus that changed since the checkpoint is refused.
    /// Under `mpirun`, `job` is the job's processes: each reads the checkpoint, process 0 alone
    /// writes the run folder.
    public init(resuming folder: RunFolder, overrides: [String] = [], job: TrainingJob? = nil) throws {
        let noCheckpoint = RunError("cannot resume \(folder.url.path): \(folder.noCheckpointReason())")
        guard folder.latestCheckpoint() != nil else { throw noCheckpoint }
        let writes = job.map { $0.rank == 0 } ?? true
        claim = writes ? try FolderClaim(resuming: folder) : nil
        guard
            let (files, state, damaged) = try Checkpoint.newestIntact(
                in: folder, reading: RunFolder.checkpointFiles, notes: writes, Checkpoint.decodeResumable)
        else { throw noCheckpoint }
        let checkpoint = files.checkpoint
        let plan = try ResumePlan(state: state, overrides: overrides, folder: folder.url.path)
        let config = plan.config
        Self.applyThreads(config.train.threads)
        (corpus, corpusOrigin) = try Corpus.ofRun(
            state, runFolder: folder.url, named: plan.namedCorpus,
            purpose: "resuming would train and validate on other text; restore the file, or start a new run",
            howToName: "name the file with --set data.path=FILE")
        self.config = config
        self.folder = folder
        model = try TransformerModel(config: config.model)
        (dataParallel, distributed) = try Self.shardRunners(model: model, config: config, job: job)
        optimizer = Self.optimizer(for: model, config: config)
        try Checkpoint.restore(model: model, optimizer: optimizer, from: files)
        optimizer.stepCount = state.optimizerSteps
        schedule = LearningRateSchedule(config)
        sampler = state.sampler
        step = state.step
        savedStep = state.step
        bestValLoss = state.bestValLoss
        skippedSteps = state.skippedSteps
        skippedInARow = state.skippedInARow ?? 0
        elapsedBefore = state.elapsedSeconds
        evaluationBatches = BatchSampler.evaluationBatches(
            of: corpus.validation, count: config.train.evalBatches,
            batchSize: config.train.batchSize, length: config.model.blockSize)
        guard writes else {
            progress = ConsoleProgress(quiet: true)
            return
        }
        let resumeLine = plan.line(step: step)
        let corpusLines =
            state.corpus == nil
            ? [
                "the checkpoint predates corpus fingerprints: only the corpus's vocabulary was checked (it matches); recorded from now on: \(corpus.fingerprint)"
            ] : []
        damagedCheckpoints = damaged
        let setAsideLines = damaged.map {
            "the damaged \($0.lastPathComponent) is kept as \(folder.setAside(damaged: $0).path), out of the run's checkpoints"
        }
        start = RunStart(
            configText: config.resolvedTOML(notes: [corpusNote, resumeLine]),
            configSource: "resumed from \(checkpoint.path)",
            lines: [resumeLine] + setAsideLines + plan.warnings + corpusLines, resumed: true)
    }

    /// The checkpoint state after the current step.
    var checkpointState: CheckpointState {
        CheckpointState(
            step: step, optimizerSteps: optimizer.stepCount, sampler: sampler, tokenizer: corpus.tokenizer,
            corpus: corpus.fingerprint, corpusOrigin: corpusOrigin, config: config, bestValLoss: bestValLoss,
            skippedSteps: skippedSteps,
            skippedInARow: skippedInARow, elapsedSeconds: elapsedBefore + clock.elapsed)
    }

    private var clock = Stopwatch()

    /// Trains to `train.max_steps`, logging, evaluating and checkpointing on the way.
    /// Throws `TrainingInterrupted` after a SIGINT/SIGTERM (a checkpoint is saved first), and a
    /// `RunError` on a non-finite step under `on_nonfinite = "stop"`, or under "skip" when
    /// `SkipRule` says the run has failed (no final checkpoint is written then).
    @discardableResult
    public func run() throws -> TrainingSummary {
        if let start {
            if start.resumed { try MetricsLog.truncate(folder.metrics, afterStep: step) }
            for damaged in damagedCheckpoints {
                let aside = folder.setAside(damaged: damaged)
                try? FileManager.default.removeItem(at: aside)  // an earlier one of the same step
                try FileIO.move(damaged, to: aside)
            }
            try writeSynced(Data(start.configText.utf8), to: folder.config)
            try writeHeader(configSource: start.configSource, lines: start.lines)
            self.start = nil
        }
        let writes = writesRunFolder
        let metrics = writes ? try MetricsLog(url: folder.metrics) : nil
        // The TensorBoard view equals metrics.jsonl: a resumed run's steps after its checkpoint
        // leave the old event files, and the new file sorts after them.
        if writes { try TensorBoardWriter.truncateEventFiles(in: folder.url, afterStep: step) }
        let train = config.train
        // A part that trains no step (a finished run resumed) leaves no event file behind.
        let tensorBoard = writes && step < train.maxSteps ? try TensorBoardWriter(directory: folder.url) : nil
        defer { tensorBoard?.close() }
        clock = Stopwatch()
        let tokensPerStep = Double(train.batchSize * config.model.blockSize)
        let firstStep = step
        var intervalStart = (step: step, time: clock.elapsed)
        var tokensPerSecond = 0.0
        if step == 0 {  // facts of the run before any step: the corpus's baseline and the model's size
            try metrics?.append(
                MetricsRecord([
                    ("step", .integer(0)), ("bigram_loss", .precise(bigramLoss)),
                    ("non_embedding_parameters", .integer(model.parameters.nonEmbeddingScalarCount)),
                ]))
        }
        while step < train.maxSteps {
            let stop = distributed?.agreedStopSignal(StopSignal.pending) ?? StopSignal.pending
            if stop != 0 {
                let saved = step > 0 && hasTrained ? try saveCheckpoint() : nil
                throw together(TrainingInterrupted(signal: stop, checkpoint: saved))
            }
            step += 1
            // Step 1 is always logged: its loss is the model's before any update (a sweep's initial loss).
            let logged = step == 1 || train.logInterval > 0 && (step % train.logInterval == 0 || step == train.maxSteps)
            let record = trainStep(measuring: logged)
            if logged || !record.isFinite {
                let now = clock.elapsed
                tokensPerSecond =
                    Double(step - intervalStart.step) * tokensPerStep / max(now - intervalStart.time, 1e-9)
                intervalStart = (step, now)
                try metrics?.append(metricsRecord(record, tokensPerSecond: tokensPerSecond))
                try tensorBoard?.add(step: step, scalars: scalars(record, tokensPerSecond: tokensPerSecond))
            }
            if !record.isFinite { try handleNonFinite(record) }  // throws under "stop"; "skip" goes on
            if train.evalInterval > 0 && (step % train.evalInterval == 0 || step == train.maxSteps) {
                let valLoss = evaluate()
                lastValLoss = valLoss
                bestValLoss = min(bestValLoss ?? .infinity, valLoss)
                try metrics?.append(MetricsRecord([("step", .integer(step)), ("val_loss", .precise(valLoss))]))
                try tensorBoard?.add(step: step, scalars: [("val_loss", Float(valLoss))])
            }
            if step == train.maxSteps {
                guard hasTrained else {
                    throw together(SkipRule.nothingLearned(steps: step, report: folder.nonFiniteReport))
                }
                try saveCheckpoint()
            } else if train.checkpointInterval > 0 && step % train.checkpointInterval == 0 {
                if hasTrained {
                    try savePeriodicCheckpoint()
                } else {
                    progress.message(SkipRule.checkpointNotWritten(step: step))
                }
            }
            let secondsPerStep = clock.elapsed / Double(step - firstStep)
            progress.update(
                step: step, maxSteps: train.maxSteps, loss: record.loss, valLoss: lastValLoss,
                gradientNorm: record.gradientNorm, tokensPerSecond: tokensPerSecond,
                secondsLeft: secondsPerStep * Double(train.maxSteps - step), logged: logged)
        }
        progress.message(
            "done: \(counted(step, "step")) in \(ConsoleProgress.duration(elapsedBefore + clock.elapsed))"
                + (bestValLoss.map { ", best val loss \(String(format: "%.4f", $0))" } ?? "")
                + (skippedSteps > 0 ? ", \(counted(skippedSteps, "skipped step"))" : ""))
        if let distributed { progress.message(distributed.summary) }
        return TrainingSummary(
            steps: step, bestValLoss: bestValLoss, lastValLoss: lastValLoss, skippedSteps: skippedSteps)
    }

    /// One optimizer step: batch, forward, backward, clip, update (skipped if not finite). With
    /// `measuring` (a logged step) it records the stability telemetry; a non-finite step that was
    /// not measured is measured afterwards by a forward pass over the same batch and weights, so
    /// that `nonfinite.json` explains it.
    func trainStep(measuring: Bool) -> StepRecord {
        let batch = sampler.next(from: corpus.train, batchSize: config.train.batchSize, length: config.model.blockSize)
        model.zeroGradients()
        let result =
            distributed?.lossAndGradients(dataParallel, batch: batch, measuring: measuring)
            ?? dataParallel.lossAndGradients(
                tokens: batch.inputs, targets: batch.targets,
                batch: batch.batchSize, length: batch.length, measuring: measuring)
        let (gradientNorm, layerGradientNorms, gradientSquares) = model.gradientNorms()
        var record = StepRecord(
            step: step, loss: result.loss, crossEntropy: result.crossEntropy,
            learningRate: schedule.rate(at: step), gradientNorm: gradientNorm,
            layerGradientNorms: layerGradientNorms, attentionLogitMax: result.attentionLogitMax,
            windowOffsets: batch.offsets)
        if record.isFinite {
            if measuring { updateRatioMeter.snapshot() }
            optimizer.step(
                learningRate: record.learningRate,
                gradientScale: GradientClip.factor(gradientNorm: gradientNorm, clip: config.optim.gradClip))
            record.qkClip = qkClip?.apply(scoreMax: result.attentionScoreMax)
            skippedInARow = 0
        }
        let telemetry =
            result.telemetry
            ?? (record.isFinite
                ? nil
                : Tape.withoutGradients {
                    model.loss(
                        tokens: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: batch.length,
                        measuring: true
                    ).telemetry
                })
        let update = measuring && record.isFinite ? updateRatioMeter.squares() : nil
        let matrices =
            measuring
            ? MatrixTelemetry(
                gradientRMS: trackedMatrices.model.rms(gradientSquares),
                updateRMS: update.map { trackedMatrices.meter.rms($0.update, scale: 1 / record.learningRate) },
                parameterRMS: update.map { trackedMatrices.meter.rms($0.weight) }) : nil
        record.telemetry = telemetry.map {
            StepTelemetry(
                $0, updateRatio: update.map(updateRatioMeter.ratios), matrices: matrices,
                attentionSoftcapped: model.config.attnSoftcap > 0)
        }
        recentSteps.append(record)
        if recentSteps.count > 5 { recentSteps.removeFirst() }
        return record
    }

    /// Mean cross-entropy over the fixed validation windows (no tape is recorded).
    public func evaluate() -> Double {
        Evaluation.meanCrossEntropy(model: model, batches: evaluationBatches)
    }

    @discardableResult
    func saveCheckpoint() throws -> URL {
        defer { distributed?.job.barrier() }  // under mpirun, every process waits for process 0's checkpoint
        guard writesRunFolder else { return folder.checkpoint(step: step) }
        // This step is saved already (a signal right after a save, or right after resuming). A
        // newer checkpoint a resume passed over as damaged is written anew.
        if savedStep == step { return folder.checkpoint(step: step) }
        let url = try Checkpoint.save(model: model, optimizer: optimizer, state: checkpointState, in: folder)
        savedStep = step
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
        if first && writesRunFolder { try writeNonFiniteReport() }
        switch config.train.onNonfinite {
        case .stop:
            let last =
                folder.latestCheckpoint().map {
                    "the last checkpoint (\($0.lastPathComponent)) holds the last finite state"
                } ?? "no checkpoint was written"
            throw together(
                RunError(
                    "step \(record.step): non-finite \(record.loss.isFinite ? "gradient" : "loss"); stopped (on_nonfinite = \"stop\"); \(last); details in \(folder.nonFiniteReport.path)"
                ))
        case .skip:
            skippedSteps += 1
            skippedInARow += 1
            if skippedInARow >= SkipRule.maxInARow {
                throw together(
                    SkipRule.stuck(
                        step: record.step, lastCheckpoint: folder.latestCheckpoint(), report: folder.nonFiniteReport))
            }
            progress.message(
                "step \(record.step): non-finite \(record.loss.isFinite ? "gradient" : "loss"), update skipped (\(skippedSteps) so far)"
                    + (first ? "; details in \(folder.nonFiniteReport.path)" : ""))
        }
    }

    /// `nonfinite.json`: the failing step and the ones before it, to replay and explain it.
    func writeNonFiniteReport() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeSynced(
            try encoder.encode(NonFiniteReport(steps: recentSteps, trainSeed: config.train.seed)),
            to: folder.nonFiniteReport)
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
        ]
        fields += record.qkClip?.metricsFields ?? []
        fields += record.telemetry?.metricsFields ?? []
        fields += [
            ("tokens_per_s", .precise(tokensPerSecond.rounded())),
            ("elapsed_s", .precise(((elapsedBefore + clock.elapsed) * 1000).rounded() / 1000)),
        ]
        if skippedSteps > 0 || !record.isFinite {
            fields.append(("skipped_steps", .integer(skippedSteps + (record.isFinite ? 0 : 1))))
        }
        return MetricsRecord(fields)
    }

    func scalars(_ record: StepRecord, tokensPerSecond: Double) -> [(tag: String, value: Float)] {
        var scalars: [(tag: String, value: Float)] = [
            ("loss", record.loss), ("lr", Float(record.learningRate)), ("grad_norm", Float(record.gradientNorm)),
            ("tokens_per_s", Float(tokensPerSecond)),
        ]
        if config.model.zLoss > 0 { scalars.append(("ce_loss", record.crossEntropy)) }
        if skippedSteps > 0 { scalars.append(("skipped_steps", Float(skippedSteps))) }
        for (layer, norm) in record.layerGradientNorms.enumerated() {
            scalars.append(("grad_norm_layers/\(layer)", Float(norm)))
        }
        for (layer, logit) in record.attentionLogitMax.enumerated() {
            scalars.append(("attn_logit_max/\(layer)", logit))
        }
        return scalars + (record.qkClip?.scalars ?? []) + (record.telemetry?.scalars ?? [])
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

    enum CodingKeys: String, CodingKey {
        case steps
        case trainSeed = "train_seed"
    }
}

/// Wall-clock seconds since creation (monotonic).
struct Stopwatch {
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
