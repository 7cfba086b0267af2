import Foundation

// TensorBoard event files, written and read by hand.
//
// An event file is a sequence of TFRecords, each holding one serialised `Event` protobuf
// (tensorflow/core/util/event.proto). QKLab needs five fields of that stable format — wall
// time, step, file version, and a summary of (tag, float) values — so a few lines of varint
// and fixed-width encoding replace swift-protobuf, its code generator (a build plugin or a
// checked-in generated file) and its build time.
//
// TFRecord framing, all integers little-endian:
//
//     UInt64   length of the data
//     UInt32   masked CRC32C of those 8 length bytes
//     bytes    data (here: one Event)
//     UInt32   masked CRC32C of the data
//
// The Event fields used (field number, wire type):
//
//     Event    wall_time double (1, fixed64), step int64 (2, varint),
//              file_version string (3, length-delimited), summary Summary (5, length-delimited)
//     Summary  value repeated Value (1, length-delimited)
//     Value    tag string (1, length-delimited), simple_value float (2, fixed32)

// MARK: - Writer

/// Appends scalar summaries to a TensorBoard event file,
/// `events.out.tfevents.<unix-seconds>.<hostname>` in a run folder.
///
/// Each `add` writes one complete record with a single write, and a write that fails part-way
/// is cut back to the previous record (`AppendOnlyFile`), so the file never ends in a torn
/// record. Not thread-safe: use one writer from one thread at a time.
public final class TensorBoardWriter {
    /// The event file this writer appends to.
    public let fileURL: URL
    private let file: AppendOnlyFile

    /// Creates a new event file in `directory` (which must exist) and writes the first record,
    /// the Event with file_version "brain.Event:2".
    ///
    /// The name's seconds are those of `wallTime`, or one more than the newest event file
    /// already in the folder when that is not older, so the name is new and sorts after every
    /// existing file (TensorBoard reads a folder's event files in name order; a resumed run
    /// that starts within the same second as its previous part must not clash with it or sort
    /// before it). The file is created exclusively: nothing is ever overwritten.
    public init(directory: URL, wallTime: Double = Date().timeIntervalSince1970) throws {
        let host = Self.hostName()
        let newest = Self.eventFiles(in: directory).compactMap { Self.seconds(inName: $0.lastPathComponent) }.max()
        var seconds = max(Int(wallTime), newest.map { $0 + 1 } ?? Int.min)
        var created: (URL, AppendOnlyFile)?
        for _ in 0..<100 where created == nil {
            let url = directory.appendingPathComponent("events.out.tfevents.\(seconds).\(host)")
            do {
                created = (url, try AppendOnlyFile(url, exclusive: true))
            } catch let error as FileError where error.code == EEXIST {
                seconds += 1
            } catch let error as FileError {
                throw TensorBoardError(
                    "cannot create TensorBoard event file \(url.path): \(String(cString: strerror(error.code)))")
            }
        }
        guard let (url, file) = created else {
            throw TensorBoardError(
                "cannot create a TensorBoard event file in \(directory.path): every name tried exists")
        }
        (fileURL, self.file) = (url, file)
        do {
            try append(TensorBoardEncoding.event(wallTime: wallTime, fileVersion: TensorBoardEncoding.fileVersion))
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Appends one Event at `step` whose Summary holds all `scalars`, in order. Non-finite
    /// values are written as they are (TensorBoard shows NaN and infinities).
    public func add(step: Int, scalars: [(tag: String, value: Float)], wallTime: Double = Date().timeIntervalSince1970)
        throws
    {
        let summary = TensorBoardEncoding.summary(scalars)
        try append(TensorBoardEncoding.event(wallTime: wallTime, step: step, summary: summary))
    }

    /// Closes the file. Later `add` calls throw; closing twice does nothing.
    public func close() {
        file.close()
    }

    /// Frames `event` as a TFRecord and appends it with one write (no fsync per record).
    private func append(_ event: [UInt8]) throws {
        do {
            try file.append(TFRecord.frame(event))
        } catch let error as FileError {
            let reason = error.code == EBADF ? "the writer is closed" : String(cString: strerror(error.code))
            throw TensorBoardError("cannot write TensorBoard event file \(fileURL.path): \(reason)")
        }
    }

    /// Cuts every event file in `directory` back to its records of steps ≤ `step` (and its
    /// file_version record), dropping a torn or damaged tail. Used on resume, so that the steps
    /// between the checkpoint and an interruption, which the resumed run trains again, are
    /// not shown twice: the TensorBoard view of a resumed run equals its metrics.jsonl. A file
    /// that needs no change is not touched; one that does is replaced atomically.
    public static func truncateEventFiles(in directory: URL, afterStep step: Int) throws {
        for url in eventFiles(in: directory) {
            let bytes: [UInt8]
            do {
                bytes = [UInt8](try FileIO.read(url))
            } catch let error as FileError {
                throw TensorBoardError(
                    "cannot read TensorBoard event file \(url.path): \(String(cString: strerror(error.code)))")
            }
            var kept: [UInt8] = []
            var offset = 0
            while offset < bytes.count, let (data, next) = try? TFRecord.unframe(bytes, at: offset),
                let record = try? TensorBoardDecoding.event(data)
            {
                if record.step <= step { kept += bytes[offset..<next] }
                offset = next
            }
            guard kept.count != bytes.count else { continue }
            do {
                try FileIO.replace(url, with: Data(kept))
            } catch let error as FileError {
                throw TensorBoardError(
                    "cannot rewrite TensorBoard event file \(url.path): \(String(cString: strerror(error.code)))")
            }
        }
    }

    /// The event files in `directory` (names starting `events.out.tfevents.`), sorted by name.
    public static func eventFiles(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("events.out.tfevents.") && !$0.hasPrefix(".") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// The seconds of an event file's name, `events.out.tfevents.<seconds>.<host>`.
    static func seconds(inName name: String) -> Int? {
        let rest = name.dropFirst("events.out.tfevents.".count)
        return Int(rest.prefix { $0.isNumber })
    }

    /// The host name as `gethostname` reports it (what TensorFlow's writers use), without any
    /// DNS lookup; "localhost" if it is unavailable.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "/", with: "_")
        return name.isEmpty ? "localhost" : name
    }
}

// MARK: - Reader

/// One Event of an event file, as far as QKLab writes it.
public struct TensorBoardRecord: Equatable {
    /// The Event's step (0 when absent, as for the file_version record).
    public var step: Int
    /// Seconds since 1970.
    public var wallTime: Double
    /// Set on the first record of a file: "brain.Event:2".
    public var fileVersion: String?
    /// The summary's simple (float) values by tag; values of other kinds are skipped.
    public var scalars: [String: Float]

    public init(step: Int = 0, wallTime: Double = 0, fileVersion: String? = nil, scalars: [String: Float] = [:]) {
        self.step = step
        self.wallTime = wallTime
        self.fileVersion = fileVersion
        self.scalars = scalars
    }
}

/// A TensorBoard event file that cannot be written or read, as one line naming the file
/// (and, when reading, the byte offset of the bad record).
public struct TensorBoardError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Reads event files (used by tests; TensorBoard itself does the real reading).
public enum TensorBoardReader {
    /// Reads every record, checking both CRCs of each; throws TensorBoardError with a message
    /// naming the file and byte offset on a bad CRC or truncation. Unknown protobuf fields are
    /// skipped, so files written by other tools are read too.
    public static func read(_ url: URL) throws -> [TensorBoardRecord] {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try FileIO.read(url))
        } catch let error as FileError {
            throw TensorBoardError(
                "cannot read TensorBoard event file \(url.path): \(String(cString: strerror(error.code)))")
        }
        var records: [TensorBoardRecord] = []
        var offset = 0
        while offset < bytes.count {
            func failure(_ what: String) -> TensorBoardError {
                TensorBoardError("corrupt TensorBoard event file \(url.path): record at byte \(offset): \(what)")
            }
            do {
                let (data, next) = try TFRecord.unframe(bytes, at: offset)
                records.append(try TensorBoardDecoding.event(data))
                offset = next
            } catch let error as TensorBoardDecoding.Failure {
                throw failure(error.message)
            }
        }
        return records
    }
}

// MARK: - CRC32C (masked)

extension CRC32C {
    /// TFRecord's masked CRC, so that a CRC stored inside checksummed data does not checksum
    /// to a fixed value.
    static func masked(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}

// MARK: - TFRecord framing

enum TFRecord {
    /// Bytes before the data: length and its CRC.
    static let headerSize = 12
    /// Bytes after the data: its CRC.
    static let footerSize = 4

    /// length, masked CRC of length, data, masked CRC of data.
    static func frame(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndianBytes(UInt64(data.count))
        var record = length
        record.reserveCapacity(headerSize + data.count + footerSize)
        record += littleEndianBytes(CRC32C.masked(length))
        record += data
        record += littleEndianBytes(CRC32C.masked(data))
        return record
    }

    /// The data of the record starting at `offset`, and the offset of the next record; both
    /// CRCs are checked.
    static func unframe(_ file: [UInt8], at offset: Int) throws -> (data: ArraySlice<UInt8>, next: Int) {
        let available = file.count - offset
        guard available >= headerSize else {
            throw TensorBoardDecoding.Failure(
                "truncated: \(counted(available, "byte")) left, a record header needs \(headerSize)")
        }
        let lengthBytes = file[offset..<offset + 8]
        try check(lengthBytes, against: file, at: offset + 8, what: "length")
        let length = littleEndianInteger(lengthBytes, as: UInt64.self)
        let afterHeader = available - headerSize
        // Compared as UInt64: a huge length must not overflow Int.
        guard afterHeader >= footerSize, length <= UInt64(afterHeader - footerSize) else {
            throw TensorBoardDecoding.Failure(
                "truncated: the record holds \(length) data bytes plus a \(footerSize)-byte CRC, but only \(counted(afterHeader, "byte")) follow\(afterHeader == 1 ? "s" : "") its header"
            )
        }
        return try unframeData(file, at: offset, length: Int(length))
    }

    private static func unframeData(_ file: [UInt8], at offset: Int, length: Int) throws -> (
        data: ArraySlice<UInt8>, next: Int
    ) {
        let start = offset + headerSize
        let data = file[start..<start + length]
        try check(data, against: file, at: start + length, what: "data")
        return (data, start + length + footerSize)
    }

    /// Throws unless the masked CRC stored at `file[crcOffset...]` is that of `bytes`.
    private static func check(_ bytes: ArraySlice<UInt8>, against file: [UInt8], at crcOffset: Int, what: String) throws
    {
        let stored = littleEndianInteger(file[crcOffset..<crcOffset + 4], as: UInt32.self)
        let computed = CRC32C.masked(bytes)
        guard stored == computed else {
            throw TensorBoardDecoding.Failure("\(what) CRC mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
    }

    private static func hex(_ value: UInt32) -> String {
        "0x" + String(value, radix: 16, uppercase: true)
    }
}

// MARK: - Protobuf encoding

/// Hand-written protobuf encoding of the Event fields QKLab writes.
enum TensorBoardEncoding {
    static let fileVersion = "brain.Event:2"

    /// Wire types.
    static let varint: UInt8 = 0, fixed64: UInt8 = 1, lengthDelimited: UInt8 = 2, fixed32: UInt8 = 5

    /// An Event; absent fields are omitted (step 0 is written when given).
    static func event(wallTime: Double, step: Int? = nil, fileVersion: String? = nil, summary: [UInt8]? = nil)
        -> [UInt8]
    {
        var bytes = key(1, fixed64) + littleEndianBytes(wallTime.bitPattern)
        if let step { bytes += key(2, varint) + varintBytes(UInt64(bitPattern: Int64(step))) }
        if let fileVersion { bytes += lengthDelimitedField(3, Array(fileVersion.utf8)) }
        if let summary { bytes += lengthDelimitedField(5, summary) }
        return bytes
    }

    /// A Summary holding one simple-value Value per scalar, in order.
    static func summary(_ scalars: [(tag: String, value: Float)]) -> [UInt8] {
        scalars.flatMap { scalar in
            let value =
                lengthDelimitedField(1, Array(scalar.tag.utf8)) + key(2, fixed32)
                + littleEndianBytes(scalar.value.bitPattern)
            return lengthDelimitedField(1, value)
        }
    }

    static func key(_ field: UInt64, _ wireType: UInt8) -> [UInt8] {
        varintBytes(field << 3 | UInt64(wireType))
    }

    static func lengthDelimitedField(_ field: UInt64, _ payload: [UInt8]) -> [UInt8] {
        key(field, lengthDelimited) + varintBytes(UInt64(payload.count)) + payload
    }

    /// Base-128, least significant group first, high bit set on all but the last byte.
    static func varintBytes(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }
}

// MARK: - Protobuf decoding

/// Hand-written protobuf decoding of the Event fields QKLab reads; every other field is
/// skipped according to its wire type.
enum TensorBoardDecoding {
    /// What is wrong with a record; TensorBoardReader adds the file and offset.
    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    static func event(_ bytes: ArraySlice<UInt8>) throws -> TensorBoardRecord {
        var record = TensorBoardRecord()
        try forEachField(of: bytes, in: "Event") { field, value in
            switch (field, value) {
            case (1, .fixed64(let bits)): record.wallTime = Double(bitPattern: bits)
            case (2, .varint(let step)): record.step = Int(truncatingIfNeeded: Int64(bitPattern: step))
            case (3, .lengthDelimited(let text)): record.fileVersion = String(decoding: text, as: UTF8.self)
            case (5, .lengthDelimited(let summary)): try addSummary(summary, to: &record.scalars)
            default: break
            }
        }
        return record
    }

    /// Adds a Summary's simple values; Values without one (images, tensors, ...) are skipped.
    static func addSummary(_ bytes: ArraySlice<UInt8>, to scalars: inout [String: Float]) throws {
        try forEachField(of: bytes, in: "Summary") { field, value in
            guard field == 1, case .lengthDelimited(let valueBytes) = value else { return }
            let (tag, simpleValue) = try summaryValue(valueBytes)
            if let simpleValue { scalars[tag] = simpleValue }
        }
    }

    static func summaryValue(_ bytes: ArraySlice<UInt8>) throws -> (tag: String, simpleValue: Float?) {
        var tag = ""
        var simpleValue: Float?
        try forEachField(of: bytes, in: "Summary.Value") { field, value in
            switch (field, value) {
            case (1, .lengthDelimited(let text)): tag = String(decoding: text, as: UTF8.self)
            case (2, .fixed32(let bits)): simpleValue = Float(bitPattern: bits)
            default: break
            }
        }
        return (tag, simpleValue)
    }

    /// One field's value, by wire type.
    enum FieldValue {
        case varint(UInt64)
        case fixed64(UInt64)
        case lengthDelimited(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    /// Calls `body` with each field of the message `bytes` in order.
    static func forEachField(
        of bytes: ArraySlice<UInt8>, in message: String, _ body: (UInt64, FieldValue) throws -> Void
    ) throws {
        var reader = ProtobufReader(bytes: bytes, message: message)
        while !reader.isAtEnd {
            let key = try reader.varint()
            try body(key >> 3, try reader.value(wireType: key & 7))
        }
    }

    /// A cursor over one message's bytes.
    struct ProtobufReader {
        let bytes: ArraySlice<UInt8>
        let message: String
        var position: Int

        init(bytes: ArraySlice<UInt8>, message: String) {
            self.bytes = bytes
            self.message = message
            position = bytes.startIndex
        }

        var isAtEnd: Bool { position == bytes.endIndex }

        func failure(_ what: String) -> Failure {
            Failure("malformed \(message) protobuf at data byte \(position - bytes.startIndex): \(what)")
        }

        mutating func value(wireType: UInt64) throws -> FieldValue {
            switch wireType {
            case 0: return .varint(try varint())
            case 1: return .fixed64(littleEndianInteger(try take(8), as: UInt64.self))
            case 2: return .lengthDelimited(try take(try length()))
            case 5: return .fixed32(littleEndianInteger(try take(4), as: UInt32.self))
            default: throw failure("unsupported wire type \(wireType)")
            }
        }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            for shift in stride(from: UInt64(0), to: 64, by: 7) {
                guard position < bytes.endIndex else { throw failure("truncated varint") }
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
            }
            throw failure("varint longer than 10 bytes")
        }

        /// A length prefix, checked against the bytes left.
        mutating func length() throws -> Int {
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw failure("length \(length) exceeds the \(bytes.endIndex - position) bytes left")
            }
            return Int(length)
        }

        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count <= bytes.endIndex - position else {
                throw failure("\(counted(count, "byte")) needed, \(bytes.endIndex - position) left")
            }
            defer { position += count }
            return bytes[position..<position + count]
        }
    }
}

// MARK: - Little-endian helpers

private func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func littleEndianInteger<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as type: T.Type) -> T {
    bytes.reversed().reduce(T.zero) { $0 << 8 | T($1) }
}
