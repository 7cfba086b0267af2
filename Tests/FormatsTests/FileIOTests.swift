import Formats
import Foundation
import TestSupport
import XCTest

/// Writers fail as one line naming the path and the OS reason, never leave a torn record, and
/// replace files atomically (issue 14, item 7); event files of a resumed run (issue 20, item 9);
/// the CRC32C of checkpoint manifests (issue 14, item 10).
final class FileIOTests: ScratchTestCase {

    /// Lines that do not fit are cut back whole: the file ends after the last complete line.
    func testAppendFailureCutsBackToTheLastCompleteRecord() throws {
        let url = scratch.appendingPathComponent("metrics.jsonl")
        let log = try MetricsLog(url: url)
        var written = 0
        XCTAssertThrowsError(
            try withFileSizeLimit(1000) {
                for step in 1... {
                    try log.append(
                        MetricsRecord([
                            ("step", .integer(step)), ("loss", .number(Float(step) / 3)), ("lr", .precise(1e-3)),
                        ]))
                    written = step
                }
            }
        ) { error in
            XCTAssertEqual("\(error)", "cannot write \(url.path): File too large")
        }
        let lines = try MetricsReader.read(url)
        XCTAssertEqual(lines.count, written)
        XCTAssertEqual(try Data(contentsOf: url).last, 0x0A)
        XCTAssertLessThanOrEqual(try Data(contentsOf: url).count, 1000)
        // Appending goes on once there is room again, after the last complete line.
        try log.append(MetricsRecord([("step", .integer(written + 1))]))
        XCTAssertEqual(try MetricsReader.read(url).count, written + 1)
    }

    func testEventRecordsAreCutBackWhole() throws {
        let writer = try TensorBoardWriter(directory: scratch, wallTime: 1_700_000_000)
        var written = 0
        XCTAssertThrowsError(
            try withFileSizeLimit(2000) {
                for step in 1... {
                    try writer.add(
                        step: step, scalars: [("loss", 1), ("grad_norm_layers/0", 2), ("attn_logit_max/0", 3)])
                    written = step
                }
            }
        ) { error in
            XCTAssertEqual("\(error)", "cannot write TensorBoard event file \(writer.fileURL.path): File too large")
        }
        XCTAssertEqual(try TensorBoardReader.read(writer.fileURL).count, written + 1, "every record whole, none torn")
    }

    /// A replaced file is the old one or the new one, never a part: a failed replacement leaves
    /// the old file and no temporary file.
    func testReplaceIsAtomic() throws {
        let url = scratch.appendingPathComponent("config.toml")
        try FileIO.replace(url, with: Data("old\n".utf8))
        XCTAssertThrowsError(
            try withFileSizeLimit(1000) { try FileIO.replace(url, with: Data(repeating: 0x61, count: 5000)) }
        ) {
            XCTAssertEqual("\($0)", "cannot write \(url.path): File too large")
        }
        XCTAssertEqual(try Data(contentsOf: url), Data("old\n".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path), ["config.toml"])
        try FileIO.replace(url, with: Data("new\n".utf8))
        XCTAssertEqual(try Data(contentsOf: url), Data("new\n".utf8))
        XCTAssertThrowsError(try FileIO.replace(scratch.appendingPathComponent("missing/x.json"), with: Data())) {
            XCTAssertEqual("\($0)", "cannot write \(scratch.path)/missing/x.json: No such file or directory")
        }
        // safetensors files too.
        let tensors = [NamedTensor(name: "w", shape: [1000], values: [Float](repeating: 1, count: 1000))]
        let weights = scratch.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, to: weights)
        XCTAssertThrowsError(
            try withFileSizeLimit(2000) {
                try SafeTensors.write(tensors + [NamedTensor(name: "v", shape: [1], values: [2])], to: weights)
            }
        ) {
            XCTAssertEqual("\($0)", "cannot write safetensors file \(weights.path): File too large")
        }
        XCTAssertEqual(try SafeTensors.read(weights).tensors, tensors)
    }

    func testReadAndFolderErrorsNameThePath() throws {
        XCTAssertThrowsError(try FileIO.read(scratch.appendingPathComponent("none"))) {
            XCTAssertEqual("\($0)", "cannot read \(scratch.path)/none: No such file or directory")
        }
        XCTAssertThrowsError(try FileIO.read(scratch)) {
            XCTAssertEqual("\($0)", "cannot read \(scratch.path): Is a directory")
        }
        XCTAssertThrowsError(try MetricsReader.read(scratch)) {
            XCTAssertEqual("\($0)", "cannot read \(scratch.path): Is a directory")
        }
        let file = scratch.appendingPathComponent("file")
        try Data().write(to: file)
        XCTAssertThrowsError(try FileIO.createDirectory(file.appendingPathComponent("sub"))) {
            XCTAssertEqual("\($0)", "cannot create folder \(file.path)/sub: Not a directory")
        }
        try FileIO.createDirectory(scratch.appendingPathComponent("a/b/c"))
        try FileIO.createDirectory(scratch.appendingPathComponent("a/b/c"))
        // A Foundation error becomes "path: reason", never its dump.
        do {
            try FileManager.default.createDirectory(
                at: file.appendingPathComponent("sub"), withIntermediateDirectories: true)
            XCTFail("created a folder inside a file")
        } catch {
            let line = describe(error)
            XCTAssertFalse(line.contains("Error Domain"), line)
            XCTAssertFalse(line.contains("\n"), line)
            XCTAssertTrue(line.contains(file.path), line)
        }
    }

    /// A line that is not UTF-8 is dropped alone, not the whole log.
    func testMetricsReaderDropsOnlyTheBadLine() throws {
        let url = scratch.appendingPathComponent("metrics.jsonl")
        try Data("{\"step\": 1}\n{\"step\": \u{1}2}\n".utf8 + [0xFF, 0x0A] + Data("{\"step\": 3}\n{\"step\": 4".utf8))
            .write(to: url)
        XCTAssertEqual(try MetricsReader.read(url).map { $0["step"] as! Int }, [1, 3])
        try MetricsLog.truncate(url, afterStep: 10)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "{\"step\": 1}\n{\"step\": 3}\n")
    }

    // MARK: - Event files of a resumed run

    /// Two writers started within the same second get two files, the later sorting after the
    /// earlier (TensorBoard reads a folder's files in name order).
    func testEventFileNamesAreNewAndSortInOrder() throws {
        let first = try TensorBoardWriter(directory: scratch, wallTime: 1_700_000_000.2)
        let second = try TensorBoardWriter(directory: scratch, wallTime: 1_700_000_000.7)
        let third = try TensorBoardWriter(directory: scratch, wallTime: 1_699_999_990)  // a clock set back
        let names = [first, second, third].map(\.fileURL.lastPathComponent)
        XCTAssertEqual(Set(names).count, 3)
        XCTAssertEqual(names, names.sorted())
        XCTAssertTrue(names[1].hasPrefix("events.out.tfevents.1700000001."), names[1])
        XCTAssertEqual(TensorBoardWriter.eventFiles(in: scratch).map(\.lastPathComponent), names)
    }

    func testTruncateEventFilesKeepsStepsUpToTheCheckpoint() throws {
        let writer = try TensorBoardWriter(directory: scratch, wallTime: 1_700_000_000)
        for step in 1...10 {
            try writer.add(step: step, scalars: [("loss", Float(step))], wallTime: 1_700_000_000 + Double(step))
        }
        writer.close()
        let full = try Data(contentsOf: writer.fileURL)
        // A torn last record, as a crash leaves it.
        try (full + Data([1, 2, 3])).write(to: writer.fileURL)
        try TensorBoardWriter.truncateEventFiles(in: scratch, afterStep: 10)
        XCTAssertEqual(try Data(contentsOf: writer.fileURL), full, "only the torn tail is dropped")
        let inode = try FileManager.default.attributesOfItem(atPath: writer.fileURL.path)[.systemFileNumber] as! UInt64
        try TensorBoardWriter.truncateEventFiles(in: scratch, afterStep: 10)
        XCTAssertEqual(
            try FileManager.default.attributesOfItem(atPath: writer.fileURL.path)[.systemFileNumber] as? UInt64, inode,
            "a file needing no change is not rewritten")
        try TensorBoardWriter.truncateEventFiles(in: scratch, afterStep: 6)
        let records = try TensorBoardReader.read(writer.fileURL)
        XCTAssertEqual(records.first?.fileVersion, "brain.Event:2")
        XCTAssertEqual(records.dropFirst().map(\.step), Array(1...6))
        XCTAssertEqual(records.last?.scalars["loss"], 6)
        XCTAssertEqual(records.last?.wallTime, 1_700_000_006, "kept records are kept byte for byte")
    }

    // MARK: - CRC32C

    /// Slicing-by-8 against the byte-at-a-time definition, at every alignment and tail length.
    func testCRC32CMatchesTheBytewiseDefinition() {
        func reference(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return ~crc
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for start in 0..<9 {
            for end in stride(from: start, through: bytes.count, by: 7) {
                let slice = Array(bytes[start..<end])
                XCTAssertEqual(crc32c(slice), reference(slice))
                XCTAssertEqual(crc32c(Data(slice)), reference(slice))
            }
        }
        XCTAssertEqual(crc32c(Data("123456789".utf8)), 0xE306_9283)
    }
}
