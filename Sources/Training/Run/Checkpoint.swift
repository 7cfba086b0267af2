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
    /// Updates the optimizer applied (smaller than `step` when steps were skipped).
    public var optimizerSteps: Int
    /// The batch sampler's generator, positioned after `step`'s batch.
    public var sampler: BatchSampler
    public var tokenizer: CharTokenizer
    /// Size and hash of the corpus the run trains on (nil in checkpoints from before they were recorded).
    public var corpus: CorpusFingerprint? = nil
    /// Where `data.path` was given (nil in checkpoints from before it was recorded): how the
    /// corpus is found from another working folder (`Corpus.ofRun`).
    public var corpusOrigin: CorpusOrigin? = nil
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
        guard step >= 0, optimizerSteps >= 0, optimizerSteps <= step, skippedSteps >= 0 else {
            throw RunError(
                "inconsistent counters (step \(step), optimizer steps \(optimizerSteps), skipped \(skippedSteps))")
        }
        guard elapsedSeconds.isFinite, elapsedSeconds >= 0 else {
            throw RunError("elapsedSeconds must be a finite number ≥ 0 (got \(elapsedSeconds))")
        }
        if let skippedInARow, skippedInARow < 0 || skippedInARow > skippedSteps {
            throw RunError("inconsistent counters (skipped \(skippedSteps), of them in a row \(skippedInARow))")
        }
        guard tokenizer.vocabularySize == config.model.vocabSize else {
            throw RunError(
                "vocabulary of \(counted(tokenizer.vocabularySize, "character")) but vocab_size \(config.model.vocabSize)"
            )
        }
        try ConfigLoader.validate(config)
        if let bestValLoss, !bestValLoss.isFinite { throw RunError("best_val_loss is not finite") }
    }
}

/// A checkpoint folder: `model.safetensors` (docs/spec/model.md's names; a tied head is not duplicated),
/// `optimizer.safetensors` (the optimizer's `stateTensors`: AdamW's `<name>.exp_avg`,
/// `<name>.exp_avg_sq`; Muon's `<name>.momentum_buffer` besides) and `state.json`.
///
/// Written to a temporary folder, every file fsynced, then renamed into place and `latest`
/// re-pointed: a folder named `step-*` is always complete.
public enum Checkpoint {
    /// Writes the checkpoint of `state.step`; refuses (throws) if any value is not finite.
    @discardableResult
    public static func save(
        model: TransformerModel, optimizer: any Optimizer, state: CheckpointState, in folder: RunFolder
    )
        throws -> URL
    {
        let modelTensors = model.parameters.map {
            NamedTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.values)
        }
        let optimizerTensors = optimizer.stateTensors.map {
            NamedTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.values)
        }
        for tensor in modelTensors + optimizerTensors where !tensor.values.allSatisfy(\.isFinite) {
            throw RunError(
                "refusing to write checkpoint of step \(state.step): \(tensor.name) holds a non-finite value")
        }
        let final = folder.checkpoint(step: state.step)
        let temporary = folder.checkpoints.appendingPathComponent(".tmp-\(final.lastPathComponent)-\(getpid())")
        do {
            try FileIO.createDirectory(folder.checkpoints)
            try? FileManager.default.removeItem(at: temporary)
            try FileIO.createDirectory(temporary)
            try writeFiles(model: modelTensors, optimizer: optimizerTensors, state: state, to: temporary)
            if FileManager.default.fileExists(atPath: final.path) { try discard(final, in: folder) }
            try FileIO.move(temporary, to: final)
            syncDirectory(folder.checkpoints)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            let previous =
                folder.latestCheckpoint().map { "the previous checkpoint is intact (\($0.lastPathComponent))" }
                ?? "no earlier checkpoint exists"
            throw RunError("could not write checkpoint \(final.path): \(describe(error)); \(previous)")
        }
        try pointLatest(at: final, in: folder)
        return final
    }

    /// Writes the checkpoint's files into the (temporary) folder `folder`, the manifest of their
    /// checksums last; the model file's metadata says that a manifest exists.
    static func writeFiles(model: [NamedTensor], optimizer: [NamedTensor], state: CheckpointState, to folder: URL)
        throws
    {
        let metadata = [
            "format": "qklab-\(state.format)", "step": String(state.step),
            CheckpointManifest.metadataKey: CheckpointManifest.fileName,
        ]
        var manifest = CheckpointManifest()
        for (name, tensors) in [("model.safetensors", model), ("optimizer.safetensors", optimizer)] {
            let data = try SafeTensors.encode(tensors, metadata: metadata)
            manifest.add(name, data)
            try SafeTensors.write(encoded: data, to: folder.appendingPathComponent(name))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData = try encoder.encode(state)
        manifest.add("state.json", stateData)
        try writeSynced(stateData, to: folder.appendingPathComponent("state.json"))
        try writeSynced(manifest.jsonData, to: folder.appendingPathComponent(CheckpointManifest.fileName))
        syncDirectory(folder)
    }

    /// Re-points `checkpoints/latest` at `checkpoint` atomically (new link, then rename).
    static func pointLatest(at checkpoint: URL, in folder: RunFolder) throws {
        let link = folder.checkpoints.appendingPathComponent(".latest-\(getpid())")
        unlink(link.path)
        guard symlink(checkpoint.lastPathComponent, link.path) == 0 else { throw FileError("create link", link.path) }
        guard rename(link.path, folder.latest.path) == 0 else { throw FileError("update", folder.latest.path) }
        syncDirectory(folder.checkpoints)
    }

    /// Deletes all but the newest `keep` complete checkpoints, and leftovers of interrupted
    /// writes and deletions (`.tmp-*`, `.trash-*`) of processes that are gone.
    public static func prune(_ folder: RunFolder, keep: Int) {
        for old in folder.completeCheckpoints().dropLast(keep) { try? discard(old, in: folder) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.checkpoints.path)) ?? []
        for name in names
        where name.hasPrefix(".trash-") || (name.hasPrefix(".tmp-") && !name.hasSuffix("-\(getpid())")) {
            try? FileManager.default.removeItem(at: folder.checkpoints.appendingPathComponent(name))
        }
    }

    /// Removes a checkpoint folder without ever leaving a partial `step-*` behind: it is first
    /// renamed out of the way (atomic), then deleted file by file.
    static func discard(_ checkpoint: URL, in folder: RunFolder) throws {
        let trash = folder.checkpoints.appendingPathComponent(".trash-\(checkpoint.lastPathComponent)-\(getpid())")
        try? FileManager.default.removeItem(at: trash)
        try FileIO.move(checkpoint, to: trash)
        do {
            try FileManager.default.removeItem(at: trash)
        } catch {
            throw RunError("cannot remove \(trash.path): \(describe(error))")
        }
    }

    /// Reads `state.json` of a checkpoint folder, checked against the checkpoint's manifest.
    public static func loadState(_ checkpoint: URL) throws -> CheckpointState {
        let files = try CheckpointFiles.read(checkpoint, ["state.json"])
        noteUnverified(files)
        return try decodeState(files["state.json"], of: checkpoint)
    }

    /// Decodes and validates the bytes of a checkpoint's `state.json`.
    public static func decodeState(_ data: Data, of checkpoint: URL) throws -> CheckpointState {
        let url = checkpoint.appendingPathComponent("state.json")
        do {
            let state = try JSONDecoder().decode(CheckpointState.self, from: data)
            try state.validate()
            return state
        } catch let error as TokenizerError {
            throw RunError("checkpoint \(checkpoint.path): \(error.description)")
        } catch {
            throw RunError("corrupt checkpoint state \(url.path): \(describe(error))")
        }
    }

    /// The state of a checkpoint read for resuming, once its state and both tensor files decode:
    /// what `newestIntact` needs to pass over one whose files are damaged in a way an older
    /// checkpoint without a manifest cannot show.
    static func decodeResumable(_ files: CheckpointFiles) throws -> CheckpointState {
        let state = try decodeState(files["state.json"], of: files.checkpoint)
        for name in ["model.safetensors", "optimizer.safetensors"] {
            _ = try SafeTensors.decode(files[name], source: files.checkpoint.appendingPathComponent(name).path)
        }
        noteUnverified(files)
        return state
    }

    /// Loads weights into `model` (and the optimizer's state into `optimizer`), checking the files against the
    /// manifest and that names and shapes match exactly: a partial load is never silent.
    public static func restore(model: TransformerModel, optimizer: (any Optimizer)?, from checkpoint: URL) throws {
        let names = ["model.safetensors"] + (optimizer == nil ? [] : ["optimizer.safetensors"])
        try restore(model: model, optimizer: optimizer, from: try CheckpointFiles.read(checkpoint, names))
    }

    /// Loads weights (and optimizer state) from files already read and checked.
    public static func restore(model: TransformerModel, optimizer: (any Optimizer)?, from files: CheckpointFiles) throws
    {
        let modelURL = files.checkpoint.appendingPathComponent("model.safetensors")
        let weights = try SafeTensors.decode(files["model.safetensors"], source: modelURL.path).tensors
        try assign(weights, to: model.parameters.map { ($0.name, $0.tensor) }, source: modelURL.path)
        guard let optimizer else { return }
        let optimizerURL = files.checkpoint.appendingPathComponent("optimizer.safetensors")
        let moments = try SafeTensors.decode(files["optimizer.safetensors"], source: optimizerURL.path).tensors
        try assign(moments, to: optimizer.stateTensors.map { ($0.name, $0.tensor) }, source: optimizerURL.path)
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
            byName[name]!.values.withUnsafeBufferPointer {
                tensor.data.update(from: $0.baseAddress!, count: tensor.count)
            }
        }
    }
}
