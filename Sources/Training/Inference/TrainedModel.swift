import Formats
import Foundation
import Transformer

/// A model loaded from a checkpoint for sampling, evaluation or export, with its tokenizer
/// and config.
public struct TrainedModel {
    public let model: TransformerModel
    public let state: CheckpointState
    public let checkpoint: URL
    public var tokenizer: CharTokenizer { state.tokenizer }
    public var config: TrainingConfig { state.config }

    /// How many times a run's newest checkpoint is read again when pruning removed the one
    /// picked (each retry picks the newest anew; losing the race this often would need a
    /// checkpoint written faster than a few files are opened).
    static let attempts = 20

    /// The files a trained model is read from.
    static let files = ["state.json", "model.safetensors"]

    /// Loads from a run folder (its newest intact checkpoint: a damaged or incomplete newer one is
    /// passed over with a note, see `Checkpoint.newestIntact`) or from a checkpoint folder. The
    /// files are checked against the checkpoint's manifest. A run that is still training may
    /// prune the checkpoint picked while it is read; the newest one is then picked again.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RunError("\(path): no such run or checkpoint folder")
        }
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("state.json").path) {
            (checkpoint, state, model) = try Self.load(try CheckpointFiles.read(url, Self.files))
            return
        }
        let run = RunFolder(url)
        var vanished: CheckpointVanished?
        for _ in 0..<Self.attempts {
            do {
                guard let (_, loaded, _) = try Checkpoint.newestIntact(in: run, reading: Self.files, Self.load) else {
                    break
                }
                (checkpoint, state, model) = loaded
                return
            } catch let error as CheckpointVanished {
                vanished = error
            }
        }
        if let vanished { throw vanished }
        throw RunError("\(path): \(run.noCheckpointReason())")
    }

    /// The state and weights of one consistent set of checked checkpoint files.
    static func load(_ files: CheckpointFiles) throws -> (URL, CheckpointState, TransformerModel) {
        let checkpoint = files.checkpoint
        let state = try Checkpoint.decodeState(files["state.json"], of: checkpoint)
        let model: TransformerModel
        do {
            model = try TransformerModel(config: state.config.model)
        } catch {
            throw RunError("\(checkpoint.path)/state.json: invalid model config: \(error)")
        }
        guard state.tokenizer.vocabularySize == state.config.model.vocabSize else {
            throw RunError(
                "\(checkpoint.path)/state.json: vocabulary of \(counted(state.tokenizer.vocabularySize, "character")) but vocab_size \(state.config.model.vocabSize)"
            )
        }
        try Checkpoint.restore(model: model, optimizer: nil, from: files)
        Checkpoint.noteUnverified(files)
        return (checkpoint, state, model)
    }

    /// Validation loss on the fixed evaluation windows of the run's corpus: the file `corpus`
    /// names, or else the one the run finds (`Corpus.ofRun`); either must have the size and hash
    /// the checkpoint recorded.
    public func validationLoss(corpus named: String? = nil) throws -> Double {
        let config = state.config
        let runFolder = checkpoint.deletingLastPathComponent().deletingLastPathComponent()
        let corpus = try Corpus.ofRun(
            state, runFolder: runFolder, named: named,
            purpose: "its validation windows are not the run's; restore the file to evaluate",
            howToName: "name the file with qklab eval --corpus FILE"
        ).corpus
        let batches = BatchSampler.evaluationBatches(
            of: corpus.validation, count: config.train.evalBatches,
            batchSize: config.train.batchSize, length: config.model.blockSize)
        return Evaluation.meanCrossEntropy(model: model, batches: batches)
    }
}
