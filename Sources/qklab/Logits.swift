import ArgumentParser
import Formats
import HuggingFace
import Training

/// `qklab logits`: the logits of one token sequence as JSON (for comparisons with other
/// implementations, e.g. scripts/hf_check.py).
struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Print the logits of a token sequence as JSON: {\"tokens\": [...], \"logits\": [[V floats] per position]}.")

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Token ids, comma-separated (at most block_size).", valueName: "ids"))
    var tokens: String?

    @Option(parsing: .unconditional, help: "Text to encode with the run's vocabulary instead of --tokens.")
    var text: String?

    func validate() throws {
        if (tokens == nil) == (text == nil) { throw ValidationError("give exactly one of --tokens and --text") }
        if let tokens { _ = try parseIDs(tokens) }
    }

    func run() throws {
        let trained = try TrainedModel(path: path)
        let ids = try tokens.map(parseIDs) ?? encode(text!, with: trained.tokenizer)
        print(try SequenceLogits(model: trained.model, tokens: ids).json)
    }

    func parseIDs(_ list: String) throws -> [Int32] {
        try list.split(separator: ",", omittingEmptySubsequences: false).map {
            let text = $0.trimmingCharacters(in: .whitespaces)
            guard let id = Int32(text) else {
                let reason = text.isEmpty ? "an empty item" : Int(text) != nil ? "out of range" : "not an integer"
                throw ValidationError("--tokens: \"\(text)\" is not a token id (\(reason))")
            }
            return id
        }
    }

    func encode(_ text: String, with tokenizer: CharTokenizer) throws -> [Int32] {
        do {
            return try tokenizer.encode(text)
        } catch {
            throw RunError("--text: \(error)")
        }
    }
}
