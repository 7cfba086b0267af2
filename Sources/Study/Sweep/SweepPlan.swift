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
/// A *variant* is a combination of the grid's values other than `optim.lr` and `train.seed`
/// (here: qk_norm off, qk_norm head); its seeds are repeats, its learning rates the sweep axis.
public struct SweepPlan {
    /// One run of the grid.
    public struct Point: Equatable {
        /// `key=value` overrides, in grid order (values as TOML writes them).
        public let overrides: [String]
        /// Folder name: the overrides joined, e.g. `lr=0.001,qk_norm=off,seed=0`.
        public let name: String
        /// The non-lr, non-seed overrides (`qk_norm=off`).
        public let variant: String
        public let learningRate: Double?
    }

    public let base: URL
    public let output: URL
    public let fixedOverrides: [String]
    public let points: [Point]

    /// Reads a sweep file; `loadConfig(base, overrides)` must accept every point's config (the
    /// trainer's config loader: it catches typos in keys and values before anything runs).
    public init(file: URL, loadConfig: (URL, [String]) throws -> Void) throws {
        let source = file.path
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw ConfigError("cannot read sweep file \(source)")
        }
        let table = try TOMLDocument.parse(text, source: source)
        for key in table.keys where !["base", "out", "set", "grid"].contains(key) {
            throw ConfigError("\(source): unknown key '\(key)' (a sweep file has base, out, [set] and [grid])")
        }
        guard let basePath = table["base"]?.string else { throw ConfigError("\(source): missing base = \"CONFIG.toml\"") }
        let folder = file.deletingLastPathComponent()
        base = URL(fileURLWithPath: basePath, relativeTo: folder).standardizedFileURL
        output = table["out"]?.string.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: "runs").appendingPathComponent(file.deletingPathExtension().lastPathComponent)
        fixedOverrides = try (table["set"]?.table).map { try Self.overrides(of: $0, source: source) } ?? []
        guard let grid = table["grid"]?.table, !grid.isEmpty else { throw ConfigError("\(source): missing [grid]") }
        var axes: [(key: String, values: [String])] = []
        for key in grid.keys {
            guard let array = grid[key]?.array, !array.isEmpty else {
                throw ConfigError("\(source): grid key \"\(key)\" must be a non-empty array")
            }
            axes.append((key, array.map { Self.tomlText(of: $0) }))
        }
        axes.sort { Self.axisOrder($0.key) < Self.axisOrder($1.key) }
        points = Self.combinations(of: axes).map(Self.point)
        for point in points {
            do { try loadConfig(base, fixedOverrides + point.overrides) } catch {
                throw ConfigError("\(source): point \(point.name): \(error)")
            }
        }
    }

    static func axisOrder(_ key: String) -> String {
        key == "optim.lr" ? "0" : key == "train.seed" ? "2" : "1" + key
    }

    static func overrides(of table: TOMLTable, source: String) throws -> [String] {
        table.keys.sorted().map { "\($0)=\(tomlText(of: table[$0]!))" }
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

    static func combinations(of axes: [(key: String, values: [String])]) -> [[(key: String, value: String)]] {
        axes.reduce([[]]) { partial, axis in
            partial.flatMap { prefix in axis.values.map { prefix + [(axis.key, $0)] } }
        }
    }

    static func point(_ assignment: [(key: String, value: String)]) -> Point {
        func short(_ key: String) -> String { String(key.split(separator: ".").last!) }
        let name = assignment.map { "\(short($0.key))=\($0.value)" }.joined(separator: ",")
        let variant = assignment.filter { $0.key != "optim.lr" && $0.key != "train.seed" }
            .map { "\(short($0.key))=\($0.value)" }.joined(separator: ",")
        return Point(overrides: assignment.map { "\($0.key)=\($0.value)" }, name: name,
                     variant: variant.isEmpty ? "all" : variant,
                     learningRate: assignment.first { $0.key == "optim.lr" }.flatMap { Double($0.value) })
    }
}
