import Formats
import Foundation
import TestSupport
import XCTest

final class TensorBoardEventsTests: ScratchTestCase {
    /// Writes the file_version record and three events; returns the file.
    func writeSample() throws -> URL {
        let writer = try TensorBoardWriter(directory: scratch, wallTime: 1_700_000_000.25)
        defer { writer.close() }
        try writer.add(
            step: 1, scalars: [("loss", 2.5), ("lr", 1e-3), ("grad_norm_layers/0", -1.75)], wallTime: 1_700_000_001.5)
        try writer.add(
            step: 2, scalars: [("loss", 2.25), ("lr", 2e-3), ("attn_logit_max/0", 12.125)], wallTime: 1_700_000_002.5)
        try writer.add(
            step: 300_000, scalars: [("loss", 1.0 / 3.0), ("val_loss", 1.125), ("nan", .nan)], wallTime: 1_700_000_003.5
        )
        return writer.fileURL
    }

    /// The bytes of `url` as an array.
    func bytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    /// The little-endian UInt64 at `offset`.
    func uint64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Asserts that reading `url` throws a TensorBoardError naming the file and containing every one of `fragments`.
    func assertReadFails(_ url: URL, containing fragments: [String], file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertThrowsError(try TensorBoardReader.read(url), file: file, line: line) { error in
            XCTAssertTrue(error is TensorBoardError, "\(type(of: error))", file: file, line: line)
            let message = "\(error)"
            for fragment in [url.path] + fragments {
                XCTAssertTrue(
                    message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        }
    }

    func testWrittenEventsReadBack() throws {
        let url = try writeSample()
        XCTAssertEqual(url.deletingLastPathComponent().standardizedFileURL.path, scratch.standardizedFileURL.path)
        XCTAssertTrue(url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."), url.lastPathComponent)
        XCTAssertFalse(url.lastPathComponent.hasSuffix("."), "a host name follows the seconds")

        // The reader checks both CRCs of every record, so reaching here means they all verify.
        let records = try TensorBoardReader.read(url)
        XCTAssertEqual(records.count, 4)
        XCTAssertEqual(
            records[0],
            TensorBoardRecord(step: 0, wallTime: 1_700_000_000.25, fileVersion: "brain.Event:2", scalars: [:]))
        XCTAssertEqual(
            records[1],
            TensorBoardRecord(
                step: 1, wallTime: 1_700_000_001.5, scalars: ["loss": 2.5, "lr": 1e-3, "grad_norm_layers/0": -1.75]))
        XCTAssertEqual(
            records[2],
            TensorBoardRecord(
                step: 2, wallTime: 1_700_000_002.5, scalars: ["loss": 2.25, "lr": 2e-3, "attn_logit_max/0": 12.125]))
        XCTAssertEqual(records[3].step, 300_000)
        XCTAssertEqual(records[3].wallTime, 1_700_000_003.5)
        XCTAssertNil(records[3].fileVersion)
        XCTAssertEqual(records[3].scalars.count, 3)
        XCTAssertEqual(records[3].scalars["loss"], Float(1.0 / 3.0))
        XCTAssertEqual(records[3].scalars["val_loss"], 1.125)
        XCTAssertEqual(records[3].scalars["nan"]?.isNaN, true, "non-finite values are written as they are")
    }

    func testRecordFramingMatchesTheTFRecordFormat() throws {
        // Rebuilds the first record's framing from the format description, independently of the writer.
        let file = try bytes(try writeSample())
        func masked(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            let crc = crc32c(bytes)
            let value = ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let length = Int(uint64(file, at: 0))
        XCTAssertEqual(Array(file[8..<12]), masked(file[0..<8]))
        XCTAssertEqual(Array(file[12 + length..<16 + length]), masked(file[12..<12 + length]))
        // The Event: wall_time (field 1, fixed64) then file_version (field 3, length-delimited).
        let version = Array("brain.Event:2".utf8)
        XCTAssertEqual(Array(file[12..<12 + length]), [0x09] + file[13..<21] + [0x1A, UInt8(version.count)] + version)
    }

    func testCRC32CKnownVectors() {
        XCTAssertEqual(crc32c(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(crc32c([UInt8]()), 0)
        XCTAssertEqual(crc32c([UInt8](repeating: 0, count: 32)), 0x8A91_36AA, "RFC 3720 B.4: 32 bytes of zeros")
        XCTAssertEqual(crc32c([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43, "RFC 3720 B.4: 32 bytes of ones")
    }

    func testFlippedDataByteFailsTheCRC() throws {
        let url = try writeSample()
        var file = try bytes(url)
        let second = 16 + Int(uint64(file, at: 0))  // start of the second record
        file[second + 12 + 3] ^= 0x01  // a byte of its data
        try Data(file).write(to: url)
        assertReadFails(url, containing: ["CRC", "byte \(second)"])
    }

    func testFlippedLengthByteFailsTheCRC() throws {
        let url = try writeSample()
        var file = try bytes(url)
        file[0] ^= 0x01
        try Data(file).write(to: url)
        assertReadFails(url, containing: ["length CRC", "byte 0"])
    }

    func testTruncatedFileFails() throws {
        let url = try writeSample()
        let file = try bytes(url)
        var last = 0  // start of the last record
        while last + 16 + Int(uint64(file, at: last)) < file.count { last += 16 + Int(uint64(file, at: last)) }
        // Inside the last record's data, two bytes after its header, then inside its header.
        try Data(file.prefix(file.count - 7)).write(to: url)
        assertReadFails(url, containing: ["truncated", "byte \(last)"])
        try Data(file.prefix(last + 14)).write(to: url)
        assertReadFails(url, containing: ["truncated", "byte \(last)"])
        try Data(file.prefix(last + 5)).write(to: url)
        assertReadFails(url, containing: ["truncated", "byte \(last)"])
        // Cut exactly between records: a shorter, valid file.
        try Data(file.prefix(last)).write(to: url)
        XCTAssertEqual(try TensorBoardReader.read(url).count, 3)
    }

    func testReaderSkipsUnknownFields() throws {
        // An Event as another writer might produce it, framed with crc32c and the TFRecord mask.
        func lengthDelimited(_ field: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [field << 3 | 2, UInt8(payload.count)] + payload
        }
        func fixed32(_ field: UInt8, _ value: Float) -> [UInt8] {
            [field << 3 | 5] + (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
        }
        // SummaryMetadata.plugin_data.plugin_name
        let metadata = lengthDelimited(1, lengthDelimited(1, Array("scalars".utf8)))
        let tensorOnly = lengthDelimited(1, Array("tensor".utf8)) + lengthDelimited(8, [0x08, 0x01])  // no simple_value
        let value =
            lengthDelimited(7, Array("node".utf8)) + lengthDelimited(1, Array("loss".utf8))
            + lengthDelimited(9, metadata) + fixed32(2, 0.5)
        let summary = lengthDelimited(1, value) + lengthDelimited(1, tensorOnly)
        let event: [UInt8] =
            [0x10, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]  // step -3
            + [0x31] + [UInt8](repeating: 0xAB, count: 8)  // unknown fixed64, field 6
            + [0x40, 0x96, 0x01]  // unknown varint, field 8
            + lengthDelimited(4, [UInt8](repeating: 0, count: 20))  // graph_def
            + fixed32(15, 1)  // unknown fixed32
            + lengthDelimited(5, summary)
        func masked(_ bytes: [UInt8]) -> [UInt8] {
            let crc = crc32c(bytes)
            let value = ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        let length = (0..<8).map { UInt8(truncatingIfNeeded: event.count >> (8 * $0)) }
        let url = scratch.appendingPathComponent("events.out.tfevents.0.other")
        try Data(length + masked(length) + event + masked(event)).write(to: url)

        XCTAssertEqual(
            try TensorBoardReader.read(url), [TensorBoardRecord(step: -3, wallTime: 0, scalars: ["loss": 0.5])])
    }

    func testClosedWriterRefusesToAdd() throws {
        let writer = try TensorBoardWriter(directory: scratch)
        writer.close()
        writer.close()
        XCTAssertThrowsError(try writer.add(step: 1, scalars: [("loss", 1)])) { error in
            XCTAssertTrue("\(error)".contains("closed"), "\(error)")
        }
        XCTAssertEqual(try TensorBoardReader.read(writer.fileURL).count, 1)
    }

    func testMissingDirectoryFails() {
        let missing = scratch.appendingPathComponent("missing")
        XCTAssertThrowsError(try TensorBoardWriter(directory: missing)) { error in
            XCTAssertTrue(error is TensorBoardError)
            XCTAssertTrue("\(error)".contains(missing.path), "\(error)")
        }
    }
}
