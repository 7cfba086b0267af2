/// Character-level tokenizer: the vocabulary is the sorted set of characters of the corpus,
/// and a character's id is its index. It is stored in every checkpoint, so sampling needs no corpus.
public struct CharTokenizer: Equatable, Codable, Sendable {
    /// The vocabulary, sorted by Unicode scalar values. Characters are Swift's (grapheme
    /// clusters): "\r\n" is one token, where Python's `sorted(set(text))` would see two.
    public let characters: [Character]
    private let ids: [Character: Int32]

    public init(characters: [Character]) {
        self.characters = characters
        ids = Dictionary(uniqueKeysWithValues: characters.enumerated().map { ($1, Int32($0)) })
    }

    /// The vocabulary of `text`.
    public init(corpus text: String) {
        self.init(characters: Set(text).sorted { Array($0.unicodeScalars) .lexicographicallyPrecedes(Array($1.unicodeScalars)) { $0.value < $1.value } })
    }

    public var vocabularySize: Int { characters.count }

    /// Ids of `text`; throws naming every character outside the vocabulary.
    public func encode(_ text: String) throws -> [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(text.count)
        var unknown: [Character] = []
        for character in text {
            if let id = ids[character] { result.append(id) } else if !unknown.contains(character) { unknown.append(character) }
        }
        if !unknown.isEmpty {
            let listed = unknown.map { $0.debugDescriptionLiteral }.joined(separator: ", ")
            throw TokenizerError(description: "characters not in the vocabulary: \(listed)")
        }
        return result
    }

    /// Text of `ids` (ids outside the vocabulary are a programming error).
    public func decode(_ ids: [Int32]) -> String {
        String(ids.map { characters[Int($0)] })
    }

    enum CodingKeys: CodingKey { case characters }

    public init(from decoder: Decoder) throws {
        let strings = try decoder.container(keyedBy: CodingKeys.self).decode([String].self, forKey: .characters)
        guard strings.allSatisfy({ $0.count == 1 }), Set(strings).count == strings.count else {
            throw TokenizerError(description: "vocabulary entries must be distinct single characters")
        }
        self.init(characters: strings.map { Character($0) })
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(characters.map { String($0) }, forKey: .characters)
    }

    public static func == (a: CharTokenizer, b: CharTokenizer) -> Bool { a.characters == b.characters }
}

public struct TokenizerError: Error, CustomStringConvertible {
    public let description: String
}

extension Character {
    /// The character as a quoted literal with escapes (`"\n"`), for messages.
    var debugDescriptionLiteral: String { String(reflecting: String(self)) }
}
