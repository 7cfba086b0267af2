import Formats
import Foundation
import Training
import Transformer

/// Writes a checkpoint as a Hugging Face model folder that `AutoModelForCausalLM` loads
/// unchanged (docs/spec/model.md, "Hugging Face layouts"):
///
///     OUT/config.json          every field explicit (`HuggingFaceConfig`)
///     OUT/model.safetensors    docs/spec/model.md's names, F32; a tied head is stored once (no lm_head.weight)
///     OUT/vocab.json           the characters as a JSON list: id = index
public enum HuggingFaceExport {
    /// Exports `trained` into `folder` (created if missing; these three files are replaced), as
    /// the class `preferred` when given (OLMo 3 rather than OLMo 2), else the layout's first.
    /// Throws before writing anything for layouts with no Hugging Face class (naming the switch)
    /// and for shapes the class's `transformers` config refuses (naming the rule,
    /// `HuggingFaceConfig.transformersRefusal`): every export that succeeds loads.
    @discardableResult
    public static func write(_ trained: TrainedModel, to folder: URL, preferred: HuggingFaceArchitecture? = nil) throws
        -> HuggingFaceConfig
    {
        try write(model: trained.model, tokenizer: trained.tokenizer, to: folder, preferred: preferred)
    }

    /// Exports `model` with its vocabulary `tokenizer` into `folder`.
    @discardableResult
    public static func write(
        model: TransformerModel, tokenizer: CharTokenizer, to folder: URL,
        preferred: HuggingFaceArchitecture? = nil
    ) throws -> HuggingFaceConfig {
        let config = try HuggingFaceConfig(model: model.config, preferred: preferred)
        if let refusal = config.transformersRefusal {
            throw HuggingFaceError("\(config.architecture.className) cannot hold this model: \(refusal)")
        }
        guard tokenizer.vocabularySize == model.config.vocabSize else {
            throw HuggingFaceError(
                "vocabulary of \(counted(tokenizer.vocabularySize, "character")) for a model with vocab_size \(model.config.vocabSize)"
            )
        }
        try FileIO.createDirectory(folder)
        try writeSynced(try config.jsonData(), to: folder.appendingPathComponent("config.json"))
        // transformers reads safetensors metadata only with "format": "pt" (other formats are refused).
        try SafeTensors.write(
            tensors(of: model, as: config.architecture), metadata: ["format": "pt"],
            to: folder.appendingPathComponent("model.safetensors"))
        try writeSynced(try vocabularyJSON(tokenizer), to: folder.appendingPathComponent("vocab.json"))
        return config
    }

    /// The model's weights under their Hugging Face names, in docs/spec/model.md's order, as `architecture`
    /// stores them (the checkpoint's values, except Qwen3-Next's neutralised output gate,
    /// `AttentionOutputGate`). A tied head is the token embedding itself and not a parameter of
    /// its own, so it appears once.
    public static func tensors(of model: TransformerModel, as architecture: HuggingFaceArchitecture) -> [NamedTensor] {
        let tensors = model.parameters.map {
            NamedTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.values)
        }
        switch architecture {
        case .qwen3Next:
            return AttentionOutputGate.exported(tensors, heads: model.config.nHead, headDim: model.config.headDimension)
        case .miniMaxM2: return SingleExpert.exported(tensors)
        default: return tensors
        }
    }

    /// Whether the file at `url`, named as one of the export's three files, is as export-hf
    /// writes it: `config.json` and `vocab.json` byte for byte what writing their contents again
    /// gives; `model.safetensors` a safetensors file whose header (only the header is read) holds
    /// the export's metadata (`"format": "pt"`) and at least one tensor, every one named as in
    /// docs/spec/model.md (`model.…`, `lm_head.weight`). An earlier export's files pass; someone's own files
    /// by those names do not, except a safetensors file of that shape (the export's config.json
    /// beside it is what `qklab export-hf` asks for as well).
    public static func isExportFile(_ url: URL) -> Bool {
        switch url.lastPathComponent {
        case "config.json":
            guard let data = try? FileIO.read(url) else { return false }
            return (try? HuggingFaceConfig(json: data, source: url.path).jsonData()) == data
        case "vocab.json":
            guard let data = try? FileIO.read(url),
                let characters = try? JSONDecoder().decode([String].self, from: data),
                characters.allSatisfy({ $0.unicodeScalars.count == 1 }),
                Set(characters.map(\.unicodeScalars.first!)).count == characters.count
            else { return false }  // distinct, as a vocabulary's
            return (try? encodedCharacters(characters)) == data
        case "model.safetensors":
            guard let header = SafeTensors.header(ofFileAt: url) else { return false }
            return header.metadata == ["format": "pt"] && !header.names.isEmpty
                && header.names.allSatisfy { $0.hasPrefix("model.") || $0 == "lm_head.weight" }
        default:
            return false
        }
    }

    /// `vocab.json`: the characters in id order, as a JSON list of one-character strings.
    static func vocabularyJSON(_ tokenizer: CharTokenizer) throws -> Data {
        try encodedCharacters(tokenizer.characters.map { String($0) })
    }

    /// A list of characters as `vocab.json` holds it.
    private static func encodedCharacters(_ characters: [String]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try encoder.encode(characters)
    }
}
