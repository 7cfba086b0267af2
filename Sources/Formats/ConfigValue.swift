import Foundation

/// A value as written in a config file or on the command line.
public enum ConfigValue: Equatable, CustomStringConvertible {
    case integer(Int)
    case real(Double)
    case text(String)
    case flag(Bool)

    /// The value as TOML writes it.
    public var description: String {
        switch self {
        case .integer(let value): return String(value)
        case .real(let value):
            return value == value.rounded() && abs(value) < 1e15 ? String(format: "%.1f", value) : "\(value)"
        case .text(let value):
            return
                "\"\(value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
        case .flag(let value): return String(value)
        }
    }
}
