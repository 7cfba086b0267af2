import Foundation

/// One line of `metrics.jsonl`: an ordered list of snake_case keys and values.
public struct MetricsRecord: Equatable {
    public enum Value: Equatable {
        case integer(Int)
        /// A Float32 measurement; non-finite values are written as `null`.
        case number(Float)
        case precise(Double)
        case numbers([Float])
        /// A list of counts.
        case integers([Int])
        case null
    }

    public var fields: [(key: String, value: Value)]

    public init(_ fields: [(key: String, value: Value)]) { self.fields = fields }

    public static func == (a: MetricsRecord, b: MetricsRecord) -> Bool {
        a.fields.map(\.key) == b.fields.map(\.key) && a.fields.map(\.value) == b.fields.map(\.value)
    }

    /// The record as one JSON object on one line, keys in order.
    public var jsonLine: String {
        "{" + fields.map { "\"\($0.key)\": \(Self.json($0.value))" }.joined(separator: ", ") + "}"
    }

    static func json(_ value: Value) -> String {
        switch value {
        case .integer(let v): return String(v)
        case .number(let v): return v.isFinite ? "\(v)" : "null"
        case .precise(let v): return v.isFinite ? "\(v)" : "null"
        case .numbers(let vs): return "[" + vs.map { json(.number($0)) }.joined(separator: ", ") + "]"
        case .integers(let vs): return "[" + vs.map(String.init).joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }
}

/// Appends records to `metrics.jsonl`, one complete line per write.
///
/// Each line is one write(2) (`AppendOnlyFile`); a write that fails part-way (a full disk, a
/// file-size limit) is cut back to the previous line before the error is thrown, so the log
/// never ends in a torn line that `compare` or `--resume` would have to skip.
public final class MetricsLog {
    public let url: URL
    private let file: AppendOnlyFile

    /// Opens (creating if needed) the log for appending.
    public init(url: URL) throws {
        self.url = url
        file = try AppendOnlyFile(url)
    }

    /// Appends one line, or throws naming the file and the reason with the log unchanged.
    public func append(_ record: MetricsRecord) throws {
        try file.append(Array((record.jsonLine + "\n").utf8))
    }

    /// Rewrites the log keeping only complete lines with `step ≤ step` (used on resume, so lines
    /// written after the checkpoint by a run that then crashed do not appear twice). The file is
    /// replaced atomically, and left alone when it needs no change.
    public static func truncate(_ url: URL, afterStep step: Int) throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let data = try FileIO.read(url)
        let kept = MetricsReader.lines(of: data).filter { line in
            guard let object = MetricsReader.parse(line), let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        let text = Data(kept.map { $0 + "\n" }.joined().utf8)
        guard text != data else { return }
        try FileIO.replace(url, with: text)
    }
}

/// Reads `metrics.jsonl` tolerantly: a torn or malformed line is skipped, not fatal.
public enum MetricsReader {
    /// Complete lines (a last line without its newline is torn and dropped); a line that is not
    /// UTF-8 is dropped alone.
    static func lines(of data: Data) -> [String] {
        completeLines(of: data).compactMap { String(data: Data($0), encoding: .utf8) }
    }

    /// The non-empty lines that end in a newline, as bytes.
    static func completeLines(of data: Data) -> [Data.SubSequence] {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        lines.removeLast()  // after the final newline: empty, or a torn line
        return lines.filter { !$0.isEmpty }
    }

    static func parse(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    /// Every parseable line of the file at `url`, as dictionaries (`null` values as `NSNull`).
    public static func read(_ url: URL) throws -> [[String: Any]] {
        try readCounting(url).records
    }

    /// `read`, and how many complete lines were skipped as damaged (not counting a torn last
    /// line, which a run being written normally has).
    public static func readCounting(_ url: URL) throws -> (records: [[String: Any]], damagedLines: Int) {
        let complete = completeLines(of: try FileIO.read(url))
        let records = complete.compactMap { String(data: Data($0), encoding: .utf8).flatMap(parse) }
        return (records, complete.count - records.count)
    }
}
