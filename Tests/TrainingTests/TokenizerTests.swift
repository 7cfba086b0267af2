import Formats
import Foundation
import TestSupport
import Training
import XCTest

/// The tokenizer's unit is the Unicode scalar (code point), as in Python's `str` and nanoGPT's
/// character models: nothing is merged or split, `decode(encode(text))` is `text` byte for
/// byte, and every `vocab.json` entry is one code point (issue 14, item 6). Sampling with no
/// prompt works on every corpus (item 5).
final class TokenizerTests: ScratchTestCase {
    /// Asserts the round trip byte for byte (Swift's `==` on strings is canonical equivalence,
    /// which would call "é" and "e" + U+0301 equal) and one id per code point.
    func assertLossless(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let tokenizer = CharTokenizer(corpus: text)
        let ids = try tokenizer.encode(text)
        XCTAssertEqual(ids.count, text.unicodeScalars.count, "one id per code point", file: file, line: line)
        XCTAssertEqual(
            Array(tokenizer.decode(ids).utf8), Array(text.utf8), "decode(encode(text)) byte for byte", file: file,
            line: line)
        XCTAssertTrue(tokenizer.characters.allSatisfy { $0.unicodeScalars.count == 1 }, file: file, line: line)
        XCTAssertEqual(tokenizer.scalars.map(\.value), tokenizer.scalars.map(\.value).sorted(), file: file, line: line)
    }

    func testCanonicallyEquivalentFormsStayDistinct() throws {
        let text = "caf\u{E9} cafe\u{301}"  // precomposed é, then e + combining acute
        try assertLossless(text)
        let tokenizer = CharTokenizer(corpus: text)
        XCTAssertEqual(tokenizer.scalars, [" ", "a", "c", "e", "f", "\u{E9}", "\u{301}"])
        XCTAssertNotEqual(try tokenizer.encode("\u{E9}"), try tokenizer.encode("e\u{301}"))
        // Hangul syllable vs its jamo, Ångström sign vs Å: canonically equivalent, kept apart.
        try assertLossless("\u{AC00} \u{1100}\u{1161} \u{212B} \u{C5} A\u{30A}")
    }

    func testEmojiSequencesAndFlagsAreTheirCodePoints() throws {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}"  // 👨‍👩‍👧: 5 code points, one grapheme
        let flag = "\u{1F1FA}\u{1F1F8}"  // 🇺🇸: two regional indicators
        let skin = "\u{1F44B}\u{1F3FD}"  // 👋🏽
        let text = "\(family) \(flag) \(skin) \u{2764}\u{FE0F}"
        try assertLossless(text)
        let tokenizer = CharTokenizer(corpus: text)
        XCTAssertEqual(try tokenizer.encode(family).count, 5)
        XCTAssertEqual(try tokenizer.encode(flag).count, 2)
        XCTAssertTrue(tokenizer.characters.contains("\u{200D}"), "the zero-width joiner is a token of its own")
    }

    func testLineEndingsAreTwoTokens() throws {
        let text = "To be, or not to be\r\n"
        try assertLossless(String(repeating: text, count: 3) + "\r" + "\n\n")
        let tokenizer = CharTokenizer(corpus: text)
        XCTAssertEqual(tokenizer.characters.prefix(2), ["\n", "\r"])
        XCTAssertEqual(try tokenizer.encode("\r\n").count, 2)
    }

    /// Every code point of every plane (but surrogates, which UTF-8 cannot hold), in one corpus.
    func testEveryCodePointRoundTrips() throws {
        var scalars = String.UnicodeScalarView()
        for value in stride(from: 0, through: 0x10FFFF, by: 97) {
            if let scalar = Unicode.Scalar(UInt32(value)) { scalars.append(scalar) }
        }
        scalars.append(contentsOf: ["\u{0}", "\u{FEFF}", "\u{10FFFF}", "\u{7F}"])
        try assertLossless(String(scalars))
    }

    /// A corpus file read from disk round-trips byte for byte through the corpus's tokens.
    func testCorpusFileRoundTripsByteForByte() throws {
        let bytes = Data("\u{FEFF}BOM first\r\nCRLF e\u{301} \u{E9} \u{1F1EF}\u{1F1F5}\n\u{0}end".utf8)
        let url = scratch.appendingPathComponent("corpus.txt")
        try bytes.write(to: url)
        let corpus = try Corpus(path: url.path, valFraction: 0.5, blockSize: 4)
        XCTAssertEqual(Data(corpus.tokenizer.decode(corpus.train + corpus.validation).utf8), bytes)
    }

    func testUnknownCharactersAreNamed() throws {
        let tokenizer = CharTokenizer(corpus: "abc")
        XCTAssertThrowsError(try tokenizer.encode("ae\u{301}\n\u{200D}")) {
            XCTAssertEqual("\($0)", #"characters not in the vocabulary: "e", "\u{301}", "\n", "\u{200D}""#)
        }
    }

    /// state.json stores the vocabulary as one-code-point strings and its unit.
    func testStoredVocabulary() throws {
        let tokenizer = CharTokenizer(corpus: "e\u{301}\r\n")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(tokenizer)) as! [String: Any]
        XCTAssertEqual(json["characters"] as? [String], ["\n", "\r", "e", "\u{301}"])
        XCTAssertEqual(json["unit"] as? String, "unicode_scalar")
        XCTAssertEqual(try JSONDecoder().decode(CharTokenizer.self, from: JSONEncoder().encode(tokenizer)), tokenizer)
    }

    /// Vocabularies of older QKLab versions (grapheme clusters, no `unit`): all single code
    /// points load unchanged with the same ids; a merged entry is refused saying why.
    func testOlderVocabularies() throws {
        let old = try JSONDecoder().decode(
            CharTokenizer.self, from: Data(#"{"characters": ["\n", " ", "a", "é"]}"#.utf8))
        XCTAssertEqual(old, CharTokenizer(corpus: "a é\n"))
        for (entry, shown) in [
            ("\r\n", #""\r" + "\n""#), ("e\u{301}", #""e" + "\u{301}""#),
            ("\u{1F1FA}\u{1F1F8}", "\"\u{1F1FA}\" + \"\u{1F1F8}\""),
        ] {
            let json = try JSONEncoder().encode(["characters": ["a", entry]])
            XCTAssertThrowsError(try JSONDecoder().decode(CharTokenizer.self, from: json)) {
                XCTAssertTrue(
                    "\($0)".contains(
                        "older QKLab whose vocabulary unit was the grapheme cluster: its entry \(shown) is 2 code points"
                    ), "\($0)")
            }
        }
        XCTAssertThrowsError(
            try JSONDecoder().decode(CharTokenizer.self, from: Data(#"{"characters": ["a"], "unit": "byte"}"#.utf8))
        ) {
            XCTAssertTrue("\($0)".contains("its vocabulary unit \"byte\" is not supported"), "\($0)")
        }
        XCTAssertThrowsError(
            try JSONDecoder().decode(CharTokenizer.self, from: Data(#"{"characters": ["a", "a"]}"#.utf8)))
        XCTAssertThrowsError(
            try JSONDecoder().decode(CharTokenizer.self, from: Data(#"{"characters": ["a", ""]}"#.utf8)))
    }

    /// A checkpoint of an older QKLab whose vocabulary has a CR LF entry is refused on load
    /// with one line; one whose entries are all single code points loads (without checksums).
    func testOlderCheckpointsLoadOrAreRefused() throws {
        let folder = try RunFilesEndToEndTests.train(
            in: scratch.appendingPathComponent("run"), ["train.max_steps=2", "train.eval_interval=0"])
        let checkpoint = try XCTUnwrap(folder.latestCheckpoint())
        try FileManager.default.removeItem(at: checkpoint.appendingPathComponent(CheckpointManifest.fileName))
        try RunFilesEndToEndTests.removeManifestMark(in: checkpoint)
        // An older state.json: no `unit`.
        let stateURL = checkpoint.appendingPathComponent("state.json")
        var state = try JSONSerialization.jsonObject(with: Data(contentsOf: stateURL)) as! [String: Any]
        var tokenizer = state["tokenizer"] as! [String: Any]
        tokenizer.removeValue(forKey: "unit")
        state["tokenizer"] = tokenizer
        try JSONSerialization.data(withJSONObject: state).write(to: stateURL)
        var notes: [String] = []
        let saved = Checkpoint.note
        Checkpoint.note = { notes.append($0) }
        defer { Checkpoint.note = saved }
        let loaded = try TrainedModel(path: folder.url.path)
        XCTAssertEqual(loaded.tokenizer.vocabularySize, (tokenizer["characters"] as! [String]).count)
        XCTAssertEqual(
            notes,
            [
                "checkpoint \(checkpoint.path) was written by an older QKLab without manifest.json: its files are read without checksums (its next checkpoint will have them)"
            ])
        // Merge "\r" and "\n" into one entry, as the grapheme-cluster tokenizer did for CR LF.
        var characters = tokenizer["characters"] as! [String]
        characters[characters.firstIndex(of: "\n")!] = "\r\n"
        tokenizer["characters"] = characters
        state["tokenizer"] = tokenizer
        try JSONSerialization.data(withJSONObject: state).write(to: stateURL)
        XCTAssertThrowsError(try TrainedModel(path: folder.url.path)) {
            XCTAssertEqual(
                "\($0)",
                #"checkpoint \#(checkpoint.path): it was made by an older QKLab whose vocabulary unit was the grapheme cluster: its entry "\r" + "\n" is 2 code points, which QKLab now tokenizes one by one, so its token ids cannot be mapped; train the run again"#
            )
        }
        XCTAssertThrowsError(try Trainer(resuming: folder)) {
            XCTAssertTrue("\($0)".contains("older QKLab whose vocabulary unit"), "\($0)")
        }
    }

    /// The default prompt is always in the vocabulary: a line feed when there is one, else the
    /// smallest code point — so `sample` with no options works on every corpus.
    func testDefaultPrompt() throws {
        XCTAssertEqual(CharTokenizer(corpus: "To be\r\n").defaultPrompt, "\n")
        XCTAssertEqual(CharTokenizer(corpus: "To be, or not to be").defaultPrompt, " ")
        XCTAssertEqual(CharTokenizer(corpus: "line\rline\r").defaultPrompt, "\r")
        XCTAssertEqual(CharTokenizer(corpus: "\u{1F600}\u{1F601}").defaultPrompt, "\u{1F600}")
        for corpus in ["To be\r\n", "abc", "\u{E9}\u{301}", "\t\u{0}x"] {
            let tokenizer = CharTokenizer(corpus: corpus)
            XCTAssertEqual(try tokenizer.encode(tokenizer.defaultPrompt).count, 1, corpus)
        }
    }
}
