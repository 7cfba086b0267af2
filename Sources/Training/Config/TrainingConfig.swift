import Formats
import Transformer

/// Everything a run needs, one struct per TOML section. Defaults follow docs/spec/model.md and docs/configuration.md.
///
/// In a checkpoint's state.json it is stored as in config.toml — sections of snake_case keys,
/// every key written — and read back tolerantly: a key missing from an older file takes its
/// default, and every value is range-checked as if it came from a config file.
public struct TrainingConfig: Equatable, Codable, Sendable {
    public var model = ModelConfig()
    public var data = DataConfig()
    public var optim = OptimizerConfig()
    public var train = TrainConfig()
    public var run = RunConfig()

    public init() {}

    public func encode(to encoder: Encoder) throws {
        var sections = encoder.container(keyedBy: NameKey.self)
        for section in ConfigSchema.sections {
            var keys = sections.nestedContainer(keyedBy: NameKey.self, forKey: NameKey(section))
            if section == "model" { try keys.encode(model.vocabSize, forKey: NameKey("vocab_size")) }
            for key in ConfigSchema.keys where key.section == section {
                switch key.read(self) {
                case .integer(let v)?: try keys.encode(v, forKey: NameKey(key.name))
                case .real(let v)?: try keys.encode(v, forKey: NameKey(key.name))
                case .text(let v)?: try keys.encode(v, forKey: NameKey(key.name))
                case .flag(let v)?: try keys.encode(v, forKey: NameKey(key.name))
                case nil: try keys.encodeNil(forKey: NameKey(key.name))
                }
            }
        }
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let sections = try decoder.container(keyedBy: NameKey.self)
        for section in ConfigSchema.sections where sections.contains(NameKey(section)) {
            let keys = try sections.nestedContainer(keyedBy: NameKey.self, forKey: NameKey(section))
            if section == "model", let vocabulary = try keys.decodeIfPresent(Int.self, forKey: NameKey("vocab_size")) {
                model.vocabSize = vocabulary
            }
            for key in ConfigSchema.keys where key.section == section {
                guard let value = try decodeValue(of: key, from: keys) else { continue }
                if let problem = ConfigLoader.rangeProblem(value, for: key) {
                    throw ConfigError("\(key.path) \(problem)")
                }
                key.write(&self, value)
            }
        }
    }

    private func decodeValue(of key: ConfigKey, from keys: KeyedDecodingContainer<NameKey>) throws -> ConfigValue? {
        let name = NameKey(key.name)
        guard keys.contains(name), try !keys.decodeNil(forKey: name) else { return nil }
        switch key.kind {
        case .integer: return .integer(try keys.decode(Int.self, forKey: name))
        case .real: return .real(try keys.decode(Double.self, forKey: name))
        case .text, .choice: return .text(try keys.decode(String.self, forKey: name))
        case .flag: return .flag(try keys.decode(Bool.self, forKey: name))
        }
    }

    /// A section or key name as written in the file.
    struct NameKey: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

/// `[data]`: the corpus and its split.
public struct DataConfig: Equatable, Sendable {
    /// Text file, UTF-8; relative paths are relative to the working directory.
    public var path = "data/tinyshakespeare.txt"
    /// The last `val_fraction` of the corpus is the validation split.
    public var valFraction = 0.1

    public init() {}
}

/// `[optim]`: the optimizer and the learning-rate schedule (docs/spec/model.md).
public struct OptimizerConfig: Equatable, Sendable {
    /// The optimizer: `adamw`, or `muon` (Muon on the layers' matrices, AdamW on the rest).
    public var name = Name.adamw
    /// With `muon`: the peak learning rate of the parameters AdamW trains (embeddings, head, norm
    /// gains); `lr` is Muon's. Unset with `adamw`.
    public var adamWLR: Double? = nil
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
    /// How weight decay scales with the learning rate (docs/spec/model.md): `coupled` (PyTorch's AdamW,
    /// `p ← p·(1 − lr(s)·wd)`) or `independent` (Wortsman et al. 2023, `p ← p·(1 − lr(s)/lr·wd)`).
    public var weightDecayMode = WeightDecayMode.coupled
    /// Whether norm weights (1-D) are decayed too (Qwen3-Next, with `norm_weight = "offset"`).
    public var decayNormWeights = false
    /// Global-norm clip (0 = off).
    public var gradClip = 1.0
    /// µParam (simple)'s base width D0 (0 = off): every linear-layer matrix's AdamW update is
    /// multiplied by its base fan-in over its fan-in (`MuParam`).
    public var mupBaseWidth = 0
    /// QK-Clip's threshold τ on each head's largest attention logit (0 = off; `QKClip`).
    public var qkClipTau = 0.0

    /// docs/spec/model.md's `weight_decay_mode`: whether the decay per step is scaled by the peak learning rate.
    public enum WeightDecayMode: String, Codable, CaseIterable, Sendable {
        /// `p ← p·(1 − lr(s)·wd)`: PyTorch's `torch.optim.AdamW` (Loshchilov & Hutter's decoupled decay).
        case coupled
        /// `p ← p·(1 − (lr(s)/lr)·wd)`: Wortsman et al. 2023, "independent" of the peak learning rate.
        case independent
    }

    /// `optim.name`.
    public enum Name: String, Codable, CaseIterable, Sendable { case adamw, muon }

    public init() {}
}

/// `[train]`: the loop.
public struct TrainConfig: Equatable, Sendable {
    /// What to do when a loss or gradient is not finite.
    public enum NonFinitePolicy: String, Codable, CaseIterable, Sendable { case stop, skip }

    public var batchSize = 12
    public var maxSteps = 2000
    /// Seed of the batch sampler (the model's initialisation has its own, `model.seed`).
    public var seed: UInt64 = 1337
    /// Threads for QKLab's shards and kernels (0 = all cores; OpenBLAS always computes on its
    /// caller's thread). They decide only where the batch shards run, never the numbers.
    public var threads = 0
    /// Shards each step's batch is split into by rows (docs/spec/cli.md, "Determinism and batch
    /// shards"): a property of the run that decides its numbers, fixed for its life. nil (the
    /// default) means the machine's cores when the run starts; a new run writes the number into
    /// config.toml and every checkpoint, and `--resume` refuses to change it.
    public var shards: Int? = nil
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
public struct RunConfig: Equatable, Sendable {
    /// Folder name under `dir`; empty means the config file's name.
    public var name = ""
    public var dir = "runs"

    public init() {}
}
