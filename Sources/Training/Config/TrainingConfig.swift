import Transformer

/// Everything a run needs, one struct per TOML section. Defaults follow model.md and interface.md.
public struct TrainingConfig: Equatable, Codable, Sendable {
    public var model = ModelConfig()
    public var data = DataConfig()
    public var optim = OptimizerConfig()
    public var train = TrainConfig()
    public var run = RunConfig()

    public init() {}
}

/// `[data]`: the corpus and its split.
public struct DataConfig: Equatable, Codable, Sendable {
    /// Text file, UTF-8; relative paths are relative to the working directory.
    public var path = "data/tinyshakespeare.txt"
    /// The last `val_fraction` of the corpus is the validation split.
    public var valFraction = 0.1

    public init() {}
}

/// `[optim]`: AdamW and the learning-rate schedule (model.md).
public struct OptimizerConfig: Equatable, Codable, Sendable {
    /// Peak learning rate.
    public var lr = 1e-3
    /// Final learning rate; nil means lr / 10.
    public var minLR: Double? = nil
    public var warmupSteps = 100
    /// Step at which the cosine reaches min_lr; nil means max_steps.
    public var decaySteps: Int? = nil
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var eps = 1e-8
    public var weightDecay = 0.1
    /// Global-norm clip (0 = off).
    public var gradClip = 1.0

    public init() {}
}

/// `[train]`: the loop.
public struct TrainConfig: Equatable, Codable, Sendable {
    /// What to do when a loss or gradient is not finite.
    public enum NonFinitePolicy: String, Codable, CaseIterable, Sendable { case stop, skip }

    public var batchSize = 12
    public var maxSteps = 2000
    /// Seed of the batch sampler (the model's initialisation has its own, `model.seed`).
    public var seed: UInt64 = 1337
    /// Threads for BLAS and QKLab's kernels (0 = all cores).
    public var threads = 0
    public var logInterval = 10
    public var evalInterval = 250
    public var evalBatches = 20
    public var checkpointInterval = 500
    public var keepCheckpoints = 3
    public var onNonfinite = NonFinitePolicy.stop
    /// What to do when writing a periodic checkpoint fails (e.g. a full disk): stop, or warn
    /// and keep training (the previous checkpoint stays intact either way).
    public var onCheckpointError = CheckpointErrorPolicy.stop

    public enum CheckpointErrorPolicy: String, Codable, CaseIterable, Sendable { case stop, `continue` }

    public init() {}
}

/// `[run]`: where the run folder goes.
public struct RunConfig: Equatable, Codable, Sendable {
    /// Folder name under `dir`; empty means the config file's name.
    public var name = ""
    public var dir = "runs"

    public init() {}
}
