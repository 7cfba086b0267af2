import Autograd
import Formats
import Foundation
import Transformer

/// Everything besides tensors that a resumed run needs to continue bit-identically.
public struct CheckpointState: Codable, Equatable {
    /// Format of this file; bumped on incompatible changes.
    public var format = 1
    /// Optimizer steps completed.
    public var step: Int
    /// Updates AdamW applied (smaller than `step` when steps were skipped).
    public var optimizerSteps: Int
    /// The batch sampler's generator, positioned after `step`'s batch.
    public var sampler: BatchSampler
    public var tokenizer: CharTokenizer
    /// Size and hash of the corpus the run trains on (nil in checkpoints from before they were recorded).
    public var corpus: CorpusFingerprint? = nil
    /// The resolved config the run trains with (model.vocab_size set from the corpus).
    public var config: TrainingConfig
    public var bestValLoss: Double?
    public var skippedSteps: Int
    /// Of those, the steps skipped in a row up to `step` (nil in older checkpoints: 0).
    public var skippedInARow: Int? = nil
    /// Training time so far, so `elapsed_s` continues across resumes.
    public var elapsedSeconds: Double
}

extension CheckpointState {
    /// Checks what decoding cannot: consistent counts and a config that builds a model.
    func validate() throws {
        guard format == 1 else { throw RunError("format \(format) is not supported (expected 1)") }
        guard step >= 0, optimizerSteps >= 0, optimizerSteps <= step, skippedSteps >= 0, elapsedSeconds >= 0 else {
            throw RunError("inconsistent counters (step \(step), optimizer steps \(optimizerSteps), skipped \(skippedSteps))")
        }
        if let skippedInARow, skippedInARow < 0 || skippedInARow > skippedSteps {
            throw RunError("inconsistent counters (skipped \(skippedSteps), of them in a row \(skippedInARow))")
        }
        guard tokenizer.vocabularySize == config.model.vocabSize else {
            throw RunError("vocabulary of \(tokenizer.vocabularySize) characters but vocab_size \(config.model.vocabSize)")
        }
        try ConfigLoader.validate(config)
        if let bestValLoss, !bestValLoss.isFinite { throw RunError("best_val_loss is not finite") }
    }
}

/// A checkpoint folder: `model.safetensors` (model.md's names; a tied head is not duplicated),
/// `optimizer.safetensors` (`<name>.exp_avg`, `<name>.exp_avg_sq`) and `state.json`.
///
/// Written to a temporary folder, every file fsynced, then renamed into place and `latest`
/// re-pointed: a folder named `step-*` is always complete.
public enum Checkpoint {
    /// Writes the checkpoint of `state.step`; refuses (throws) if any value is not finite.
    @discardableResult
    public static func save(model: TransformerModel, optimizer: AdamW, state: CheckpointState, in folder: RunFolder) throws -> URL {
        let modelTensors = model.parameters.map { NamedTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.values) }
        var optimizerTensors: [NamedTensor] = []
        for (index, parameter) in model.parameters.enumerated() {
            optimizerTensors.append(NamedTensor(name: "\(parameter.name).exp_avg", shape: parameter.tensor.shape, values: optimizer.firstMoments[index].values))
            optimizerTensors.append(NamedTensor(name: "\(parameter.name).exp_avg_sq", shape: parameter.tensor.shape, values: optimizer.secondMoments[index].values))
        }
        for tensor in modelTensors + optimizerTensors where !tensor.values.allSatisfy(\.isFinite) {
            throw RunError("refusing to write checkpoint of step \(state.step): \(tensor.name) holds a non-finite value")
        }
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: folder.checkpoints, withIntermediateDirectories: true)
        let final = folder.checkpoint(step: state.step)
        let temporary = folder.checkpoints.appendingPathComponent(".tmp-\(final.lastPathComponent)-\(getpid())")
        try? fileManager.removeItem(at: temporary)
        do {
            try fileManager.createDirectory(at: temporary, withIntermediateDirectories: true)
            let metadata = ["format": "qklab-\(state.format)", "step": String(state.step)]
            try SafeTensors.write(modelTensors, metadata: metadata, to: temporary.appendingPathComponent("model.safetensors"))
            try SafeTensors.write(optimizerTensors, metadata: metadata, to: temporary.appendingPathComponent("optimizer.safetensors"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeSynced(try encoder.encode(state), to: temporary.appendingPathComponent("state.json"))
            syncDirectory(temporary)
            if fileManager.fileExists(atPath: final.path) { try discard(final, in: folder) }
            try fileManager.moveItem(at: temporary, to: final)
            syncDirectory(folder.checkpoints)
        } catch {
            try? fileManager.removeItem(at: temporary)
            throw RunError("could not write checkpoint \(final.path): \(describe(error)); the previous checkpoint is intact")
        }
        try pointLatest(at: final, in: folder)
        return final
    }

    /// Re-points `checkpoints/latest` at `checkpoint` atomically (new link, then rename).
    static func pointLatest(at checkpoint: URL, in folder: RunFolder) throws {
        let link = folder.checkpoints.appendingPathComponent(".latest-\(getpid())")
        try? FileManager.default.removeItem(at: link)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: checkpoint.lastPathComponent)
        guard rename(link.path, folder.latest.path) == 0 else {
            throw RunError("could not update \(folder.latest.path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(folder.checkpoints)
    }

    /// Deletes all but the newest `keep` complete checkpoints, and leftovers of interrupted
    /// writes and deletions (`.tmp-*`, `.trash-*`) of processes that are gone.
    public static func prune(_ folder: RunFolder, keep: Int) {
        for old in folder.completeCheckpoints().dropLast(keep) { try? discard(old, in: folder) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.checkpoints.path)) ?? []
        for name in names where name.hasPrefix(".trash-") || (name.hasPrefix(".tmp-") && !name.hasSuffix("-\(getpid())")) {
            try? FileManager.default.removeItem(at: folder.checkpoints.appendingPathComponent(name))
        }
    }

    /// Removes a checkpoint folder without ever leaving a partial `step-*` behind: it is first
    /// renamed out of the way (atomic), then deleted file by file.
    static func discard(_ checkpoint: URL, in folder: RunFolder) throws {
        let trash = folder.checkpoints.appendingPathComponent(".trash-\(checkpoint.lastPathComponent)-\(getpid())")
        try? FileManager.default.removeItem(at: trash)
        try FileManager.default.moveItem(at: checkpoint, to: trash)
        try FileManager.default.removeItem(at: trash)
    }

    /// Reads `state.json` of a checkpoint folder.
    public static func loadState(_ checkpoint: URL) throws -> CheckpointState {
        let url = checkpoint.appendingPathComponent("state.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunError("checkpoint \(checkpoint.path) has no state.json")
        }
        do {
            let state = try JSONDecoder().decode(CheckpointState.self, from: data)
            try state.validate()
            return state
        } catch {
            throw RunError("corrupt checkpoint state \(url.path): \(describe(error))")
        }
    }

    /// Loads weights into `model` (and moments into `optimizer`), checking that names and shapes
    /// match exactly: a partial load is never silent.
    public static func restore(model: TransformerModel, optimizer: AdamW?, from checkpoint: URL) throws {
        let weights = try SafeTensors.read(checkpoint.appendingPathComponent("model.safetensors")).tensors
        try assign(weights, to: model.parameters.map { ($0.name, $0.tensor) }, source: checkpoint.appendingPathComponent("model.safetensors").path)
        guard let optimizer else { return }
        let moments = try SafeTensors.read(checkpoint.appendingPathComponent("optimizer.safetensors")).tensors
        var targets: [(String, Tensor)] = []
        for (index, parameter) in model.parameters.enumerated() {
            targets.append(("\(parameter.name).exp_avg", optimizer.firstMoments[index]))
            targets.append(("\(parameter.name).exp_avg_sq", optimizer.secondMoments[index]))
        }
        try assign(moments, to: targets, source: checkpoint.appendingPathComponent("optimizer.safetensors").path)
    }

    /// Copies `tensors` into `targets` by name; every target must be present with its shape, and
    /// nothing else may be in the file.
    public static func assign(_ tensors: [NamedTensor], to targets: [(String, Tensor)], source: String) throws {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, tensor) in targets {
            guard let stored = byName[name] else { throw RunError("\(source): missing tensor \(name)") }
            guard stored.shape == tensor.shape else {
                throw RunError("\(source): \(name) has shape \(stored.shape), the model needs \(tensor.shape)")
            }
        }
        let expected = Set(targets.map(\.0))
        if let extra = tensors.first(where: { !expected.contains($0.name) }) {
            throw RunError("\(source): unexpected tensor \(extra.name) (the checkpoint was made for another layout)")
        }
        for (name, tensor) in targets {
            byName[name]!.values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
        }
    }
}
