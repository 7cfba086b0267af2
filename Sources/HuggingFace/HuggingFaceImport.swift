import Formats
import Foundation
import Training
import Transformer

/// Loads the weights of a Hugging Face model folder (a QKLab export, or any small safetensors
/// model of a class in `HuggingFaceArchitecture` whose config QKLab's layouts cover) into a new
/// run's model.
///
/// Everything is checked before a single value is copied, so a folder that does not fit is an
/// error and never a partial load: `config.json` against the run's `[model]` (layout, sizes,
/// `rope_theta`, `rms_norm_eps`, tied head), `vocab_size` against the corpus vocabulary,
/// `vocab.json` (when present) against the corpus characters, and `model.safetensors` against
/// the model's names and shapes, with no tensor missing or left over.
public enum HuggingFaceImport {
    /// The weights of `folder` as a new run's starting point (`qklab train --init-from`).
    public static func initialWeights(_ folder: URL) -> InitialWeights {
        InitialWeights(source: folder.path) { model, vocabulary in try load(folder, into: model, vocabulary: vocabulary)
        }
    }

    /// Copies the weights of `folder` into `model`, whose vocabulary is `vocabulary`.
    public static func load(_ folder: URL, into model: TransformerModel, vocabulary: CharTokenizer) throws {
        let config = try readConfig(folder)
        do {
            _ = try HuggingFaceArchitecture(layout: model.config)
        } catch let error as HuggingFaceError {
            throw HuggingFaceError("cannot start from \(folder.path): the run's [model] \(error.description)")
        }
        let configPath = folder.appendingPathComponent("config.json").path
        if let mismatch = try config.mismatch(with: model.config, source: configPath) {
            throw HuggingFaceError(mismatch)
        }
        guard config.vocabSize == vocabulary.vocabularySize else {
            throw HuggingFaceError(
                "\(configPath): vocab_size is \(config.vocabSize) but the corpus has \(counted(vocabulary.vocabularySize, "character"))"
            )
        }
        try checkVocabularyFile(in: folder, against: vocabulary)
        let weightsURL = folder.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw HuggingFaceError(
                "\(folder.path) has no model.safetensors (sharded or PyTorch .bin checkpoints are not read)")
        }
        var weights = try SafeTensors.read(weightsURL).tensors
        switch config.architecture {
        case .qwen3Next:
            weights = try AttentionOutputGate.imported(
                weights, heads: model.config.nHead, headDim: model.config.headDimension, source: weightsURL.path)
        case .miniMaxM2: weights = try SingleExpert.imported(weights, source: weightsURL.path)
        default: break
        }
        try Checkpoint.assign(weights, to: model.parameters.map { ($0.name, $0.tensor) }, source: weightsURL.path)
    }

    /// The folder's `config.json`.
    static func readConfig(_ folder: URL) throws -> HuggingFaceConfig {
        let url = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let what = FileManager.default.fileExists(atPath: folder.path) ? "has no config.json" : "does not exist"
            throw HuggingFaceError(
                "\(folder.path) \(what) (expected a Hugging Face model folder, e.g. from qklab export-hf)")
        }
        return try HuggingFaceConfig(json: data, source: url.path)
    }

    /// `vocab.json`, when present, must list exactly the corpus characters in id order.
    static func checkVocabularyFile(in folder: URL, against vocabulary: CharTokenizer) throws {
        let url = folder.appendingPathComponent("vocab.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        guard let stored = try? JSONDecoder().decode([String].self, from: data) else {
            throw HuggingFaceError("\(url.path) is not a JSON list of characters (QKLab models are character-level)")
        }
        let corpus = vocabulary.characters.map { String($0) }
        guard stored != corpus else { return }
        if let id = zip(stored, corpus).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            throw HuggingFaceError(
                "\(url.path) differs from the corpus vocabulary at id \(id): \(String(reflecting: stored[id])) vs \(String(reflecting: corpus[id]))"
            )
        }
        throw HuggingFaceError("\(url.path) has \(counted(stored.count, "character")), the corpus \(corpus.count)")
    }
}
