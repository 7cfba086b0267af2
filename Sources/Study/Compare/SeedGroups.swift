import Formats
/// Runs grouped into variants that differ only in their seeds (`train.seed`, `model.seed`), so
/// that a difference between variants can be weighed against the spread between seeds.
///
/// Only keys that can change the numbers define a variant (`ConfigKeyRole.numeric`): runs that
/// also differ in, say, `train.keep_checkpoints` or `train.log_interval` are still seeds of one
/// variant. Runs of one variant with the same seeds are repeats, not independent samples: only
/// the first counts.
public struct SeedGroups {
    public struct Variant {
        /// The numeric keys that set it apart, e.g. "qk_norm=off lr=0.01" ("all runs" when none).
        public let label: String
        /// Its runs, one per distinct seed, as indices into the compared runs.
        public let runs: [Int]
        /// The `sampling` keys whose values differ among its runs (e.g. `train.log_interval`):
        /// its runs' numbers are the same kind, but measured at different steps.
        public let samplingKeys: [String]
    }

    public let variants: [Variant]
    /// Runs left out as repeats: `run` has the same config, seeds included, as `original`.
    public let repeats: [(run: Int, original: Int)]
    /// Keys whose values differ among the runs but define no variant (bookkeeping and sampling
    /// keys), in the runs' file order.
    public let ignoredKeys: [String]

    /// nil unless the configs differ in a seed and some variant has at least two distinct seeds.
    public init?(configs: [ConfigTable]) {
        let differing = ConfigTable.differingPaths(among: configs)
        let seedKeys = differing.filter(ConfigTable.isSeed)
        let variantKeys = differing.filter { !ConfigTable.isSeed($0) && ConfigKeyRole.of($0) == .numeric }
        let samplingKeys = differing.filter { ConfigKeyRole.of($0) == .sampling }
        guard !seedKeys.isEmpty else { return nil }
        var members: [(values: [ConfigValue?], label: String, runs: [Int], seeds: [[ConfigValue?]])] = []
        var repeats: [(run: Int, original: Int)] = []
        for (run, config) in configs.enumerated() {
            let values = variantKeys.map { config[$0] }
            let seeds = seedKeys.map { config[$0] }
            guard let index = members.firstIndex(where: { $0.values == values }) else {
                let label = variantKeys.map { "\($0.split(separator: ".").last!)=\(config.displayValue($0))" }.joined(
                    separator: " ")
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
        variants = members.map { member in
            let differingSampling = samplingKeys.filter { key in
                member.runs.contains { configs[$0][key] != configs[member.runs[0]][key] }
            }
            return Variant(label: member.label, runs: member.runs, samplingKeys: differingSampling)
        }
        self.repeats = repeats
        ignoredKeys = differing.filter { ConfigKeyRole.of($0) != .numeric }
    }
}
