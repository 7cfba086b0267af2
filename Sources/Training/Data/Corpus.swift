import Formats
import Foundation

/// A tokenized corpus split into training and validation parts.
public struct Corpus {
    public let tokenizer: CharTokenizer
    /// First `1 − val_fraction` of the tokens.
    public let train: [Int32]
    /// The rest.
    public let validation: [Int32]
    /// Size and hash of the text's bytes (of the file as read, for `init(path:)`).
    public let fingerprint: CorpusFingerprint

    /// The fewest distinct characters a corpus may hold: with one, every next token is certain,
    /// so the loss is 0 from the first step and there is nothing to learn.
    public static let minimumVocabularySize = 2

    /// Reads a UTF-8 text file and splits it. Throws for a missing, empty or non-UTF-8 file, one
    /// of fewer than `minimumVocabularySize` distinct characters, or a split too short to hold one window of `blockSize + 1` tokens.
    public init(path: String, valFraction: Double, blockSize: Int) throws {
        let bytes: Data
        do {
            bytes = try FileIO.read(URL(fileURLWithPath: path))
        } catch let error as FileError {
            let shown = path.isEmpty ? "\"\" (data.path is empty)" : path
            let relative =
                path.hasPrefix("/")
                ? "" : "data.path is relative to the current folder, \(FileManager.default.currentDirectoryPath); "
            throw DataError(
                error.code == ENOENT
                    ? "corpus \(shown): no such file (\(relative)for the shipped corpora run scripts/get-data.sh)"
                    : "corpus \(shown): \(error.reason)")
        }
        guard String(data: bytes, encoding: .utf8) != nil else {
            throw DataError("corpus \(path): not UTF-8 text")
        }
        let text = String(decoding: bytes, as: UTF8.self)  // every byte, a leading BOM (U+FEFF) too, as Python reads it
        try self.init(
            text: text, fingerprint: CorpusFingerprint(of: bytes), source: path, valFraction: valFraction,
            blockSize: blockSize)
    }

    public init(text: String, source: String, valFraction: Double, blockSize: Int) throws {
        try self.init(
            text: text, fingerprint: CorpusFingerprint(of: Data(text.utf8)), source: source,
            valFraction: valFraction, blockSize: blockSize)
    }

    private init(text: String, fingerprint: CorpusFingerprint, source: String, valFraction: Double, blockSize: Int)
        throws
    {
        self.fingerprint = fingerprint
        guard !text.isEmpty else { throw DataError("corpus \(source) is empty") }
        guard valFraction > 0 && valFraction < 1 else {
            throw DataError("val_fraction must be between 0 and 1 (got \(valFraction))")
        }
        tokenizer = CharTokenizer(corpus: text)
        guard tokenizer.vocabularySize >= Self.minimumVocabularySize else {
            let only = CharTokenizer.literal(tokenizer.scalars[0])
            throw DataError(
                "corpus \(source) holds one distinct character (\(only)): there is nothing to learn; a corpus needs at least \(Self.minimumVocabularySize)"
            )
        }
        let tokens = try tokenizer.encode(text)
        let trainCount = Int((Double(tokens.count) * (1 - valFraction)).rounded(.down))
        train = Array(tokens[..<trainCount])
        validation = Array(tokens[trainCount...])
        for (name, part) in [("training", train), ("validation", validation)] where part.count < blockSize + 1 {
            throw DataError(
                "corpus \(source): the \(name) split has \(counted(part.count, "token")), fewer than block_size + 1 = \(blockSize + 1) (\(counted(tokens.count, "token")) in all, val_fraction \(valFraction))"
            )
        }
    }
}

/// A data problem, one line.
public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
