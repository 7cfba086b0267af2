import Training
import XCTest

final class DataTests: XCTestCase {
    func testTokenizerRoundTripAndSortedVocabulary() throws {
        let tokenizer = CharTokenizer(corpus: "hello, world\né")
        XCTAssertEqual(tokenizer.characters, ["\n", " ", ",", "d", "e", "h", "l", "o", "r", "w", "é"])
        let ids = try tokenizer.encode("world, hello")
        XCTAssertEqual(tokenizer.decode(ids), "world, hello")
        XCTAssertThrowsError(try tokenizer.encode("hello Z!")) { error in
            XCTAssertEqual("\(error)", "characters not in the vocabulary: \"Z\", \"!\"")
        }
        let data = try JSONEncoder().encode(tokenizer)
        XCTAssertEqual(try JSONDecoder().decode(CharTokenizer.self, from: data), tokenizer)
    }

    func testSplitAndErrors() throws {
        let corpus = try Corpus(
            text: String(repeating: "abcdefghij", count: 10), source: "t", valFraction: 0.1, blockSize: 8)
        XCTAssertEqual(corpus.train.count, 90)
        XCTAssertEqual(corpus.validation.count, 10)
        XCTAssertThrowsError(try Corpus(text: "", source: "t", valFraction: 0.1, blockSize: 8)) {
            XCTAssertEqual("\($0)", "corpus t is empty")
        }
        // One distinct character: every next token is certain, nothing to learn (issue 35, item 5).
        for text in [String(repeating: "a", count: 200), String(repeating: "\n", count: 200)] {
            XCTAssertThrowsError(try Corpus(text: text, source: "t", valFraction: 0.1, blockSize: 8)) {
                XCTAssertEqual(
                    "\($0)",
                    "corpus t holds one distinct character (\(text.first == "a" ? "\"a\"" : "\"\\n\"")): there is nothing to learn; a corpus needs at least 2"
                )
            }
        }
        // Counts of one in the singular (issue 35, item 7).
        XCTAssertThrowsError(try Corpus(text: "abababab\nb", source: "t", valFraction: 0.1, blockSize: 8)) {
            XCTAssertEqual(
                "\($0)",
                "corpus t: the validation split has 1 token, fewer than block_size + 1 = 9 (10 tokens in all, val_fraction 0.1)"
            )
        }
        XCTAssertNoThrow(
            try Corpus(text: String(repeating: "a", count: 199) + "b", source: "t", valFraction: 0.1, blockSize: 8))
        XCTAssertThrowsError(
            try Corpus(text: String(repeating: "ab", count: 20), source: "t", valFraction: 0.1, blockSize: 8)
        ) {
            XCTAssertEqual(
                "\($0)",
                "corpus t: the validation split has 4 tokens, fewer than block_size + 1 = 9 (40 tokens in all, val_fraction 0.1)"
            )
        }
        let path = NSTemporaryDirectory() + "qklab-latin1-\(getpid()).txt"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([0x61, 0xE9, 0xFF, 0x62])))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try Corpus(path: path, valFraction: 0.1, blockSize: 1)) {
            XCTAssertEqual("\($0)", "corpus \(path): not UTF-8 text")
        }
        XCTAssertThrowsError(try Corpus(path: "/nonexistent.txt", valFraction: 0.1, blockSize: 1)) {
            XCTAssertTrue("\($0)".hasPrefix("corpus /nonexistent.txt: no such file"))
        }
        XCTAssertThrowsError(try Corpus(path: "no/such.txt", valFraction: 0.1, blockSize: 1)) {
            XCTAssertEqual(
                "\($0)",
                "corpus no/such.txt: no such file (data.path is relative to the current folder, "
                    + "\(FileManager.default.currentDirectoryPath); for the shipped corpora run scripts/get-data.sh)")
        }
        XCTAssertThrowsError(try Corpus(path: "", valFraction: 0.1, blockSize: 1)) {
            XCTAssertEqual("\($0)", "corpus \"\" (data.path is empty): Is a directory")
        }
    }

    func testBatchesAreShiftedWindows() {
        let tokens = (0..<50).map(Int32.init)
        var sampler = BatchSampler(seed: 3)
        let batch = sampler.next(from: tokens, batchSize: 4, length: 6)
        for b in 0..<4 {
            let offset = batch.offsets[b]
            XCTAssertLessThanOrEqual(offset + 6, 49)
            XCTAssertEqual(Array(batch.inputs[(b * 6)..<(b * 6 + 6)]), (offset..<(offset + 6)).map(Int32.init))
            XCTAssertEqual(Array(batch.targets[(b * 6)..<(b * 6 + 6)]), ((offset + 1)..<(offset + 7)).map(Int32.init))
        }
        var again = BatchSampler(seed: 3)
        XCTAssertEqual(again.next(from: tokens, batchSize: 4, length: 6).offsets, batch.offsets)
        let evaluation = BatchSampler.evaluationBatches(of: tokens, count: 3, batchSize: 2, length: 6)
        XCTAssertEqual(
            evaluation.map(\.offsets),
            BatchSampler.evaluationBatches(of: tokens, count: 3, batchSize: 2, length: 6).map(\.offsets))
        XCTAssertEqual(evaluation.flatMap(\.offsets), [0, 7, 14, 22, 29, 36])
    }
}
