/// Character-level tokenizer whose unit is the Unicode scalar (code point): the vocabulary is
/// the sorted set of code points of the corpus, and a code point's id is its index. It is stored
/// in every checkpoint, so sampling needs no corpus.
///
/// Code points are what Python's `str` iterates and what nanoGPT's character models (`chars =
/// sorted(set(data))`) use, so `vocab.json` means the same to Python tools, and nothing is
/// merged or split: "é" (U+00E9) and "e" + U+0301 are different sequences, an emoji family or a
/// flag is the code points it is made of, and CR LF is two tokens. `decode(encode(text))` is
/// `text`, byte for byte, for every string (every valid UTF-8 corpus). (Swift's `Character`, a
/// grapheme cluster, would merge canonically equivalent text and join CR LF.)
public struct CharTokenizer: Equatable, Codable, Sendable {
    /// The vocabulary, sorted by code point.
    public let scalars: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int32]

    public init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
        ids = Dictionary(uniqueKeysWithValues: scalars.enumerated().map { ($1, Int32($0)) })
    }

    /// The vocabulary of `text`.
    public init(corpus text: String) {
        self.init(scalars: Set(text.unicodeScalars).sorted { $0.value < $1.value })
    }

    public var vocabularySize: Int { scalars.count }

    /// The vocabulary as strings of one code point each, in id order (`vocab.json`'s entries).
    public var characters: [String] { scalars.map { String($0) } }

    /// The prompt `qklab sample` continues when given none: a line feed when the vocabulary has
    /// one (the model starts a fresh line), else the vocabulary's first entry (the smallest
    /// code point, usually a space). It is always encodable, whatever the corpus.
    public var defaultPrompt: String {
        ids["\n"] != nil ? "\n" : scalars.first.map { String($0) } ?? "\n"
    }

    /// Ids of `text`, one per code point; throws naming every code point outside the vocabulary.
    public func encode(_ text: String) throws -> [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(text.utf8.count)
        var unknown: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars {
            if let id = ids[scalar] { result.append(id) } else if !unknown.contains(scalar) { unknown.append(scalar) }
        }
        if !unknown.isEmpty {
            let listed = unknown.map(Self.literal).joined(separator: ", ")
            throw TokenizerError(description: "characters not in the vocabulary: \(listed)")
        }
        return result
    }

    /// Text of `ids` (ids outside the vocabulary are a programming error).
    public func decode(_ ids: [Int32]) -> String {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: ids.lazy.map { self.scalars[Int($0)] })
        return String(text)
    }

    /// A code point as a quoted literal with escapes (`"\n"`, `"\u{301}"`), for messages.
    static func literal(_ scalar: Unicode.Scalar) -> String {
        let escaped = scalar.escaped(asASCII: false)
        // A combining mark or other invisible code point alone would be unreadable: name it.
        guard escaped == String(scalar), !scalar.properties.generalCategory.isVisibleAlone else {
            return "\"\(escaped)\""
        }
        return "\"\\u{\(String(scalar.value, radix: 16, uppercase: true))}\""
    }

    enum CodingKeys: String, CodingKey { case characters, unit }

    /// The unit written to state.json. Checkpoints of older QKLab versions have no `unit`: their
    /// vocabulary was a set of grapheme clusters.
    static let unit = "unicode_scalar"

    /// Reads a vocabulary from state.json. A vocabulary without `unit` comes from an older
    /// QKLab whose unit was the grapheme cluster: when every entry is one code point (most
    /// corpora) the ids mean the same and it loads unchanged; an entry of several code points
    /// (CR LF, a letter with a combining accent, an emoji sequence) has no id under code points,
    /// and the checkpoint is refused with one line saying so.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let unit = try container.decodeIfPresent(String.self, forKey: .unit)
        guard unit == nil || unit == Self.unit else {
            throw TokenizerError(
                description:
                    "its vocabulary unit \(String(reflecting: unit!)) is not supported (expected \"\(Self.unit)\")")
        }
        let strings = try container.decode([String].self, forKey: .characters)
        if let merged = strings.first(where: { $0.unicodeScalars.count > 1 }) {
            let scalars = merged.unicodeScalars.map(Self.literal).joined(separator: " + ")
            throw TokenizerError(
                description:
                    "it was made by an older QKLab whose vocabulary unit was the grapheme cluster: its entry \(scalars) is \(merged.unicodeScalars.count) code points, which QKLab now tokenizes one by one, so its token ids cannot be mapped; train the run again"
            )
        }
        guard strings.allSatisfy({ $0.unicodeScalars.count == 1 }) else {
            throw TokenizerError(description: "its vocabulary has an empty entry (each must be one code point)")
        }
        let scalars = strings.map { $0.unicodeScalars.first! }
        guard Set(scalars).count == scalars.count else {
            throw TokenizerError(description: "its vocabulary entries are not distinct")
        }
        self.init(scalars: scalars)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(characters, forKey: .characters)
        try container.encode(Self.unit, forKey: .unit)
    }

    public static func == (a: CharTokenizer, b: CharTokenizer) -> Bool { a.scalars == b.scalars }
}

public struct TokenizerError: Error, CustomStringConvertible {
    public let description: String
}

extension Unicode.GeneralCategory {
    /// Whether a code point of this category shows as itself when printed alone (not a
    /// combining mark, control, format character or separator other than the space).
    var isVisibleAlone: Bool {
        switch self {
        case .nonspacingMark, .spacingMark, .enclosingMark, .control, .format, .lineSeparator, .paragraphSeparator,
            .surrogate, .privateUse, .unassigned:
            return false
        default:
            return true
        }
    }
}
