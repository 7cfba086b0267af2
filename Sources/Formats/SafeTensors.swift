import Foundation

/// One named Float32 tensor as stored in a safetensors file.
public struct NamedTensor: Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A safetensors file that cannot be written or read, as one line naming the file.
public struct SafeTensorsError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Reads and writes the safetensors format (F32 tensors only):
///
///     8 bytes    little-endian UInt64 N, the header length
///     N bytes    UTF-8 JSON object: {"__metadata__": {string: string},
///                "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...},
///                padded with trailing spaces so that the buffer starts 8-byte aligned
///     rest       the byte buffer; offsets are relative to its start
///
/// Writing puts the tensors in the given order, contiguous, and `__metadata__` first (omitted
/// when empty), keys sorted. Reading validates everything before trusting it, like the
/// reference implementation: the buffer must be covered exactly (no overlaps, no holes, no
/// trailing bytes). Duplicate JSON keys, which the reference silently merges, are rejected.
public enum SafeTensors {
    /// The `dtype` QKLab writes and reads.
    static let dtype = "F32"
    /// The other dtypes of the safetensors format: a file with one of them is valid, but not one
    /// QKLab reads (any other dtype string means a damaged file).
    /// (safetensors 0.8's `Dtype`.)
    static let otherDtypes: Set<String> = [
        "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "C64",
        "F64", "I64", "U64",
    ]
    /// Deepest JSON nesting accepted in a header (the format needs 3; serde_json, which the
    /// reference uses, stops at 128).
    static let maximumDepth = 128

    /// Writes tensors in the given order; metadata goes to "__metadata__". The file is replaced
    /// atomically (`FileIO.replace`: a temporary file beside it, fsynced, renamed), so a failed
    /// write leaves the previous file as it was.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], to url: URL) throws {
        try write(encoded: try encode(tensors, metadata: metadata, destination: url.path), to: url)
    }

    /// Writes the bytes of a file made by `encode` to `url`, atomically like `write`.
    public static func write(encoded data: Data, to url: URL) throws {
        do {
            try FileIO.replace(url, with: data)
        } catch let error as FileError {
            throw SafeTensorsError(
                "cannot write safetensors file \(url.path): \(String(cString: strerror(error.code)))")
        }
    }

    /// Serialised bytes (used by write and by tests).
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors, metadata: metadata, destination: nil)
    }

    static func encode(_ tensors: [NamedTensor], metadata: [String: String], destination: String?) throws -> Data {
        func failure(_ what: String) -> SafeTensorsError {
            SafeTensorsError("cannot write safetensors\(destination.map { " file \($0)" } ?? ""): \(what)")
        }
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { jsonString($0) + ":" + jsonString(metadata[$0]!) }.joined(
                separator: ",")
            header += "}"
            first = false
        }
        var names = Set<[UInt8]>()
        var offset = 0
        for tensor in tensors {
            let name = quoted(tensor.name)
            guard tensor.name != "__metadata__" else { throw failure("a tensor may not be named \"__metadata__\"") }
            guard names.insert(Array(tensor.name.utf8)).inserted else { throw failure("tensor \(name) appears twice") }
            guard let count = elementCount(tensor.shape) else {
                throw failure("tensor \(name) has an invalid shape \(shapeText(tensor.shape))")
            }
            guard count == tensor.values.count else {
                throw failure(
                    "tensor \(name) has shape \(shapeText(tensor.shape)) (\(counted(count, "value"))) but holds \(counted(tensor.values.count, "value"))"
                )
            }
            let end = offset + 4 * count  // cannot overflow: the values are in memory
            header += (first ? "" : ",") + jsonString(tensor.name)
            header += ":{\"dtype\":\"\(dtype)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            header += "\"data_offsets\":[\(offset),\(end)]}"
            first = false
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // Pad with spaces so that the buffer starts at a multiple of 8 (8 + N ≡ 0 mod 8).
        headerBytes += Array(repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)

        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for tensor in tensors {
            #if _endian(big)
                for value in tensor.values {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
                }
            #else
                // Little-endian host: Float's in-memory bytes are the file's bytes.
                tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }
            #endif
        }
        return data
    }

    /// Reads and validates a file. Tensors come back in file-offset order.
    public static func read(_ url: URL) throws -> (tensors: [NamedTensor], metadata: [String: String]) {
        try decode(try readFile(url.path), source: url.path)
    }

    /// The tensor names (in header order) and `__metadata__` of the safetensors file at `url`,
    /// read from its header alone (the tensors' bytes are not read or checked); nil when the file
    /// cannot be read or does not start with a safetensors header.
    public static func header(ofFileAt url: URL) -> (names: [String], metadata: [String: String])? {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return header(ofDescriptor: fd)
    }

    /// `header(ofFileAt:)` of the file open at `fd` (read with `pread`, from offset 0).
    public static func header(ofDescriptor fd: Int32) -> (names: [String], metadata: [String: String])? {
        var length: UInt64 = 0
        guard pread(fd, &length, 8, 0) == 8 else { return nil }
        let count = Int(clamping: UInt64(littleEndian: length))
        guard count > 0, count <= 100_000_000 else { return nil }
        var header = [UInt8](repeating: 0, count: count)
        guard pread(fd, &header, count, 8) == count else { return nil }
        return header.withUnsafeBytes { bytes in
            guard firstInvalidUTF8(bytes) == nil else { return nil }
            var parser = HeaderParser(bytes: bytes)
            return (try? parser.parseHeader()).map { ($0.entries.map(\.name), $0.metadata) }
        }
    }

    /// Validates and decodes the bytes of a safetensors file; `source` names it in errors.
    /// Tensors come back in file-offset order.
    public static func decode(_ data: Data, source: String) throws -> (
        tensors: [NamedTensor], metadata: [String: String]
    ) {
        func failure(_ what: String) -> SafeTensorsError {
            SafeTensorsError("corrupt safetensors file \(source): \(what)")
        }
        return try data.withUnsafeBytes { (file: UnsafeRawBufferPointer) in
            guard file.count >= 8 else {
                throw failure("\(counted(file.count, "byte")), too short for the 8-byte header length")
            }
            var headerLength: UInt64 = 0
            for index in (0..<8).reversed() { headerLength = headerLength << 8 | UInt64(file[index]) }
            // Checked before anything is allocated: the header must fit in the file.
            guard headerLength <= UInt64(file.count - 8) else {
                throw failure("header length \(headerLength) exceeds file size \(file.count)")
            }
            let bufferStart = 8 + Int(headerLength)
            let header = UnsafeRawBufferPointer(rebasing: file[8..<bufferStart])
            if let offset = firstInvalidUTF8(header) {
                throw failure("header is not UTF-8 (invalid byte at header offset \(offset))")
            }
            var parser = HeaderParser(bytes: header)
            let parsed: (entries: [Entry], metadata: [String: String])
            do {
                parsed = try parser.parseHeader()
            } catch let error as HeaderParser.Failure {
                throw failure(error.message)
            }
            let bufferLength = file.count - bufferStart

            for entry in parsed.entries {
                let name = quoted(entry.name)
                guard entry.dtype == dtype else {
                    guard otherDtypes.contains(entry.dtype) else {
                        throw failure(
                            "tensor \(name) has dtype \(quoted(entry.dtype)), which safetensors does not define")
                    }
                    throw SafeTensorsError(
                        "unsupported safetensors file \(source): tensor \(name) has dtype \(quoted(entry.dtype)); "
                            + "QKLab reads \(dtype) only (save the model in float32, e.g. model.float().save_pretrained(…))"
                    )
                }
                guard let count = elementCount(entry.shape),
                    case (let bytes, false) = count.multipliedReportingOverflow(by: 4)
                else {
                    throw failure("tensor \(name) has shape \(shapeText(entry.shape)) whose byte size overflows")
                }
                guard entry.begin <= entry.end else {
                    throw failure("tensor \(name) has data_offsets [\(entry.begin), \(entry.end)] with begin > end")
                }
                guard entry.end <= bufferLength else {
                    throw failure(
                        "tensor \(name) has data_offsets [\(entry.begin), \(entry.end)] beyond the \(bufferLength)-byte buffer"
                    )
                }
                guard bytes == entry.end - entry.begin else {
                    throw failure(
                        "tensor \(name) has shape \(shapeText(entry.shape)) (\(count) F32 values) but data_offsets [\(entry.begin), \(entry.end)] hold \(entry.end - entry.begin) bytes"
                    )
                }
            }
            // File-offset order (ties, i.e. empty tensors, keep header order); the buffer must be
            // covered exactly, as the reference implementation requires.
            let ordered = parsed.entries.enumerated().sorted {
                ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
            }.map(\.element)
            var covered = 0
            var previous: Entry?
            for entry in ordered {
                if entry.begin < covered, let previous {
                    throw failure(
                        "tensors \(quoted(previous.name)) [\(previous.begin), \(previous.end)] and \(quoted(entry.name)) [\(entry.begin), \(entry.end)] overlap"
                    )
                }
                guard entry.begin == covered else {
                    throw failure("bytes [\(covered), \(entry.begin)) of the buffer belong to no tensor")
                }
                covered = entry.end
                previous = entry
            }
            guard covered == bufferLength else {
                throw failure("bytes [\(covered), \(bufferLength)) of the buffer belong to no tensor")
            }

            let tensors = ordered.map { entry -> NamedTensor in
                let count = (entry.end - entry.begin) / 4
                let bytes = UnsafeRawBufferPointer(
                    rebasing: file[(bufferStart + entry.begin)..<(bufferStart + entry.end)])
                var values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    // The file is little-endian, as is the x86-64/arm64 host: a plain byte copy
                    // (no alignment needed) gives the values; big-endian hosts swap below.
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
                    initialized = count
                }
                #if _endian(big)
                    for index in values.indices {
                        values[index] = Float(bitPattern: UInt32(littleEndian: values[index].bitPattern))
                    }
                #endif
                return NamedTensor(name: entry.name, shape: entry.shape, values: values)
            }
            return (tensors, parsed.metadata)
        }
    }

    // MARK: - Helpers

    /// Product of the dimensions; nil if one is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// A shape for an error message, abbreviated if it has many dimensions.
    static func shapeText(_ shape: [Int]) -> String {
        guard shape.count > 8 else { return "\(shape)" }
        return "[" + shape.prefix(8).map(String.init).joined(separator: ", ") + ", … (\(shape.count) dimensions)]"
    }

    /// A JSON string literal (non-ASCII written as UTF-8).
    static func jsonString(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// A name from a file for an error message: quoted, escaped, kept to one short line.
    static func quoted(_ string: String) -> String {
        let limit = 80
        let scalars = string.unicodeScalars
        if scalars.count <= limit { return jsonString(string) }
        var prefix = String.UnicodeScalarView()
        prefix.append(contentsOf: scalars.prefix(limit))
        return jsonString(String(prefix)) + "…"
    }

    /// Offset of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var consumed = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): consumed += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return consumed
            }
        }
    }

    /// Reads a whole file (`FileIO`'s POSIX reads, so that errors name their cause).
    static func readFile(_ path: String) throws -> Data {
        do {
            return try FileIO.read(URL(fileURLWithPath: path))
        } catch let error as FileError {
            throw SafeTensorsError("cannot read safetensors file \(path): \(String(cString: strerror(error.code)))")
        }
    }

    /// A tensor entry as the header describes it (shape dims and offsets non-negative).
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// A minimal JSON parser for the header: it reads the three fixed levels straight into
    /// `Entry`s (no value tree), rejects duplicate keys in every object, validates and skips
    /// unknown fields, and bounds nesting. Allocation stays proportional to the header.
    struct HeaderParser {
        struct Failure: Error {
            var message: String
        }

        let bytes: UnsafeRawBufferPointer
        var position = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func parseHeader() throws -> (entries: [Entry], metadata: [String: String]) {
            var entries: [Entry] = []
            var metadata: [String: String] = [:]
            skipWhitespace()
            guard peek() == UInt8(ascii: "{") else {
                throw Failure(message: position == bytes.count ? "header is empty" : "header is not a JSON object")
            }
            try parseObject { parser, key in
                if key == "__metadata__" {
                    metadata = try parser.parseMetadata()
                } else {
                    entries.append(try parser.parseEntry(name: key))
                }
            }
            skipWhitespace()
            guard position == bytes.count else { throw invalid("unexpected data after the JSON object") }
            return (entries, metadata)
        }

        mutating func parseMetadata() throws -> [String: String] {
            var metadata: [String: String] = [:]
            if try parseNull() { return metadata }
            guard peek() == UInt8(ascii: "{") else { throw Failure(message: "__metadata__ is not an object") }
            try parseObject { parser, key in
                guard parser.peek() == UInt8(ascii: "\"") else {
                    throw Failure(message: "__metadata__ value of \(quoted(key)) is not a string")
                }
                metadata[key] = try parser.parseString()
            }
            return metadata
        }

        mutating func parseEntry(name: String) throws -> Entry {
            let quotedName = quoted(name)
            guard peek() == UInt8(ascii: "{") else { throw Failure(message: "tensor \(quotedName) is not an object") }
            var dtype: String?
            var shape: [Int]?
            var offsets: [Int]?
            try parseObject { parser, key in
                switch key {
                case "dtype":
                    guard parser.peek() == UInt8(ascii: "\"") else {
                        throw Failure(message: "tensor \(quotedName): dtype is not a string")
                    }
                    dtype = try parser.parseString()
                case "shape":
                    shape = try parser.parseIntegers(what: "tensor \(quotedName): shape")
                case "data_offsets":
                    offsets = try parser.parseIntegers(what: "tensor \(quotedName): data_offsets")
                default:
                    try parser.skipValue(depth: 3)
                }
            }
            guard let dtype else { throw Failure(message: "tensor \(quotedName) has no dtype") }
            guard let shape else { throw Failure(message: "tensor \(quotedName) has no shape") }
            guard let offsets else { throw Failure(message: "tensor \(quotedName) has no data_offsets") }
            guard offsets.count == 2 else {
                throw Failure(
                    message:
                        "tensor \(quotedName): data_offsets holds \(offsets.count) integer\(offsets.count == 1 ? "" : "s"), not [begin, end]"
                )
            }
            return Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }

        /// A JSON array of non-negative integers that fit in Int.
        mutating func parseIntegers(what: String) throws -> [Int] {
            guard peek() == UInt8(ascii: "[") else { throw Failure(message: "\(what) is not a list of integers") }
            position += 1
            var values: [Int] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return values
            }
            while true {
                skipWhitespace()
                guard let byte = peek(),
                    byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                else {
                    throw Failure(message: "\(what) is not a list of integers")
                }
                let literal = try parseNumber()
                let shown = literal.count <= 40 ? literal : String(literal.prefix(40)) + "…"
                guard let value = Int(literal) else {
                    let isInteger = !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
                    throw Failure(message: "\(what) holds \(shown), \(isInteger ? "out of range" : "not an integer")")
                }
                guard value >= 0, !literal.hasPrefix("-") else {
                    throw Failure(message: "\(what) holds \(shown), a negative value")
                }
                values.append(value)
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    return values
                default: throw invalid("expected ',' or ']'")
                }
            }
        }

        /// Parses an object at `position`, calling `member` with the parser positioned at each
        /// value (after whitespace); `member` must consume the value. Rejects duplicate keys.
        mutating func parseObject(_ member: (inout HeaderParser, String) throws -> Void) throws {
            position += 1  // "{"
            var keys = Set<[UInt8]>()  // compared as bytes: distinct JSON keys stay distinct
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return
            }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw invalid("expected a string key") }
                let key = try parseString()
                guard keys.insert(Array(key.utf8)).inserted else {
                    throw Failure(message: "duplicate key \(quoted(key)) in the header")
                }
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw invalid("expected ':'") }
                position += 1
                skipWhitespace()
                try member(&self, key)
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "}"):
                    position += 1
                    return
                default: throw invalid("expected ',' or '}'")
                }
            }
        }

        /// Validates and skips any JSON value (fields this reader ignores).
        mutating func skipValue(depth: Int) throws {
            guard depth <= maximumDepth else { throw invalid("nesting deeper than \(maximumDepth) levels") }
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "{"):
                try parseObject { parser, _ in try parser.skipValue(depth: depth + 1) }
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    position += 1
                    return
                }
                while true {
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    switch peek() {
                    case UInt8(ascii: ","): position += 1
                    case UInt8(ascii: "]"):
                        position += 1
                        return
                    default: throw invalid("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""): _ = try parseString()
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            case .some(let byte)
            where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                _ = try parseNumber()
            default: throw invalid("expected a value")
            }
        }

        /// `null` at `position` is consumed and reported.
        mutating func parseNull() throws -> Bool {
            guard peek() == UInt8(ascii: "n") else { return false }
            try expectLiteral("null")
            return true
        }

        mutating func expectLiteral(_ literal: StaticString) throws {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - position >= count else { throw invalid("expected a value") }
            for index in 0..<count where bytes[position + index] != literal.utf8Start[index] {
                throw invalid("expected a value")
            }
            position += count
        }

        /// A number per the JSON grammar; returns its literal text.
        mutating func parseNumber() throws -> String {
            let start = position
            func digits(_ parser: inout HeaderParser) -> Int {
                let begin = parser.position
                while let byte = parser.peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    parser.position += 1
                }
                return parser.position - begin
            }
            if peek() == UInt8(ascii: "-") { position += 1 }
            if peek() == UInt8(ascii: "0") {
                position += 1
            } else if digits(&self) == 0 {
                throw invalid("malformed number")
            }
            if peek() == UInt8(ascii: ".") {
                position += 1
                guard digits(&self) > 0 else { throw invalid("malformed number") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                position += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
                guard digits(&self) > 0 else { throw invalid("malformed number") }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        }

        /// A string at `position` (which holds the opening quote), escapes resolved.
        mutating func parseString() throws -> String {
            position += 1
            var result: [UInt8] = []
            while true {
                guard let byte = peek() else { throw invalid("unterminated string") }
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    // The header was validated as UTF-8 and escapes produce valid scalars.
                    return String(decoding: result, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escape = peek() else { throw invalid("unterminated string") }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): result.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): result.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): result.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): result.append(0x08)
                    case UInt8(ascii: "f"): result.append(0x0C)
                    case UInt8(ascii: "n"): result.append(0x0A)
                    case UInt8(ascii: "r"): result.append(0x0D)
                    case UInt8(ascii: "t"): result.append(0x09)
                    case UInt8(ascii: "u"):
                        var value = try parseHex4()
                        if (0xD800..<0xDC00).contains(value) {
                            guard peek() == UInt8(ascii: "\\"), position + 1 < bytes.count,
                                bytes[position + 1] == UInt8(ascii: "u")
                            else {
                                throw invalid("unpaired surrogate in \\u escape")
                            }
                            position += 2
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else {
                                throw invalid("unpaired surrogate in \\u escape")
                            }
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(value) else {
                            throw invalid("unpaired surrogate in \\u escape")
                        }
                        result.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw invalid("invalid escape in string")
                    }
                case 0..<0x20: throw invalid("control character in string")
                default: result.append(byte)
                }
            }
        }

        mutating func parseHex4() throws -> UInt32 {
            guard bytes.count - position >= 4 else { throw invalid("malformed \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw invalid("malformed \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        func peek() -> UInt8? {
            position < bytes.count ? bytes[position] : nil
        }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        func invalid(_ what: String) -> Failure {
            let found = position < bytes.count ? "" : " (end of header)"
            return Failure(message: "header is not valid JSON: \(what) at header offset \(position)\(found)")
        }
    }
}
