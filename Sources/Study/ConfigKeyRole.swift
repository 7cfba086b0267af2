/// What a config key can do to a run's numbers — the one place that says which keys define an
/// experiment. `compare` groups runs into variants by the `numeric` keys (seeds aside); `sweep`
/// refuses two points that differ only in `bookkeeping` keys (they are one run) and reuses a
/// point whose recorded config differs from its sweep file only in `bookkeeping` keys.
///
/// Checked when this list was written: the smoke config trained with `log_interval` 7,
/// `eval_interval` 0 and 7, `checkpoint_interval` 0 and 3 with `keep_checkpoints` 1 logged the
/// same losses at every common step and the same final validation loss, bit for bit.
public enum ConfigKeyRole: Equatable {
    /// Changes nothing a run computes or records: where the run is stored, how often and how
    /// many checkpoints are kept, what happens when one cannot be written, and how many
    /// threads run the step. (`train.shards`, which splits the batch and so the rounding of
    /// its sums, is numeric; threads only decide where the shards run.)
    case bookkeeping
    /// Changes no weight and no loss, only which steps are measured: `log_interval` picks the
    /// steps whose training loss, gradient norms and attention logits are logged (so the
    /// largest logged attention logit and the loss spikes are taken over different steps),
    /// `eval_interval` the steps with a validation loss (0: none, and then a run's last loss is
    /// a training batch's).
    case sampling
    /// Can change the numbers. Every key not listed below, including keys this version does
    /// not know, so that an unknown key splits variants rather than merging different runs.
    case numeric

    public static let bookkeepingKeys: Set<String> = [
        "train.threads", "train.checkpoint_interval", "train.keep_checkpoints", "train.on_checkpoint_error",
    ]
    public static let samplingKeys: Set<String> = ["train.log_interval", "train.eval_interval"]

    /// The role of `section.key`. Every `[run]` key is bookkeeping (it names the run's folder).
    public static func of(_ path: String) -> ConfigKeyRole {
        if path.hasPrefix("run.") || bookkeepingKeys.contains(path) { return .bookkeeping }
        return samplingKeys.contains(path) ? .sampling : .numeric
    }
}
