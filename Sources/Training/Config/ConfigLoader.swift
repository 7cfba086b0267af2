import Formats
import Foundation
import TOMLKit
import Transformer

/// Reads configs from TOML files and `--set section.key=value` overrides, checking every key
/// against `ConfigSchema`.
public enum ConfigLoader {
    /// Reads `url`, applies `overrides` in order, and validates the result.
    public static func load(_ url: URL, overrides: [String] = []) throws -> TrainingConfig {
        let text = try FileIO.readConfigText(url, what: "config")
        var config = try parse(text, source: url.path)
        for override in overrides { try apply(override: override, to: &config) }
        do {
            try validate(config)
            try checkSchedule(config)
        } catch let error as ConfigError {  // a check of several keys: the file (and --set) it came from
            let sets =
                overrides.count > 3
                ? " with \(overrides.count) --set overrides"
                : overrides.isEmpty ? "" : " with" + overrides.map { " --set \($0)" }.joined()
            throw ConfigError("\(url.path)\(sets): \(error)")
        }
        return config
    }

    /// Parses TOML text (`source` names it in messages) onto the defaults.
    public static func parse(_ text: String, source: String, onto base: TrainingConfig = TrainingConfig()) throws
        -> TrainingConfig
    {
        let table = try TOMLDocument.parse(text, source: source)
        var config = base
        for section in table.keys.sorted() {
            guard let sectionTable = table[section]?.table else {
                throw ConfigError(
                    "\(source):\(line(of: section, section: nil, in: text)): '\(section)' must be a [section] (one of \(ConfigSchema.sections.joined(separator: ", ")))"
                )
            }
            guard ConfigSchema.sections.contains(section) else {
                throw ConfigError(
                    "\(source):\(line(of: section, section: nil, in: text)): unknown section [\(section)]\(suggestion(for: section, among: ConfigSchema.sections))"
                )
            }
            for name in sectionTable.keys.sorted() {
                let where_ = "\(source):\(line(of: name, section: section, in: text))"
                guard let key = ConfigSchema.key("\(section).\(name)") else {
                    throw ConfigError(
                        "\(where_): unknown key '\(name)' in [\(section)]\(unknownKeyAdvice(name, section: section))")
                }
                let value = try convert(sectionTable[name]!, for: key, at: where_)
                key.write(&config, value)
            }
        }
        return config
    }

    /// Applies one `section.key=value` override. The value is read as TOML (`3e-3`, `true`,
    /// `"text"`); a bare word is taken as text, so `--set model.qk_norm=off` works.
    public static func apply(override: String, to config: inout TrainingConfig) throws {
        guard let equals = override.firstIndex(of: "=") else {
            throw ConfigError("--set \(override): expected section.key=value")
        }
        let path = override[..<equals].trimmingCharacters(in: .whitespaces)
        let rawValue = override[override.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        guard let key = ConfigSchema.key(path) else {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            let advice =
                parts.count == 2 && ConfigSchema.sections.contains(parts[0])
                ? unknownKeyAdvice(parts[1], section: parts[0])
                : suggestion(for: path, among: ConfigSchema.keys.map(\.path))
            throw ConfigError("--set \(override): unknown key '\(path)'\(advice)")
        }
        let parsed = (try? TOMLDocument.parse("value = \(rawValue)", source: "--set"))?["value"]
        if parsed == nil, let number = Double(rawValue) {  // a number TOML cannot hold: 1e999, 2^70
            let reason = number.isFinite ? "is too large for a 64-bit integer" : "is too large for a 64-bit float"
            throw ConfigError("--set \(override): \(key.path) \(rawValue) \(reason)")
        }
        key.write(&config, try convert(parsed ?? rawValue, for: key, at: "--set \(override)"))
    }

    /// Every key's range (for configs that did not come through `parse`, such as a checkpoint's
    /// state.json), then the cross-key checks: the model's constraints and the schedule's.
    public static func validate(_ config: TrainingConfig) throws {
        for key in ConfigSchema.keys {
            if let value = key.read(config), let problem = rangeProblem(value, for: key) {
                throw ConfigError("\(key.path) \(problem)")
            }
        }
        do { try config.model.validate() } catch let error as ModelConfigError {
            throw ConfigError("[model] \(error.message)")
        }
        try checkOptimizer(config)
        let scores =
            Double(config.train.batchSize) * Double(config.model.nHead) * pow(Double(config.model.blockSize), 2)
        if scores > Double(1 << 31) {
            throw ConfigError(
                "[train] batch_size × n_head × block_size² = \(Int(scores)) attention scores per layer, more than QKLab's limit of 2^31"
            )
        }
        if config.optim.mupBaseWidth > config.model.dModel {
            throw ConfigError(
                "[optim] mup_base_width (\(config.optim.mupBaseWidth)) must not exceed model.d_model (\(config.model.dModel)): µParam scales updates down from a smaller base width"
            )
        }
        if let minLR = config.optim.minLR, minLR > config.optim.lr {
            throw ConfigError(
                "[optim] min_lr (\(shortNumber(minLR, beside: config.optim.lr))) must not exceed lr (\(shortNumber(config.optim.lr, beside: minLR)))"
            )
        }
    }

    /// The name of a new run's folder in `run.dir`: `run.name`, or `fallback` (the config file's
    /// name) when that is empty. Throws unless it is one folder name, so that the run stays in
    /// `run.dir` (only a new run without `--run-dir` uses it; stored runs are not checked).
    public static func runFolderName(_ config: TrainingConfig, fallback: String) throws -> String {
        let name = config.run.name.isEmpty ? fallback : config.run.name
        if name.contains("/") || name == "." || name == ".." || name.isEmpty {
            throw ConfigError(
                "[run] name \"\(name)\" must be one folder name (no '/', not '.' or '..'): the run's folder is run.dir/run.name"
            )
        }
        return name
    }

    /// A number for messages: 6 significant digits ("0.0003", not "0.00030000000000000003"),
    /// or every digit when 6 would make it look equal to `other`, the number it is compared with.
    public static func shortNumber(_ number: Double, beside other: Double?) -> String {
        let short = String(format: "%.6g", number)
        if let other, other != number, String(format: "%.6g", other) == short { return "\(number)" }
        return short
    }

    // MARK: - Values

    /// Checks a TOML value's type and range against `key`.
    static func convert(_ value: TOMLValueConvertible, for key: ConfigKey, at location: String) throws -> ConfigValue {
        func fail(_ problem: String) -> ConfigError { ConfigError("\(location): \(key.path) \(problem)") }
        let converted: ConfigValue
        switch key.kind {
        case .integer:
            guard value.type == .int, let integer = value.int else {
                throw fail("must be an integer (got \(describe(value)))")
            }
            converted = .integer(integer)
        case .real:
            switch value.type {
            case .double: converted = .real(value.double!)
            case .int: converted = .real(Double(value.int!))
            default: throw fail("must be a number (got \(describe(value)))")
            }
        case .text, .choice:
            guard value.type == .string, let text = value.string else {
                if case .choice(let choices) = key.kind { throw fail(choiceProblem(choices, got: describe(value))) }
                throw fail("must be a string (got \(describe(value)))")
            }
            converted = .text(text)
        case .flag:
            guard value.type == .bool, let flag = value.bool else {
                throw fail("must be true or false (got \(describe(value)))")
            }
            converted = .flag(flag)
        }
        if let problem = rangeProblem(converted, for: key) { throw fail(problem) }
        return converted
    }

    /// What is wrong with a well-typed value for `key` (out of range, not a choice), or nil.
    static func rangeProblem(_ value: ConfigValue, for key: ConfigKey) -> String? {
        switch (key.kind, value) {
        case (.integer(let minimum, let maximum), .integer(let integer)):
            if integer >= minimum && integer <= maximum { return nil }
            return maximum == .max
                ? "must be ≥ \(minimum) (got \(integer))" : "must be from \(minimum) to \(maximum) (got \(integer))"
        case (.real(let minimum, let maximum, let inclusiveMinimum), .real(let number)):
            if !number.isFinite { return "must be a finite number (got \(number))" }
            let aboveMinimum = inclusiveMinimum ? number >= minimum : number > minimum
            if number.isFinite, aboveMinimum, number < maximum { return nil }
            let lower = inclusiveMinimum ? "≥ \(minimum)" : "> \(minimum)"
            let upper = maximum.isInfinite ? "" : " and < \(maximum)"
            return "must be \(lower)\(upper) (got \(number))"
        case (.choice(let choices), .text(let text)):
            return choices.contains(text) ? nil : choiceProblem(choices, got: "\"\(text)\"")
        default:
            return nil
        }
    }

    static func choiceProblem(_ choices: [String], got: String) -> String {
        "must be one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")) (got \(got))"
    }

    static func describe(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "\"\(value.string ?? "")\""
        case .int: return String(value.int ?? 0)
        case .double: return String(value.double ?? 0)
        case .bool: return String(value.bool ?? false)
        case .array: return "an array"
        case .table: return "a table"
        case .date: return "a date"
        case .time: return "a time"
        case .dateTime: return "a date-time"
        }
    }

    // MARK: - Messages

    static func unknownKeyAdvice(_ name: String, section: String) -> String {
        if section == "model" && name == "vocab_size" { return ": the vocabulary always comes from the corpus" }
        let here = ConfigSchema.keys.filter { $0.section == section }.map(\.name)
        if let elsewhere = ConfigSchema.keys.first(where: { $0.name == name }) {
            return "; it belongs in [\(elsewhere.section)]"
        }
        return suggestion(for: name, among: here)
    }

    /// "; did you mean 'x'?" for the closest candidate within a small edit distance.
    static func suggestion(for word: String, among candidates: [String]) -> String {
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, word.count / 3) else {
            return "; valid keys: \(candidates.joined(separator: ", "))"
        }
        return "; did you mean '\(best)'?"
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Line number (1-based) where `key` of `[section]` (or the section `key` itself, for
    /// `section == nil`) is first defined: its assignment, a dotted key through it (`extra.x = 1`
    /// in `[model]`, `model.d_model = 64` at the top), or a table header through it (`[model]`,
    /// `[model.extra]`, `[[model]]`), or an inline table around it. TOMLKit reports lines only for
    /// syntax errors, so this scans the text line by line (a line inside a multi-line string or
    /// array is read as a line of its own); 0 if not found.
    static func line(of key: String, section: String?, in text: String) -> Int {
        let wanted = (section.map { [$0] } ?? []) + [key]
        var table: [String] = []  // the current header's key path
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                table = keyPath(line.drop { $0 == "[" }.prefix { $0 != "]" })
                if table.starts(with: wanted) { return index + 1 }
            } else if !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") {
                // `path = …` defines `wanted` when it names it or a table around it (`model = { d_model = 64 }`).
                let path = table + keyPath(line[..<equals])
                if path.starts(with: wanted) || path.count > table.count && wanted.starts(with: path) {
                    return index + 1
                }
            }
        }
        return 0
    }

    /// The parts of a dotted TOML key, without whitespace and quotes: `model . "d_model"` →
    /// `["model", "d_model"]` (a quoted part holding a dot is split too: no config key has one).
    static func keyPath(_ text: Substring) -> [String] {
        text.split(separator: ".").map {
            $0.trimmingCharacters(in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"'")))
        }
    }
}

extension TrainingConfig {
    /// The fully resolved config as TOML: every key, derived values written out, `notes` as
    /// comments under the first line, and what the learning rate does as a comment in [optim].
    public func resolvedTOML(notes: [String] = []) -> String {
        var resolved = withScheduleResolved
        resolved.model = model.resolved
        var lines: [String] = ["# Resolved by QKLab \(QKLabVersion.string): every key, with overrides applied."]
        lines += notes.map { "# \($0)" }
        for section in ConfigSchema.sections {
            lines.append("")
            lines.append("[\(section)]")
            if section == "model" { lines.append("# vocab_size = \(model.vocabSize)  (from the corpus)") }
            if section == "optim" { lines.append("# learning rate: \(LearningRateSchedule(resolved).summary)") }
            for key in ConfigSchema.keys where key.section == section {
                if let value = key.read(resolved) { lines.append("\(key.name) = \(value)") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
