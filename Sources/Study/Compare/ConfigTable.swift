import Formats
import Foundation
import TOMLKit

/// A run's resolved `config.toml` read as values by key path (`optim.lr`), in file order, without
/// the model's types: the study tools compare runs by what their configs say. (QKLab writes every
/// key of a run's config, so two runs' tables have the same paths unless a version added keys.)
public struct ConfigTable: Equatable {
    /// `section.key` paths in the order the file lists them.
    public let paths: [String]
    let values: [String: ConfigValue]

    /// Parses `text` (errors name `source` and the line).
    public init(text: String, source: String) throws {
        let table = try TOMLDocument.parse(text, source: source)
        var paths: [String] = [], values: [String: ConfigValue] = [:]
        for path in Self.keyPathsInFileOrder(text) where values[path] == nil {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = table[parts[0]]?.table?[parts[1]].flatMap(Self.value) else { continue }
            paths.append(path)
            values[path] = value
        }
        (self.paths, self.values) = (paths, values)
    }

    public subscript(path: String) -> ConfigValue? { values[path] }

    /// The value at `path` when it is an integer.
    public func integer(_ path: String) -> Int? {
        if case .integer(let value)? = values[path] { return value }
        return nil
    }

    /// The value as a table shows it: text without quotes, numbers to six significant digits,
    /// "—" when unset.
    public func displayValue(_ path: String) -> String {
        switch values[path] {
        case .text(let text): return text
        case .real(let number): return String(format: "%.6g", number)
        case let value?: return value.description
        case nil: return "—"
        }
    }

    /// Whether `path` is a seed (`train.seed`, `model.seed`): runs that differ only in seeds are
    /// repeats of one variant.
    public static func isSeed(_ path: String) -> Bool { path.hasSuffix(".seed") }

    /// The paths whose values differ among `tables`, in the first table's order (then any only the
    /// others have). `[run]` is left out: it names folders, not experiments.
    public static func differingPaths(among tables: [ConfigTable]) -> [String] {
        var all: [String] = []
        for table in tables { all += table.paths.filter { !all.contains($0) } }
        return all.filter { path in
            !path.hasPrefix("run.") && tables.contains { !same($0[path], tables[0][path]) }
        }
    }

    /// Whether two values are the same setting. A float32 key (`norm_eps`) was written by older
    /// versions as its exact binary value (9.999999974752427e-07) and now as the shortest
    /// decimal that reads back as it (1e-06): the same when one of them is exactly a float32
    /// value and both round to it.
    static func same(_ a: ConfigValue?, _ b: ConfigValue?) -> Bool {
        guard case .real(let x)? = a, case .real(let y)? = b, x != y else { return a == b }
        let isFloat32 = { (value: Double) in Double(Float(value)) == value }
        return (isFloat32(x) || isFloat32(y)) && Float(x) == Float(y)
    }

    /// `section.key` for every `key = …` line, under the `[section]` header before it.
    static func keyPathsInFileOrder(_ text: String) -> [String] {
        var section = "", paths: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
                section = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close]).trimmingCharacters(
                    in: .whitespaces)
            } else if !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") {
                let key = trimmed[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
                paths.append("\(section).\(key)")
            }
        }
        return paths
    }

    static func value(_ value: TOMLValueConvertible) -> ConfigValue? {
        switch value.type {
        case .int: return value.int.map { .integer($0) }
        case .double: return value.double.map { .real($0) }
        case .string: return value.string.map { .text($0) }
        case .bool: return value.bool.map { .flag($0) }
        default: return nil
        }
    }
}
