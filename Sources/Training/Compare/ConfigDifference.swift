extension ConfigKey {
    /// The value in `config` as a table shows it: text without quotes, numbers to six significant
    /// digits, "—" when unset.
    public func displayValue(in config: TrainingConfig) -> String {
        switch read(config) {
        case .text(let text): return text
        case .real(let number): return String(format: "%.6g", number)
        case let value?: return value.description
        case nil: return "—"
        }
    }

    /// Whether this key is a seed (`train.seed`, `model.seed`): runs that differ only in seeds are
    /// repeats of one variant.
    public var isSeed: Bool { name == "seed" }

    /// The keys whose values differ among `configs`, in schema order. `[run]` is left out: it
    /// names folders, not experiments.
    public static func differing(among configs: [TrainingConfig]) -> [ConfigKey] {
        ConfigSchema.keys.filter { key in
            key.section != "run" && configs.contains { key.read($0) != key.read(configs[0]) }
        }
    }
}
