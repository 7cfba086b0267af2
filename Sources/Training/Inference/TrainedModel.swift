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

    /// Loads from a run folder (its newest complete checkpoint) or from a checkpoint folder.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else { throw RunError("\(path): no such run or checkpoint folder") }
        let isCheckpoint = FileManager.default.fileExists(atPath: url.appendingPathComponent("state.json").path)
        if isCheckpoint {
            checkpoint = url
        } else if let latest = RunFolder(url).latestCheckpoint() {
            checkpoint = latest
        } else {
            throw RunError("\(path) has no complete checkpoint (it holds: \(RunFolder(url).contentsSummary()))")
        }
        state = try Checkpoint.loadState(checkpoint)
        do {
            model = try TransformerModel(config: state.config.model)
        } catch {
            throw RunError("\(checkpoint.path)/state.json: invalid model config: \(error)")
        }
        guard state.tokenizer.vocabularySize == state.config.model.vocabSize else {
            throw RunError("\(checkpoint.path)/state.json: vocabulary of \(state.tokenizer.vocabularySize) characters but vocab_size \(state.config.model.vocabSize)")
        }
        try Checkpoint.restore(model: model, optimizer: nil, from: checkpoint)
    }

    /// Validation loss on the fixed evaluation windows of the run's corpus.
    public func validationLoss() throws -> Double {
        let config = state.config
        let corpus = try Corpus.ofRun(state, purpose: "its validation windows are not the run's; restore the file to evaluate")
        let batches = BatchSampler.evaluationBatches(of: corpus.validation, count: config.train.evalBatches,
                                                     batchSize: config.train.batchSize, length: config.model.blockSize)
        return Evaluation.meanCrossEntropy(model: model, batches: batches)
    }
}
