import Formats
import Foundation
import TOMLKit

/// A learning-rate sweep: a base config, fixed overrides, and a grid of values.
///
///     base = "../configs/shakespeare-qknorm.toml"   # relative to the sweep file
///     out = "runs/qknorm-sweep"                      # default: runs/<sweep file name>
///     [set]                                          # applied to every point
///     "train.max_steps" = 600
///     [grid]                                         # every combination is one run
///     "optim.lr" = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
///     "model.qk_norm" = ["off", "head"]
///     "train.seed" = [0, 1]
///
/// A grid key may also be a *group axis* (`[grid.size]`, `GridAxis`): named entries that each
/// set several keys at once, such as width, depth and heads for a sweep over model size.
///
/// A *variant* is a combination of the grid's values other than `optim.lr` and the seeds
/// (`train.seed`, `model.seed`) (here: qk_norm off, qk_norm head); its seeds are repeats, its
/// learning rates the sweep axis. In the scaling view a variant is one model size of a *line*:
/// the variant without the settings that change the model's shape (`ModelSizeKeys`).
///
/// Every point's config is resolved when the plan is read (by the trainer's loader, which
/// catches typos in keys and values before anything runs), and two points that would train the
/// same run — `1e-3` and `0.001`, or values of a key that cannot change the numbers — are
/// refused: they would share one folder, or report one run twice.
public struct SweepPlan {
    /// One run of the grid.
    public struct Point: Equatable {
        /// `key=value` overrides, in grid order (values as TOML writes them).
        public let overrides: [String]
        /// Folder name: the overrides joined, e.g. `lr=0.001,qk_norm=off,seed=0`.
        public let name: String
        /// The non-lr, non-seed overrides (`qk_norm=off`), "all" when there are none.
        public let variant: String
        /// What the point's name is made of, in name order.
        let labels: [GridAxis.Label]
        /// The point's resolved config (every key, as the trainer will write it, [set] and
        /// grid values applied), in TOML.
        public let resolvedConfig: String
        /// `resolvedConfig` read by key path.
        public let config: ConfigTable
        /// QKLab's defaults, resolved: what a key missing from a point recorded by an older QKLab
        /// (before the key existed) stood for, since new keys default to the earlier behaviour.
        public let defaults: ConfigTable?

        /// The learning rate the point trains at (its resolved `optim.lr`).
        public var learningRate: Double? {
            if case .real(let rate)? = config["optim.lr"] { return rate }
            return config.integer("optim.lr").map(Double.init)
        }

        /// The step the point trains to.
        public var maxSteps: Int? { config.integer("train.max_steps") }

        /// The variant's settings that change the model's shape (`size=d64l2`), "" when none do.
        public var size: String { variantLabels.filter(ModelSizeKeys.changesSize).map(\.text).joined(separator: ",") }

        /// The variant without its size settings (`qk_norm=off`), "all" when nothing is left: one
        /// line of the scaling view.
        public var line: String {
            let rest = variantLabels.filter { !ModelSizeKeys.changesSize($0) }.map(\.text).joined(separator: ",")
            return rest.isEmpty ? "all" : rest
        }

        /// The overrides but those of the keys that set the model's shape: the point's line, its
        /// learning rate and seed, to which a forecast adds a target shape.
        public var overridesWithoutShape: [String] {
            overrides.filter { !ModelSizeKeys.keys.contains(String($0.prefix { $0 != "=" })) }
        }

        var variantLabels: [GridAxis.Label] { labels.filter { $0.kind == .other } }

        /// The seed settings (`seed=0`): which of a variant's runs this is.
        public var seed: String { labels.filter { $0.kind == .seed }.map(\.text).joined(separator: ",") }

        init(overrides: [String], labels: [GridAxis.Label], resolvedConfig: String, defaults: ConfigTable?) throws {
            self.defaults = defaults
            let name = labels.map(\.text).joined(separator: ",")
            let variant = labels.filter { $0.kind == .other }.map(\.text).joined(separator: ",")
            (self.overrides, self.labels, self.name, self.resolvedConfig) = (overrides, labels, name, resolvedConfig)
            self.variant = variant.isEmpty ? "all" : variant
            config = try ConfigTable(text: resolvedConfig, source: "the resolved config of point \(name)")
        }
    }

    public let base: URL
    public let output: URL
    public let fixedOverrides: [String]
    public let points: [Point]

    /// Reads a sweep file. `resolveConfig(base, overrides)` must return the resolved config of
    /// every point as TOML, or throw for a point it refuses (in `qklab sweep`, the trainer's
    /// loader and its `resolvedTOML()`); `defaults` is the resolved config of QKLab's defaults
    /// (see `Point.defaults`; without it, a key an older record lacks counts as changed).
    public init(file: URL, defaults: String? = nil, resolveConfig: (URL, [String]) throws -> String) throws {
        let defaultsTable = try defaults.map { try ConfigTable(text: $0, source: "QKLab's defaults") }
        let source = file.path
        let text = try FileIO.readConfigText(file, what: "sweep file")
        let table = try TOMLDocument.parse(text, source: source)
        for key in table.keys where !["base", "out", "set", "grid"].contains(key) {
            throw ConfigError("\(source): unknown key '\(key)' (a sweep file has base, out, [set] and [grid])")
        }
        guard let basePath = table["base"]?.string else {
            throw ConfigError("\(source): missing base = \"CONFIG.toml\"")
        }
        let folder = file.deletingLastPathComponent()
        base = URL(fileURLWithPath: basePath, relativeTo: folder).standardizedFileURL
        output =
            table["out"]?.string.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: "runs").appendingPathComponent(file.deletingPathExtension().lastPathComponent)
        let fixed = try (table["set"]?.table).map { try Self.overrides(of: $0, source: source) } ?? []
        fixedOverrides = fixed.map { "\($0.key)=\($0.value)" }
        guard let grid = table["grid"]?.table, !grid.isEmpty else { throw ConfigError("\(source): missing [grid]") }
        let axes = try Self.axes(of: grid, fixedKeys: Set(fixed.map(\.key)), source: source)
        var points: [Point] = []
        for choices in Self.combinations(of: axes) {
            let overrides = choices.flatMap(\.overrides).map { "\($0.key)=\($0.value)" }
            let labels = choices.flatMap(\.labels).enumerated().sorted {
                ($0.element.kind, $0.offset) < ($1.element.kind, $1.offset)
            }.map(\.element)
            let resolved: String
            do { resolved = try resolveConfig(base, fixedOverrides + overrides) } catch {
                throw ConfigError("\(source): point \(labels.map(\.text).joined(separator: ",")): \(error)")
            }
            points.append(
                try Point(overrides: overrides, labels: labels, resolvedConfig: resolved, defaults: defaultsTable))
        }
        try Self.refuseDuplicates(points, source: source)
        self.points = points
    }

    /// Two points are one run when they would share a folder, or when their configs differ only
    /// in keys that cannot change the numbers (`ConfigKeyRole.bookkeeping`).
    static func refuseDuplicates(_ points: [Point], source: String) throws {
        for (index, point) in points.enumerated() {
            for earlier in points[..<index] {
                if earlier.name == point.name {
                    throw ConfigError(
                        "\(source): [grid] gives the point \(point.name) twice (a list holds one value twice, "
                            + "perhaps written two ways such as 1e-3 and 0.001); list each value once")
                }
                let differing = ConfigTable.differingPaths(among: [earlier.config, point.config])
                if differing.allSatisfy({ ConfigKeyRole.of($0) == .bookkeeping }) {
                    let why =
                        differing.isEmpty
                        ? "their resolved configs are equal (one value written two ways, such as 60 and 60.0?)"
                        : "they differ only in \(differing.joined(separator: ", ")), which cannot change a run's numbers"
                    throw ConfigError(
                        "\(source): the points \(earlier.name) and \(point.name) are the same run: \(why); list each value once"
                    )
                }
            }
        }
    }

    /// The grid's axes in name order; a key set by two axes, or by an axis and `[set]`, is refused.
    static func axes(of grid: TOMLTable, fixedKeys: Set<String>, source: String) throws -> [GridAxis] {
        var axes: [GridAxis] = []
        for key in grid.keys {
            let axis = try GridAxis(key: key, value: grid[key]!, source: source)
            if let both = axis.settableKeys.sorted().first(where: fixedKeys.contains) {
                throw ConfigError("\(source): \"\(both)\" is in both [set] and [grid]; keep it in one")
            }
            if let other = axes.first(where: { !$0.settableKeys.isDisjoint(with: axis.settableKeys) }) {
                let shared = other.settableKeys.intersection(axis.settableKeys).sorted().joined(separator: ", ")
                throw ConfigError(
                    "\(source): [grid] sets \(shared) in both \"\(other.key)\" and \"\(key)\"; keep it in one")
            }
            axes.append(axis)
        }
        return axes.sorted { $0.order < $1.order }
    }

    static func overrides(of table: TOMLTable, source: String) throws -> [(key: String, value: String)] {
        table.keys.sorted().map { ($0, tomlText(of: table[$0]!)) }
    }

    static func tomlText(of value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return value.string!
        case .double: return "\(value.double!)"
        case .int: return "\(value.int!)"
        case .bool: return "\(value.bool!)"
        default: return value.debugDescription
        }
    }

    /// Every combination of one choice per axis.
    static func combinations(of axes: [GridAxis]) -> [[GridAxis.Choice]] {
        axes.reduce([[]]) { partial, axis in
            partial.flatMap { prefix in axis.choices.map { prefix + [$0] } }
        }
    }
}
