import Formats
import Foundation
import Transformer

/// One config key: its place, type, allowed range, and how it reads and writes `TrainingConfig`.
///
/// The list `ConfigSchema.keys` is the single source of truth for every key: parsing, `--set`,
/// "did you mean" suggestions, and the resolved `config.toml` of a run all walk it.
public struct ConfigKey {
    public enum Kind {
        /// A whole number in `minimum...maximum` (the maximum where a larger value could only
        /// exhaust the machine, e.g. threads).
        case integer(minimum: Int, maximum: Int = .max)
        case real(minimum: Double, maximum: Double, inclusiveMinimum: Bool)
        case text
        case choice([String])
        case flag
    }

    public let section: String
    public let name: String
    public let kind: Kind
    let read: (TrainingConfig) -> ConfigValue?
    let write: (inout TrainingConfig, ConfigValue) -> Void

    /// `section.name`.
    public var path: String { "\(section).\(name)" }
}

/// Every key of every section, in file order.
public enum ConfigSchema {
    public static let sections = ["model", "data", "optim", "train", "run"]

    public static let keys: [ConfigKey] = modelKeys + dataKeys + optimKeys + trainKeys + runKeys

    /// The key at `section.name`, if there is one.
    public static func key(_ path: String) -> ConfigKey? { keys.first { $0.path == path } }

    // MARK: - Builders

    static func integer(
        _ section: String, _ name: String, minimum: Int, maximum: Int = .max,
        _ keyPath: WritableKeyPath<TrainingConfig, Int>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: .integer(minimum: minimum, maximum: maximum),
            read: { .integer($0[keyPath: keyPath]) },
            write: { config, value in if case .integer(let v) = value { config[keyPath: keyPath] = v } })
    }

    static func optionalInteger(
        _ section: String, _ name: String, minimum: Int, maximum: Int = .max,
        _ keyPath: WritableKeyPath<TrainingConfig, Int?>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: .integer(minimum: minimum, maximum: maximum),
            read: { $0[keyPath: keyPath].map { .integer($0) } },
            write: { config, value in if case .integer(let v) = value { config[keyPath: keyPath] = v } })
    }

    static func seed(_ section: String, _ keyPath: WritableKeyPath<TrainingConfig, UInt64>) -> ConfigKey {
        ConfigKey(
            section: section, name: "seed", kind: .integer(minimum: 0),
            read: { .integer(Int(truncatingIfNeeded: $0[keyPath: keyPath])) },
            write: { config, value in if case .integer(let v) = value { config[keyPath: keyPath] = UInt64(v) } })
    }

    static func real(
        _ section: String, _ name: String, _ range: (Double, Double), inclusiveMinimum: Bool = true,
        _ keyPath: WritableKeyPath<TrainingConfig, Double>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name,
            kind: .real(minimum: range.0, maximum: range.1, inclusiveMinimum: inclusiveMinimum),
            read: { .real($0[keyPath: keyPath]) },
            write: { config, value in if case .real(let v) = value { config[keyPath: keyPath] = v } })
    }

    static func float(
        _ section: String, _ name: String, _ range: (Double, Double), inclusiveMinimum: Bool = true,
        _ keyPath: WritableKeyPath<TrainingConfig, Float>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name,
            kind: .real(minimum: range.0, maximum: range.1, inclusiveMinimum: inclusiveMinimum),
            // The shortest decimal that reads back as this Float (1e-06, not 9.999999974752427e-07).
            read: { .real(Double($0[keyPath: keyPath].description)!) },
            write: { config, value in if case .real(let v) = value { config[keyPath: keyPath] = Float(v) } })
    }

    static func optionalReal(
        _ section: String, _ name: String, _ range: (Double, Double),
        _ keyPath: WritableKeyPath<TrainingConfig, Double?>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: .real(minimum: range.0, maximum: range.1, inclusiveMinimum: true),
            read: { $0[keyPath: keyPath].map { .real($0) } },
            write: { config, value in if case .real(let v) = value { config[keyPath: keyPath] = v } })
    }

    static func optionalFloat(
        _ section: String, _ name: String, _ range: (Double, Double), inclusiveMinimum: Bool = true,
        _ keyPath: WritableKeyPath<TrainingConfig, Float?>
    ) -> ConfigKey {
        ConfigKey(
            section: section, name: name,
            kind: .real(minimum: range.0, maximum: range.1, inclusiveMinimum: inclusiveMinimum),
            read: { $0[keyPath: keyPath].map { .real(Double($0)) } },
            write: { config, value in if case .real(let v) = value { config[keyPath: keyPath] = Float(v) } })
    }

    static func text(_ section: String, _ name: String, _ keyPath: WritableKeyPath<TrainingConfig, String>) -> ConfigKey
    {
        ConfigKey(
            section: section, name: name, kind: .text, read: { .text($0[keyPath: keyPath]) },
            write: { config, value in if case .text(let v) = value { config[keyPath: keyPath] = v } })
    }

    static func choice<E: RawRepresentable & CaseIterable>(
        _ section: String, _ name: String,
        _ keyPath: WritableKeyPath<TrainingConfig, E>
    ) -> ConfigKey where E.RawValue == String {
        ConfigKey(
            section: section, name: name, kind: .choice(E.allCases.map(\.rawValue)),
            read: { .text($0[keyPath: keyPath].rawValue) },
            write: { config, value in
                if case .text(let v) = value, let e = E(rawValue: v) { config[keyPath: keyPath] = e }
            })
    }

    static func flag(_ section: String, _ name: String, _ keyPath: WritableKeyPath<TrainingConfig, Bool>) -> ConfigKey {
        ConfigKey(
            section: section, name: name, kind: .flag, read: { .flag($0[keyPath: keyPath]) },
            write: { config, value in if case .flag(let v) = value { config[keyPath: keyPath] = v } })
    }

    // MARK: - The keys

    /// `[model]`: docs/spec/model.md's switches. `vocab_size` is not here: it always comes from the corpus.
    static let modelKeys: [ConfigKey] = [
        integer("model", "block_size", minimum: 1, \.model.blockSize),
        integer("model", "d_model", minimum: 1, \.model.dModel),
        integer("model", "n_layer", minimum: 1, \.model.nLayer),
        integer("model", "n_head", minimum: 1, \.model.nHead),
        optionalInteger("model", "n_kv_head", minimum: 1, \.model.nKVHead),
        optionalInteger("model", "head_dim", minimum: 1, \.model.headDim),
        optionalInteger("model", "d_ff", minimum: 1, \.model.dFF),
        choice("model", "block_norm", \.model.blockNorm),
        choice("model", "qk_norm", \.model.qkNorm),
        float("model", "qk_norm_gain", (0, .infinity), \.model.qkNormGain),
        choice("model", "position", \.model.position),
        float("model", "rope_theta", (0, .infinity), inclusiveMinimum: false, \.model.ropeTheta),
        // ≤ 1: ModelConfig.validate
        float("model", "rope_fraction", (0, .infinity), inclusiveMinimum: false, \.model.ropeFraction),
        flag("model", "attention_bias", \.model.attentionBias),
        choice("model", "mlp", \.model.mlp),
        choice("model", "norm_weight", \.model.normWeight),
        flag("model", "embed_scale", \.model.embedScale),
        flag("model", "tie_embeddings", \.model.tieEmbeddings),
        float("model", "norm_eps", (0, 1), inclusiveMinimum: false, \.model.normEps),
        float("model", "z_loss", (0, .infinity), \.model.zLoss),
        float("model", "attn_softcap", (0, .infinity), \.model.attnSoftcap),
        float("model", "final_softcap", (0, .infinity), \.model.finalSoftcap),
        // ≤ block_size, and global_every ≤ n_layer with a window: ModelConfig.validate
        integer("model", "sliding_window", minimum: 0, \.model.slidingWindow),
        integer("model", "global_every", minimum: 1, \.model.globalEvery),
        optionalFloat("model", "rope_local_theta", (0, .infinity), inclusiveMinimum: false, \.model.ropeLocalTheta),
        choice("model", "init", \.model.initialization),
        choice("model", "attention_scale", \.model.attentionScale),
        flag("model", "zero_init_query", \.model.zeroInitQuery),
        integer("model", "head_init_base_width", minimum: 0, \.model.headInitBaseWidth),  // ≤ d_model: validate
        seed("model", \.model.seed),
    ]

    static let dataKeys: [ConfigKey] = [
        text("data", "path", \.data.path),
        real("data", "val_fraction", (0, 1), inclusiveMinimum: false, \.data.valFraction),
    ]

    static let optimKeys: [ConfigKey] = [
        real("optim", "lr", (0, .infinity), inclusiveMinimum: false, \.optim.lr),
        optionalReal("optim", "min_lr", (0, .infinity), \.optim.minLR),
        integer("optim", "warmup_steps", minimum: 0, \.optim.warmupSteps),
        optionalInteger("optim", "decay_steps", minimum: 1, \.optim.decaySteps),
        real("optim", "beta1", (0, 1), \.optim.beta1),
        real("optim", "beta2", (0, 1), \.optim.beta2),
        real("optim", "eps", (0, 1), inclusiveMinimum: false, \.optim.eps),
        real("optim", "weight_decay", (0, .infinity), \.optim.weightDecay),
        choice("optim", "weight_decay_mode", \.optim.weightDecayMode),
        flag("optim", "decay_norm_weights", \.optim.decayNormWeights),
        real("optim", "grad_clip", (0, .infinity), \.optim.gradClip),
        integer("optim", "mup_base_width", minimum: 0, \.optim.mupBaseWidth),  // ≤ d_model: ConfigLoader.validate
    ]

    static let trainKeys: [ConfigKey] = [
        integer("train", "batch_size", minimum: 1, \.train.batchSize),
        integer("train", "max_steps", minimum: 1, \.train.maxSteps),
        seed("train", \.train.seed),
        integer("train", "threads", minimum: 0, maximum: 1024, \.train.threads),
        optionalInteger("train", "shards", minimum: 1, maximum: 1024, \.train.shards),
        integer("train", "log_interval", minimum: 0, \.train.logInterval),
        integer("train", "eval_interval", minimum: 0, \.train.evalInterval),
        integer("train", "eval_batches", minimum: 1, maximum: 100_000, \.train.evalBatches),
        integer("train", "checkpoint_interval", minimum: 0, \.train.checkpointInterval),
        integer("train", "keep_checkpoints", minimum: 1, \.train.keepCheckpoints),
        choice("train", "on_nonfinite", \.train.onNonfinite),
        choice("train", "on_checkpoint_error", \.train.onCheckpointError),
    ]

    static let runKeys: [ConfigKey] = [
        text("run", "name", \.run.name),
        text("run", "dir", \.run.dir),
    ]
}
