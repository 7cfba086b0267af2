import Foundation

/// One line of `metrics.jsonl`: an ordered list of snake_case keys and values.
public struct MetricsRecord: Equatable {
    public enum Value: Equatable {
        case integer(Int)
        /// A Float32 measurement; non-finite values are written as `null`.
        case number(Float)
        case precise(Double)
        case numbers([Float])
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
        case .null: return "null"
        }
    }
}

/// Appends records to `metrics.jsonl`, one complete line per write.
public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens (creating if needed) the log for appending.
    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Appends one line. A single `write` of the whole line, so a crash can at worst leave the
    /// last line torn, which readers skip.
    public func append(_ record: MetricsRecord) throws {
        try handle.write(contentsOf: Data((record.jsonLine + "\n").utf8))
    }

    /// Rewrites the log keeping only complete lines with `step ≤ step` (used on resume, so lines
    /// written after the checkpoint by a run that then crashed do not appear twice).
    public static func truncate(_ url: URL, afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        let kept = MetricsReader.lines(of: data).filter { line in
            guard let object = MetricsReader.parse(line), let lineStep = object["step"] as? Int else { return false }
            return lineStep <= step
        }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".metrics-\(getpid()).jsonl")
        try writeSynced(Data(kept.map { $0 + "\n" }.joined().utf8), to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw RunError("could not rewrite \(url.path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Reads `metrics.jsonl` tolerantly: a torn or malformed line is skipped, not fatal.
public enum MetricsReader {
    /// Complete lines (a last line without its newline is torn and dropped).
    static func lines(of data: Data) -> [String] {
        guard let text = String(data: data, encoding: .utf8) ?? String(data: data.prefix { $0 != 0 }, encoding: .utf8) else { return [] }
        var lines = text.components(separatedBy: "\n")
        lines.removeLast()            // after the final newline: empty, or a torn line
        return lines.filter { !$0.isEmpty }
    }

    static func parse(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    /// Every parseable line of the file at `url`, as dictionaries (`null` values as `NSNull`).
    public static func read(_ url: URL) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunError("cannot read \(url.path)")
        }
        return lines(of: data).compactMap(parse)
    }
}
