import Formats
import Foundation

/// What `--set` may change on `--resume`, and the config a resumed run continues with
/// (docs/resume-and-determinism.md). Every override is either applied and said — in the resume line,
/// run.txt and config.toml — or refused with one line naming the reason; none is accepted
/// silently and then ignored.
///
/// - Fixed for the run's life (refused): `[model]` (the checkpoint's weights are that model's),
///   `[data]` (the corpus and its split; `data.path` may name the same file elsewhere: the same
///   size and hash, `Corpus.ofRun`), `train.seed` (the sampler continues from its saved
///   state), `train.shards` (the batch split decides the numbers), `train.batch_size` and
///   `train.eval_batches` (they decide the fixed validation windows: val_loss before and after
///   the change, and best_val_loss across it, would measure different text), `run.*` (a resumed
///   run stays in its folder, so they would do nothing).
/// - `train.max_steps`: any value ≥ the checkpoint's step; `decay_steps` and `min_lr` stay what
///   they were fixed to when the run started, so extending a run continues at `min_lr` after
///   `decay_steps`.
/// - `optim.lr`, `min_lr`, `warmup_steps`, `decay_steps`: the schedule is a function of the step
///   (`LearningRateSchedule`), and the resumed run follows the new function from the next step
///   on — e.g. a new `lr` continues the cosine at the same phase with the new peak. An override
///   that leaves the rate of every remaining step as it was (a new `lr` after `decay_steps`) is
///   refused, saying why.
/// - Other `[optim]` keys: from the next step. `train.threads` (only where shards run), the
///   log, eval and checkpoint intervals, `keep_checkpoints`, `on_nonfinite`,
///   `on_checkpoint_error`: from the next step.
/// - An `[optim]` change when no step remains (`max_steps` = the checkpoint's step) is refused:
///   nothing would train with it.
public struct ResumePlan {
    /// The config the run continues with.
    public let config: TrainingConfig
    /// One entry per changed key: "optim.lr 0.003 → 0.01".
    public let changes: [String]
    /// What the resumed steps' learning rate does, when a key that shapes it changed.
    public let schedule: String?
    /// Warnings about the new schedule (see `ConfigLoader.scheduleWarnings`).
    public let warnings: [String]
    /// Other facts worth a line (the shard count of a checkpoint from before `train.shards`).
    public let notes: [String]
    /// The corpus file named by `--set data.path=`: accepted only when it has the size and hash
    /// the checkpoint recorded (`Corpus.ofRun`), as when the corpus moved.
    public var namedCorpus: String? { changes.contains { $0.hasPrefix("data.path ") } ? config.data.path : nil }

    /// Keys that may never change on resume, with the reason.
    static let fixedKeys: [String: String] = [
        "train.seed": "the batch sampler continues from the checkpoint's state",
        "optim.name": "the checkpoint holds that optimizer's state (moments, momentum buffers)",
        "train.shards": "the batch split into shards decides the run's numbers (threads only decide where shards run)",
        "train.batch_size":
            "it decides the fixed validation windows, so val_loss and best_val_loss before and after would measure different text",
        "train.eval_batches":
            "it decides the fixed validation windows, so val_loss and best_val_loss before and after would measure different text",
    ]
    /// Keys that shape the learning rate of the remaining steps.
    static let scheduleKeys = ["optim.lr", "optim.min_lr", "optim.warmup_steps", "optim.decay_steps"]

    /// Applies `overrides` to the checkpoint's config in `state`, refusing what may not change.
    /// `folder` names the run in messages.
    public init(state: CheckpointState, overrides: [String], folder: String) throws {
        var base = state.config.withScheduleResolved  // older runs left them to be derived
        var notes: [String] = []
        let legacyShards = base.train.shards == nil
        if legacyShards, base.train.threads > 0 {
            base.train.shards = base.train.threads  // before train.shards, a step ran as one shard per thread
            notes.append(
                "the checkpoint predates train.shards: its steps ran as \(counted(base.train.threads, "shard")) (its train.threads), and the run keeps that"
            )
        }
        var config = base
        var keys: [String] = []
        for override in overrides {
            try ConfigLoader.apply(override: override, to: &config)
            let path = String(override.prefix { $0 != "=" }).trimmingCharacters(in: .whitespaces)
            if !keys.contains(path) { keys.append(path) }
        }
        config.model.vocabSize = base.model.vocabSize
        let step = state.step
        var changes: [String] = [], changed: Set<String> = []
        for path in keys {
            let key = ConfigSchema.key(path)!
            let (before, after) = (key.read(base), key.read(config))
            guard before != after else { continue }
            let change = "\(path) \(Self.shown(before, beside: after)) → \(Self.shown(after, beside: before))"
            let refuse = { (reason: String) in ConfigError("cannot resume with \(change): \(reason)") }
            switch key.section {
            case "model":
                throw ConfigError(
                    "cannot resume with a different [model] (\(change)): the checkpoint's weights are that model's; start a new run instead"
                )
            case "data" where path == "data.path":
                guard state.corpus != nil else {
                    throw refuse(
                        "the checkpoint predates corpus fingerprints, so another file cannot be proven to be the run's corpus; restore it at \(state.config.data.path)"
                    )
                }
            case "data":
                throw ConfigError(
                    "cannot resume with a different [data] section (\(change)): the corpus and its split are the run's; start a new run instead"
                )
            case "run": throw refuse("\(path) does nothing on --resume (the run stays in \(folder))")
            default: break
            }
            if path == "train.shards", legacyShards, base.train.shards == nil {
                notes.append(
                    "the checkpoint predates train.shards and ran with train.threads = 0: its shard count is taken from --set train.shards=\(config.train.shards!)"
                )
            } else if let reason = Self.fixedKeys[path] {
                throw refuse("\(reason); start a new run instead")
            }
            if path == "train.max_steps", config.train.maxSteps < step {
                throw refuse("the checkpoint is at step \(step) already; max_steps may not go below it")
            }
            changes.append(change)
            changed.insert(path)
        }
        if config.train.shards == nil {
            throw ConfigError(
                "cannot resume \(folder): its checkpoint predates train.shards and ran with train.threads = 0 (all cores), "
                    + "so the shard count its numbers depend on is unknown; resume with --set train.shards=N, N the core count of the machine it ran on"
            )
        }
        try ConfigLoader.validate(config)
        // A longer run can take a short run's schedule past its warmup: checked as a new run's.
        if !changed.isDisjoint(with: ["optim.warmup_steps", "optim.decay_steps", "train.max_steps"]) {
            try ConfigLoader.checkSchedule(config)
        }

        // The learning rate of the remaining steps, before and after.
        let remaining = (step + 1)...max(step + 1, config.train.maxSteps)
        let noStepLeft = config.train.maxSteps <= step
        if noStepLeft, let optim = changed.sorted().first(where: { $0.hasPrefix("optim.") }) {
            throw ConfigError(
                "cannot resume with \(changes.first { $0.hasPrefix(optim + " ") }!): the run is at train.max_steps (\(config.train.maxSteps)) already, "
                    + "so no step would train with it; raise train.max_steps too")
        }
        let schedule = LearningRateSchedule(config)
        let newRates = schedule.rates(remaining)
        for path in Self.scheduleKeys where changed.contains(path) {
            var without = config
            ConfigSchema.key(path)!.write(&without, ConfigSchema.key(path)!.read(base)!)
            // A change the others need to make sense (a later decay_steps for a later warmup) has an effect.
            guard (try? ConfigLoader.checkSchedule(without)) != nil, (try? ConfigLoader.validate(without)) != nil,
                LearningRateSchedule(without).rates(remaining) == newRates
            else { continue }
            let change = changes.first { $0.hasPrefix(path + " ") }!
            throw ConfigError(
                "cannot resume with \(change): it would change nothing: \(Self.whyUnchanged(path, schedule, remaining))"
            )
        }
        let shapesSchedule = !noStepLeft && !changed.isDisjoint(with: Self.scheduleKeys + ["train.max_steps"])
        self.schedule =
            shapesSchedule
            ? "learning rate \(LearningRateSchedule.format(LearningRateSchedule(base).rate(at: max(step, 1)))) at step \(step), "
                + "then \(LearningRateSchedule.format(newRates.first!)) at step \(remaining.lowerBound) → \(LearningRateSchedule.format(newRates.last!)) at step \(remaining.upperBound) "
                + "(\(schedule.summary))"
            : nil
        warnings = shapesSchedule ? ConfigLoader.scheduleWarnings(config) : []
        self.config = config
        self.changes = changes
        self.notes = notes
    }

    /// A value for the resume line, numbers as `ConfigLoader.shortNumber` writes them.
    static func shown(_ value: ConfigValue?, beside other: ConfigValue?) -> String {
        guard let value else { return "unset" }
        if case .real(let number) = value {
            if case .real(let otherNumber)? = other { return ConfigLoader.shortNumber(number, beside: otherNumber) }
            return ConfigLoader.shortNumber(number, beside: nil)
        }
        return "\(value)"
    }

    /// Why changing `path` leaves the rate of `steps` as it was under `schedule`.
    static func whyUnchanged(_ path: String, _ schedule: LearningRateSchedule, _ steps: ClosedRange<Int>) -> String {
        let range = "steps \(steps.lowerBound)–\(steps.upperBound)"
        if steps.lowerBound > schedule.decaySteps {
            return
                "\(range) are past decay_steps = \(schedule.decaySteps), where the rate is min_lr = \(LearningRateSchedule.format(schedule.minimum)); "
                + "set optim.min_lr for another constant rate, or optim.decay_steps for a new cosine"
        }
        if steps.upperBound <= schedule.warmupSteps {
            return
                "\(range) are all in the warmup (to step \(schedule.warmupSteps)), which neither min_lr nor decay_steps shape"
        }
        return "the learning rate of \(range) would be the same"
    }

    /// The one line printed and written to run.txt: "resumed at step 60: optim.lr 0.003 → 0.01; learning rate …".
    public func line(step: Int) -> String {
        var parts = [
            "resumed at step \(step): " + (changes.isEmpty ? "no config change" : changes.joined(separator: ", "))
        ]
        if let schedule { parts.append(schedule) }
        return (parts + notes).joined(separator: "; ")
    }
}
