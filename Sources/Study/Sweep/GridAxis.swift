import Formats
import Foundation
import TOMLKit

/// One axis of a sweep's `[grid]`: the choices a point takes one of.
///
/// A *key axis* is a config key and its values (`"optim.lr" = [1e-3, 1e-2]`). A *group axis*
/// (`[grid.size]`) names several settings at once, one inline table per entry, so that width,
/// depth and heads change together; an array inside an entry is an inner axis of that entry only
/// (`"train.seed" = [0, 1, 2]` gives the entry three seeds):
///
///     [grid.size]
///     d32l1 = {"model.d_model" = 32, "model.n_layer" = 1, "model.n_head" = 1, "train.seed" = [0, 1, 2]}
///     d64l2 = {"model.d_model" = 64, "model.n_layer" = 2, "model.n_head" = 2, "train.seed" = [0, 1]}
///
/// A point of entry `d64l2` is named `size=d64l2` (and by its other axes).
struct GridAxis {
    /// What a point's name says about one setting, and whether it is part of the variant.
    struct Label: Equatable {
        enum Kind: Int, Comparable {
            case learningRate, other, seed
            static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        }
        /// `lr=0.001`, `size=d64l2`, `seed=0`.
        let text: String
        let kind: Kind
        /// The config keys the label stands for.
        let keys: [String]
    }

    /// One value of the axis: the overrides it applies and the labels it adds to a point's name.
    struct Choice {
        var overrides: [(key: String, value: String)]
        var labels: [Label]
    }

    /// The grid key (`optim.lr`, or a group axis's name such as `size`).
    let key: String
    let choices: [Choice]
    /// Every config key the axis sets.
    var settableKeys: Set<String> { Set(choices.flatMap { $0.overrides.map(\.key) }) }

    /// The axis of grid key `key`, from its TOML value (an array, or a table of entries).
    init(key: String, value: TOMLValueConvertible, source: String) throws {
        self.key = key
        if let array = value.array, !array.isEmpty {
            choices = array.map { Self.keyChoice(key, SweepPlan.tomlText(of: $0)) }
        } else if let table = value.table, !table.isEmpty {
            choices = try table.keys.flatMap { name in
                guard let entry = table[name]?.table, !entry.isEmpty else {
                    throw ConfigError(
                        "\(source): [grid.\(key)] entry '\(name)' must be an inline table of config keys, e.g. {\"model.d_model\" = 64, \"model.n_layer\" = 2}"
                    )
                }
                return try Self.groupChoices(axis: key, name: name, entry: entry, source: source)
            }
        } else {
            throw ConfigError(
                "\(source): grid key \"\(key)\" must be a non-empty array, or a table of named entries ([grid.\(key)])")
        }
    }

    /// The choice `key = value` of a key axis.
    static func keyChoice(_ key: String, _ value: String) -> Choice {
        let kind: Label.Kind = key == "optim.lr" ? .learningRate : ConfigTable.isSeed(key) ? .seed : .other
        return Choice(
            overrides: [(key, value)], labels: [Label(text: "\(shortName(key))=\(value)", kind: kind, keys: [key])])
    }

    /// The choices of one group entry: its single values, times each of its inner arrays.
    static func groupChoices(axis: String, name: String, entry: TOMLTable, source: String) throws -> [Choice] {
        let keys = entry.keys.sorted()
        let fixed = keys.compactMap { key in entry[key]!.array == nil ? (key, SweepPlan.tomlText(of: entry[key]!)) : nil
        }
        let group = Choice(
            overrides: fixed, labels: [Label(text: "\(axis)=\(name)", kind: .other, keys: fixed.map(\.0))])
        return try keys.reduce([group]) { partial, key in
            guard let array = entry[key]!.array else { return partial }
            guard !array.isEmpty else {
                throw ConfigError("\(source): [grid.\(axis)] entry '\(name)': \"\(key)\" is an empty array")
            }
            return partial.flatMap { choice in
                array.map { value in
                    let inner = keyChoice(key, SweepPlan.tomlText(of: value))
                    return Choice(overrides: choice.overrides + inner.overrides, labels: choice.labels + inner.labels)
                }
            }
        }
    }

    /// The last component of a key path (`optim.lr` → `lr`).
    static func shortName(_ key: String) -> String { String(key.split(separator: ".").last!) }

    /// Axis order in point names: the learning rate first, seeds last.
    var order: String { key == "optim.lr" ? "0" : ConfigTable.isSeed(key) ? "2" + key : "1" + key }
}
