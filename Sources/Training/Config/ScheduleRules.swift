import Formats
import Foundation

/// What QKLab refuses and warns about in a learning-rate schedule before step 1, and how it
/// describes the schedule in config.toml and on `--resume`.
///
/// Refused (one line, the run never starts): `min_lr > lr` (in `ConfigLoader.validate`), and an
/// explicit `decay_steps ≤ warmup_steps` when there is a warmup that ends before `max_steps` —
/// the cosine would have no step, and the rate would fall from `lr` to `min_lr` in one step. (A
/// run that ends within its warmup never gets there: the run's own resolved config.toml, which
/// writes `decay_steps = max_steps` out, must load again.) Warned about (the run starts):
/// `warmup_steps ≥ max_steps`, where the rate never reaches `lr` — legitimate for a quick
/// shortened run of a long config, almost never meant for a real one.
extension ConfigLoader {
    /// Throws for a schedule that makes no sense (see above). `decay_steps` left out (nil) is
    /// `max_steps`, which this does not refuse: `scheduleWarnings` says what happens then.
    public static func checkSchedule(_ config: TrainingConfig) throws {
        let optim = config.optim
        if let decay = optim.decaySteps, optim.warmupSteps > 0, decay <= optim.warmupSteps,
            optim.warmupSteps < config.train.maxSteps
        {
            throw ConfigError(
                "[optim] decay_steps (\(decay)) must be greater than warmup_steps (\(optim.warmupSteps)): "
                    + "the cosine would have no step and the rate would drop from lr to min_lr at once; set optim.decay_steps above it"
            )
        }
    }

    /// One line per legal but doubtful choice of `config`'s schedule (empty if none).
    public static func scheduleWarnings(_ config: TrainingConfig) -> [String] {
        let schedule = LearningRateSchedule(config), maxSteps = config.train.maxSteps
        guard schedule.warmupSteps >= maxSteps else { return [] }
        let last = LearningRateSchedule.format(schedule.rate(at: maxSteps))
        return [
            "warning: optim.warmup_steps (\(schedule.warmupSteps)) ≥ train.max_steps (\(maxSteps)): the learning rate "
                + "never reaches its peak \(LearningRateSchedule.format(schedule.peak)) (step \(maxSteps) trains at \(last))"
        ]
    }
}

extension LearningRateSchedule {
    /// The curve in words: "warmup 10 steps to 0.003, cosine to min_lr 0.0003 at step 60, then constant".
    public var summary: String {
        let warmup =
            warmupSteps > 0
            ? "warmup \(counted(warmupSteps, "step")) to \(Self.format(peak)), " : "\(Self.format(peak)) from step 1, "
        return warmup + "cosine to min_lr \(Self.format(minimum)) at step \(decaySteps), then constant"
    }

    /// Learning rates of `steps` (optimizer steps, from 1).
    func rates(_ steps: ClosedRange<Int>) -> [Double] { steps.map(rate(at:)) }

    /// A rate for messages: 4 significant digits ("0.003", "0.0007118").
    static func format(_ rate: Double) -> String { String(format: "%.4g", rate) }
}

extension TrainingConfig {
    /// `min_lr` and `decay_steps` written out (lr / 10 and max_steps when left out), as a new run
    /// fixes them at its start: extending `max_steps` later leaves the curve where it was.
    var withScheduleResolved: TrainingConfig {
        var resolved = self
        resolved.optim.minLR = optim.minLR ?? optim.lr / 10
        resolved.optim.decaySteps = optim.decaySteps ?? train.maxSteps
        return resolved
    }
}
