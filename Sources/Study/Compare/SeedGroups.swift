import Formats
/// Runs grouped into variants that differ only in their seeds (`train.seed`, `model.seed`), so
/// that a difference between variants can be weighed against the spread between seeds.
///
/// Runs of one variant with the same seeds are repeats, not independent samples: only the first
/// counts.
public struct SeedGroups {
    public struct Variant {
        /// The non-seed keys that set it apart, e.g. "qk_norm=off lr=0.01" ("all runs" when none).
        public let label: String
        /// Its runs, one per distinct seed, as indices into the compared runs.
        public let runs: [Int]
    }

    public let variants: [Variant]
    /// Runs left out as repeats: `run` has the same config, seeds included, as `original`.
    public let repeats: [(run: Int, original: Int)]

    /// nil unless the configs differ in a seed and some variant has at least two distinct seeds.
    public init?(configs: [ConfigTable]) {
        let differing = ConfigTable.differingPaths(among: configs)
        let seedKeys = differing.filter(ConfigTable.isSeed)
        let variantKeys = differing.filter { !ConfigTable.isSeed($0) }
        guard !seedKeys.isEmpty else { return nil }
        var members: [(values: [ConfigValue?], label: String, runs: [Int], seeds: [[ConfigValue?]])] = []
        var repeats: [(run: Int, original: Int)] = []
        for (run, config) in configs.enumerated() {
            let values = variantKeys.map { config[$0] }
            let seeds = seedKeys.map { config[$0] }
            guard let index = members.firstIndex(where: { $0.values == values }) else {
                let label = variantKeys.map { "\($0.split(separator: ".").last!)=\(config.displayValue($0))" }.joined(separator: " ")
                members.append((values, label.isEmpty ? "all runs" : label, [run], [seeds]))
                continue
            }
            if let seen = members[index].seeds.firstIndex(of: seeds) {
                repeats.append((run, members[index].runs[seen]))
            } else {
                members[index].runs.append(run)
                members[index].seeds.append(seeds)
            }
        }
        guard members.contains(where: { $0.runs.count >= 2 }) else { return nil }
        variants = members.map { Variant(label: $0.label, runs: $0.runs) }
        self.repeats = repeats
    }
}
