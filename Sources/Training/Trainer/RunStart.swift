/// What a trainer's `run()` writes first, on the process that writes the run folder: `config.toml`,
/// and the header printed and written to `run.txt`; on resume the metrics past the checkpoint are
/// cut first. It is kept until `run()` begins, so that a start another process of the job refuses
/// leaves the folder as it was (`Trainer.abandonStart`).
struct RunStart {
    /// The resolved config, as config.toml holds it.
    let configText: String
    /// The header's `config` field: the config file (and `--init-from` weights), or the checkpoint
    /// a resume starts from.
    let configSource: String
    /// Printed and written to `run.txt` after the header: the resume line, warnings.
    let lines: [String]
    /// Whether the run resumes (its metrics past the checkpoint are cut first).
    let resumed: Bool
}
