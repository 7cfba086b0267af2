import Formats
import Foundation
import XCTest

final class SafeTensorsTests: XCTestCase {
    /// A file: little-endian header length, `header` as given (no padding added), `buffer`.
    func file(_ header: String, _ buffer: [UInt8] = []) -> Data {
        file(Array(header.utf8), buffer)
    }

    func file(_ header: [UInt8], _ buffer: [UInt8] = []) -> Data {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        data.append(contentsOf: buffer)
        return data
    }

    /// Asserts that decoding `data` throws exactly "corrupt safetensors file <source>: <message>".
    func assertRejects(
        _ data: Data, _ message: String, source: String = "runs/x/model.safetensors", file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try SafeTensors.decode(data, source: source), file: file, line: line) { error in
            XCTAssertEqual("\(error)", "corrupt safetensors file \(source): \(message)", file: file, line: line)
            XCTAssertTrue(error is SafeTensorsError, file: file, line: line)
        }
    }

    /// Product of the dimensions, nil on overflow.
    func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow || dimension < 0 { return nil }
            count = product
        }
        return count
    }

    let sample = [
        NamedTensor(name: "blocks.0.attn.w", shape: [2, 3], values: [1, -2, 3.5, 0, 0.25, -1e-3]),
        NamedTensor(name: "scalar", shape: [], values: [42]),
        NamedTensor(name: "empty", shape: [0], values: []),
        NamedTensor(name: "empty.2d", shape: [3, 0], values: []),
        NamedTensor(
            name: "bias é \"q\"\n", shape: [5],
            values: [-0.0, .infinity, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, .nan]),
    ]

    func testRoundTripInMemoryAndOnDisk() throws {
        let metadata = ["format": "qklab-1", "step": "500", "note": "ünï \"quoted\"\n\\ ok"]
        let data = try SafeTensors.encode(sample, metadata: metadata)
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        XCTAssertEqual((8 + headerLength) % 8, 0, "the buffer starts 8-byte aligned")
        XCTAssertEqual(data.count, 8 + Int(headerLength) + 4 * (6 + 1 + 5))

        let decoded = try SafeTensors.decode(data, source: "mem")
        XCTAssertEqual(decoded.metadata, metadata)
        XCTAssertEqual(decoded.tensors.map(\.name), sample.map(\.name), "written order is file-offset order")
        XCTAssertEqual(decoded.tensors.map(\.shape), sample.map(\.shape))
        // Bit-exact, NaN and -0 included.
        XCTAssertEqual(decoded.tensors.map { $0.values.map(\.bitPattern) }, sample.map { $0.values.map(\.bitPattern) })
        XCTAssertEqual(Array(decoded.tensors.prefix(4)), Array(sample.prefix(4)))

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-safetensors-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("model.safetensors")
        try Data(repeating: 7, count: 10_000).write(to: url)  // an older, longer file is replaced
        try SafeTensors.write(sample, metadata: metadata, to: url)
        XCTAssertEqual(try Data(contentsOf: url), data)
        let read = try SafeTensors.read(url)
        XCTAssertEqual(read.metadata, metadata)
        XCTAssertEqual(read.tensors.map { $0.values.map(\.bitPattern) }, sample.map { $0.values.map(\.bitPattern) })

        let none = try SafeTensors.decode(try SafeTensors.encode([]), source: "empty")
        XCTAssertEqual(none.tensors, [])
        XCTAssertEqual(none.metadata, [:])

        XCTAssertThrowsError(try SafeTensors.read(folder.appendingPathComponent("missing.safetensors"))) {
            XCTAssertEqual(
                "\($0)", "cannot read safetensors file \(folder.path)/missing.safetensors: No such file or directory")
        }
    }

    func testByteLayoutOfTinyFiles() throws {
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertEqual(header.utf8.count, 79)
        var expected: [UInt8] = [80, 0, 0, 0, 0, 0, 0, 0]  // 79 bytes of JSON + 1 space = 80
        expected += Array(header.utf8) + [0x20]
        expected += [0x00, 0x00, 0x80, 0x3F]  // 1.0 = 0x3F800000, little-endian
        expected += [0x00, 0x00, 0x00, 0xC0]  // -2.0 = 0xC0000000
        let data = try SafeTensors.encode([NamedTensor(name: "a", shape: [2], values: [1, -2])], metadata: ["k": "v"])
        XCTAssertEqual(Array(data), expected)

        // No metadata: no "__metadata__" key; 53 bytes of JSON + 3 spaces = 56.
        let scalarHeader = #"{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#
        XCTAssertEqual(scalarHeader.utf8.count, 53)
        let scalar = try SafeTensors.encode([NamedTensor(name: "x", shape: [], values: [0.5])])
        XCTAssertEqual(
            Array(scalar),
            [56, 0, 0, 0, 0, 0, 0, 0] + Array(scalarHeader.utf8) + [0x20, 0x20, 0x20] + [0x00, 0x00, 0x00, 0x3F])

        // Two tensors: contiguous offsets, given order, keys sorted in the metadata.
        let two = try SafeTensors.encode(
            [NamedTensor(name: "z", shape: [1], values: [1]), NamedTensor(name: "y", shape: [1, 2], values: [2, 3])],
            metadata: ["b": "2", "a": "1"]
        )
        let twoHeader =
            #"{"__metadata__":{"a":"1","b":"2"},"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]}}"#
        let padded = Array(twoHeader.utf8) + Array(repeating: 0x20, count: (8 - twoHeader.utf8.count % 8) % 8)
        XCTAssertEqual(Array(two.prefix(8 + padded.count)), [UInt8(padded.count), 0, 0, 0, 0, 0, 0, 0] + padded)
        XCTAssertEqual(two.count, 8 + padded.count + 12)
    }

    /// Written by Python `safetensors.numpy.save` 0.8.0 (which sorts tensors by name).
    func testReadsAFileWrittenByTheReferenceImplementation() throws {
        let base64 =
            "2AAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJibG9ja3MuMC53Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOlswLDI0XX0sIm5vbmUiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzAsM10sImRhdGFfb2Zmc2V0cyI6WzI0LDI0XX0sInNjYWxlIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOlsyNCwyOF19fSAAAAC/AACAvgAAAAAAAIA+AAAAPwAAQD8AAEDA"
        let data = try XCTUnwrap(Data(base64Encoded: base64))
        let decoded = try SafeTensors.decode(data, source: "python")
        XCTAssertEqual(decoded.metadata, ["format": "pt"])
        XCTAssertEqual(
            decoded.tensors,
            [
                NamedTensor(name: "blocks.0.w", shape: [2, 3], values: [-0.5, -0.25, 0, 0.25, 0.5, 0.75]),
                NamedTensor(name: "none", shape: [0, 3], values: []),
                NamedTensor(name: "scale", shape: [], values: [-3]),
            ])
    }

    func testTensorsComeBackInFileOffsetOrder() throws {
        let header =
            #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":null}"#
        let decoded = try SafeTensors.decode(file(header, [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]), source: "t")
        XCTAssertEqual(
            decoded.tensors,
            [
                NamedTensor(name: "a", shape: [1], values: [1]),
                NamedTensor(name: "b", shape: [1], values: [2]),
                NamedTensor(name: "e", shape: [0], values: []),
            ])
        XCTAssertEqual(decoded.metadata, [:])
        // Whitespace anywhere JSON allows it, escapes in names, unknown fields ignored.
        let spaced =
            " {\n \"\\u0061\\/b\" : { \"shape\" : [ 1 ] , \"x\" : {\"y\": [1, 2.5e-3, true, false, null, \"s\"]}, \"dtype\" : \"F32\", \"data_offsets\" : [ 0 , 4 ] } }\t "
        let other = try SafeTensors.decode(file(spaced, [0, 0, 0, 0x3F]), source: "t")
        XCTAssertEqual(other.tensors, [NamedTensor(name: "a/b", shape: [1], values: [0.5])])
    }

    func testTruncationAtEveryBytePositionIsRejected() throws {
        let data = try SafeTensors.encode(
            [
                NamedTensor(name: "w", shape: [2, 2], values: [1, 2, 3, 4]),
                NamedTensor(name: "s", shape: [], values: [5]),
            ],
            metadata: ["step": "3"]
        )
        XCTAssertNoThrow(try SafeTensors.decode(data, source: "t"))
        for length in 0..<data.count {
            XCTAssertThrowsError(
                try SafeTensors.decode(data.prefix(length), source: "t.safetensors"), "prefix of \(length) bytes"
            ) { error in
                XCTAssertTrue("\(error)".hasPrefix("corrupt safetensors file t.safetensors: "), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        assertRejects(data.prefix(5), "5 bytes, too short for the 8-byte header length")
        let headerLength = Int(data[0])
        assertRejects(
            data.prefix(8 + headerLength - 1), "header length \(headerLength) exceeds file size \(8 + headerLength - 1)"
        )
        assertRejects(data.prefix(data.count - 1), #"tensor "s" has data_offsets [16, 20] beyond the 19-byte buffer"#)
        // A copy that does not start at index 0 decodes the same.
        let shifted = (Data([9, 9, 9]) + data).dropFirst(3)
        XCTAssertEqual(
            try SafeTensors.decode(shifted, source: "t").tensors, try SafeTensors.decode(data, source: "t").tensors)
    }

    func testHeaderLengthIsCheckedBeforeAnythingElse() {
        var huge = Data()
        withUnsafeBytes(of: UInt64(Int64.max).littleEndian) { huge.append(contentsOf: $0) }
        huge.append(contentsOf: Array("{}".utf8))
        assertRejects(huge, "header length 9223372036854775807 exceeds file size 10")
        var largest = Data(repeating: 0xFF, count: 8)
        largest.append(contentsOf: Array("{}".utf8))
        assertRejects(largest, "header length 18446744073709551615 exceeds file size 10")
        assertRejects(Data(), "0 bytes, too short for the 8-byte header length")
    }

    func testRejectsBadOffsetsAndSizes() {
        func entry(_ name: String, dtype: String = "F32", shape: String, offsets: String) -> String {
            #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
        }
        let four: [UInt8] = [0, 0, 0, 0]
        assertRejects(
            file("{" + entry("a", shape: "[2]", offsets: "[0,8]") + "}", four),
            #"tensor "a" has data_offsets [0, 8] beyond the 4-byte buffer"#)
        assertRejects(
            file(
                "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[2]", offsets: "[4,12]")
                    + "}", Array(repeating: 0, count: 12)),
            #"tensors "a" [0, 8] and "b" [4, 12] overlap"#)
        assertRejects(
            file(
                "{" + entry("a", shape: "[2]", offsets: "[0,8]") + "," + entry("b", shape: "[0]", offsets: "[4,4]")
                    + "}", Array(repeating: 0, count: 8)),
            #"tensors "a" [0, 8] and "b" [4, 4] overlap"#)
        XCTAssertThrowsError(
            try SafeTensors.decode(
                file("{" + entry("h", dtype: "F16", shape: "[2]", offsets: "[0,4]") + "}", four),
                source: "m.safetensors")
        ) {
            XCTAssertEqual(
                "\($0)",
                #"unsupported safetensors file m.safetensors: tensor "h" has dtype "F16"; QKLab reads F32 only (save the model in float32, e.g. model.float().save_pretrained(…))"#
            )
        }
        assertRejects(
            file("{" + entry("a", shape: "[3]", offsets: "[0,8]") + "}", Array(repeating: 0, count: 8)),
            #"tensor "a" has shape [3] (3 F32 values) but data_offsets [0, 8] hold 8 bytes"#)
        assertRejects(
            file("{" + entry("a", shape: "[1]", offsets: "[4,0]") + "}", four),
            #"tensor "a" has data_offsets [4, 0] with begin > end"#)
        assertRejects(
            file("{" + entry("a", shape: "[4294967296,4294967296]", offsets: "[0,4]") + "}", four),
            #"tensor "a" has shape [4294967296, 4294967296] whose byte size overflows"#)
        assertRejects(
            file("{" + entry("a", shape: "[4611686018427387904]", offsets: "[0,4]") + "}", four),
            #"tensor "a" has shape [4611686018427387904] whose byte size overflows"#)
        // The buffer must be covered exactly, as the reference implementation requires.
        assertRejects(
            file("{" + entry("a", shape: "[1]", offsets: "[4,8]") + "}", Array(repeating: 0, count: 8)),
            "bytes [0, 4) of the buffer belong to no tensor")
        assertRejects(
            file("{" + entry("a", shape: "[1]", offsets: "[0,4]") + "}", Array(repeating: 0, count: 6)),
            "bytes [4, 6) of the buffer belong to no tensor")
        // An empty tensor may have any shape whose product is 0.
        XCTAssertEqual(
            try SafeTensors.decode(
                file("{" + entry("z", shape: "[0,9223372036854775807]", offsets: "[0,0]") + "}"), source: "t"
            ).tensors,
            [NamedTensor(name: "z", shape: [0, Int.max], values: [])])
    }

    func testRejectsMalformedHeaders() {
        let valid = #""dtype":"F32","shape":[1],"data_offsets":[0,4]"#
        let four: [UInt8] = [0, 0, 0, 0]
        assertRejects(file("{\"a\":{\(valid)},\"a\":{\(valid)}}", four), #"duplicate key "a" in the header"#)
        assertRejects(file("{\"a\":{\(valid)},\"\\u0061\":{\(valid)}}", four), #"duplicate key "a" in the header"#)
        assertRejects(file("{\"a\":{\(valid),\"dtype\":\"F32\"}}", four), #"duplicate key "dtype" in the header"#)
        assertRejects(
            file("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},\"a\":{\(valid)}}", four),
            #"duplicate key "k" in the header"#)
        assertRejects(
            file(Array("{\"".utf8) + [0xFF] + Array("\":{\(valid)}}".utf8), four),
            "header is not UTF-8 (invalid byte at header offset 2)")
        assertRejects(
            file(Array("{\"".utf8) + [0xED, 0xA0, 0x80] + Array("\":{\(valid)}}".utf8), four),
            "header is not UTF-8 (invalid byte at header offset 2)")
        assertRejects(
            file("{\"a\":{\(valid)}", four),
            "header is not valid JSON: expected ',' or '}' at header offset 53 (end of header)")
        assertRejects(
            file("{\"a\":{\(valid)}},", four),
            "header is not valid JSON: unexpected data after the JSON object at header offset 54")
        assertRejects(
            file("{\"a\":{\(valid)},}", four), "header is not valid JSON: expected a string key at header offset 54")
        assertRejects(
            file("{\"\\ud800\":{\(valid)}}", four),
            "header is not valid JSON: unpaired surrogate in \\u escape at header offset 8")
        assertRejects(file("[1]"), "header is not a JSON object")
        assertRejects(file(""), "header is empty")
        assertRejects(file("        "), "header is empty")
        assertRejects(file(#"{"a":[1]}"#), #"tensor "a" is not an object"#)
        assertRejects(file(#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, four), #"tensor "a" has no dtype"#)
        assertRejects(file(#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, four), #"tensor "a" has no shape"#)
        assertRejects(file(#"{"a":{"dtype":"F32","shape":[1]}}"#, four), #"tensor "a" has no data_offsets"#)
        assertRejects(
            file(#"{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#, four), #"tensor "a": dtype is not a string"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape holds -1, a negative value"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape holds 1.5, not an integer"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape holds 1e0, not an integer"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape holds 99999999999999999999, out of range"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape is not a list of integers"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}"#, four),
            #"tensor "a": shape is not a list of integers"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, four),
            #"tensor "a": data_offsets holds 3 integers, not [begin, end]"#)
        assertRejects(
            file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, four),
            #"tensor "a": data_offsets holds -4, a negative value"#)
        assertRejects(file(#"{"__metadata__":{"step":3}}"#), #"__metadata__ value of "step" is not a string"#)
        assertRejects(file(#"{"__metadata__":[]}"#), "__metadata__ is not an object")
        // Nesting is bounded (no stack overflow on hostile input).
        let deep = #"{"a":{"x":"# + String(repeating: "[", count: 100_000) + "}}"
        XCTAssertThrowsError(try SafeTensors.decode(file(deep), source: "t")) {
            XCTAssertTrue(
                "\($0)".hasPrefix("corrupt safetensors file t: header is not valid JSON: nesting deeper than"), "\($0)")
        }
        // Names in messages are escaped onto one line.
        XCTAssertThrowsError(
            try SafeTensors.decode(
                file("{\"a\\nb\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", four), source: "m")
        ) {
            XCTAssertTrue(
                "\($0)".hasPrefix(#"unsupported safetensors file m: tensor "a\nb" has dtype "BF16"; "#), "\($0)")
        }
        assertRejects(
            file(#"{"h":{"dtype":"F17","shape":[2],"data_offsets":[0,4]}}"#, four),
            #"tensor "h" has dtype "F17", which safetensors does not define"#)
    }

    func testEncodeRejectsInconsistentTensors() {
        func assertEncodeRejects(_ tensors: [NamedTensor], _ message: String, line: UInt = #line) {
            XCTAssertThrowsError(try SafeTensors.encode(tensors), line: line) {
                XCTAssertEqual("\($0)", "cannot write safetensors: \(message)", line: line)
            }
        }
        assertEncodeRejects(
            [NamedTensor(name: "w", shape: [2, 2], values: [1, 2, 3])],
            #"tensor "w" has shape [2, 2] (4 values) but holds 3 values"#)
        assertEncodeRejects([NamedTensor(name: "w", shape: [-1], values: [])], #"tensor "w" has an invalid shape [-1]"#)
        assertEncodeRejects(
            [NamedTensor(name: "w", shape: [], values: [1]), NamedTensor(name: "w", shape: [], values: [2])],
            #"tensor "w" appears twice"#)
        assertEncodeRejects(
            [NamedTensor(name: "__metadata__", shape: [], values: [1])], #"a tensor may not be named "__metadata__""#)
        let url = URL(fileURLWithPath: "/nonexistent-qklab/model.safetensors")
        XCTAssertThrowsError(try SafeTensors.write([NamedTensor(name: "w", shape: [], values: [1])], to: url)) {
            XCTAssertEqual(
                "\($0)", "cannot write safetensors file /nonexistent-qklab/model.safetensors: No such file or directory"
            )
        }
    }

    func testRandomByteFlipsNeverTrap() throws {
        let data = try SafeTensors.encode(
            [
                NamedTensor(name: "w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                NamedTensor(name: "s", shape: [], values: [7]),
                NamedTensor(name: "e", shape: [0, 2], values: []),
                NamedTensor(name: "b", shape: [2], values: [8, 9]),
            ],
            metadata: ["step": "12"]
        )
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var accepted = 0
        for _ in 0..<200 {
            var bytes = [UInt8](data)
            for _ in 0...(next() % 3) {
                bytes[Int(next() % UInt64(bytes.count))] ^= UInt8(1 + next() % 255)
            }
            do {
                let decoded = try SafeTensors.decode(Data(bytes), source: "flip")
                accepted += 1
                for tensor in decoded.tensors {
                    XCTAssertEqual(tensor.values.count, elementCount(tensor.shape), tensor.name)
                }
                XCTAssertLessThanOrEqual(decoded.tensors.reduce(8) { $0 + 4 * $1.values.count }, bytes.count)
            } catch {
                XCTAssertTrue("\(error)".hasPrefix("corrupt safetensors file flip: "), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
        XCTAssertGreaterThan(accepted, 0, "flips inside the float data leave a valid file")
    }
}
