import ArgumentParser
import Foundation

/// Parsers for numeric options whose errors give the right reason: not a number, not finite,
/// out of range — never "must be ≥ 0" for an infinity, nor "missing value" for a negative
/// number. Used as `transform:` of options declared with `parsing: .unconditional`, so that a
/// value starting with "-" is read as the option's value and judged by these rules.
enum OptionValue {
    /// An integer in `range`.
    static func integer(_ text: String, in range: ClosedRange<Int>) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = Int(trimmed) else {
            let isInteger =
                !trimmed.isEmpty
                && trimmed.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy { $0.isASCII && $0.isNumber }
            throw OptionValueError(isInteger ? "must be \(describe(range))" : "not an integer")
        }
        guard range.contains(value) else { throw OptionValueError("must be \(describe(range))") }
        return value
    }

    /// A seed: an integer from 0 to 2⁶⁴ − 1.
    static func seed(_ text: String) throws -> UInt64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = UInt64(trimmed) else {
            let isInteger =
                !trimmed.isEmpty
                && trimmed.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy { $0.isASCII && $0.isNumber }
            throw OptionValueError(isInteger ? "must be an integer from 0 to \(UInt64.max)" : "not an integer")
        }
        return value
    }

    /// A finite number at least `minimum`.
    static func number(_ text: String, atLeast minimum: Double) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
            throw OptionValueError("not a number")
        }
        let rule = "must be a finite number ≥ \(minimum.formatted)"
        if value.isNaN { throw OptionValueError("\(rule), not NaN") }
        if value.isInfinite {
            let spelled = text.lowercased().contains("inf")
            throw OptionValueError(
                spelled ? "\(rule), not infinity" : "\(rule) (\(text) is beyond the range of a Double)")
        }
        guard value >= minimum else { throw OptionValueError("must be ≥ \(minimum.formatted)") }
        return value
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max
            ? "an integer ≥ \(range.lowerBound)" : "an integer from \(range.lowerBound) to \(range.upperBound)"
    }
}

/// Why an option's value was refused; argument-parser prefixes the option and the value.
struct OptionValueError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension Double {
    /// 0, 0.5, 1e-05: integers without ".0".
    fileprivate var formatted: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
