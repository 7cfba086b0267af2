import Foundation
import TOMLKit

/// TOML parsing through TOMLKit, guarded: toml++ (which TOMLKit wraps) aborts the process on an
/// internal assertion when a table header's name starts with a character that cannot start a
/// key (`[)ata]`, `[\u{12}ptim]`; found by the fuzz tests), so such headers, and the control
/// characters TOML forbids anywhere, are rejected before the text is handed over. Errors are
/// one line: `source:line: problem`.
public enum TOMLDocument {
    public static func parse(_ text: String, source: String) throws -> TOMLTable {
        try rejectControlCharacters(in: text, source: source)
        try rejectBadTableHeaders(in: text, source: source)
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let line = Int(error.source.begin.line)
            let message = error.description.unicodeScalars.map {
                $0.value < 0x20 ? $0.escaped(asASCII: true) : String($0)
            }.joined()
            let problem = message.contains("cannot redefine") ? redefinition(at: line, in: text) ?? message : message
            throw ConfigError("\(source):\(line): \(problem)")
        }
    }

    /// toml++'s message for a key or table defined twice garbles the name ("cannot redefine
    /// existing integer '"d_d_model" '"), so QKLab names it from the line itself.
    static func redefinition(at line: Int, in text: String) -> String? {
        // "\r\n" is one Character
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard line >= 1, line <= lines.count else { return nil }
        let body = lines[line - 1].trimmingCharacters(in: .whitespacesAndNewlines)
        let name =
            body.hasPrefix("[")
            ? String(body.prefix { $0 != "#" }).trimmingCharacters(in: .whitespaces)
            : body.prefix { $0 != "=" }.trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : "\(name) is defined twice (TOML allows one definition of each key and table)"
    }

    /// TOML allows no control characters but tab, line feed and the carriage return of CRLF.
    static func rejectControlCharacters(in text: String, source: String) throws {
        var line = 1
        for scalar in text.unicodeScalars {
            if scalar == "\n" {
                line += 1
                continue
            }
            if scalar == "\t" || scalar == "\r" { continue }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let code = String(scalar.value, radix: 16, uppercase: true)
                throw ConfigError(
                    "\(source):\(line): control character U+\(String(repeating: "0", count: 4 - code.count))\(code) is not allowed in TOML"
                )
            }
        }
    }

    /// A line that opens a table header (`[name]`, `[[name]]`, outside any array) must continue
    /// with a bare-key character, a quote or `]`: what toml++ asserts instead of reporting.
    static func rejectBadTableHeaders(in text: String, source: String) throws {
        var arrayDepth = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let body = line.drop { $0 == " " || $0 == "\t" }
            if arrayDepth == 0, body.first == "[" {
                let name = body.dropFirst(body.hasPrefix("[[") ? 2 : 1).drop { $0 == " " || $0 == "\t" }
                guard let first = name.first, first.isASCII,
                    first.isLetter || first.isNumber || "_-\"']".contains(first)
                else {
                    throw ConfigError(
                        "\(source):\(index + 1): a table header must be [name] with a letter, digit, _, - or a quoted name"
                    )
                }
                continue
            }
            arrayDepth = max(0, arrayDepth + bracketBalance(of: body))
        }
    }

    /// `[` minus `]` outside strings and comments, for telling array lines from table headers.
    static func bracketBalance(of line: Substring) -> Int {
        var balance = 0
        var quote: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" {
                break
            } else if character == "[" {
                balance += 1
            } else if character == "]" {
                balance -= 1
            }
        }
        return balance
    }
}
