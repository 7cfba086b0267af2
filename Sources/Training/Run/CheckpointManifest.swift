import Formats
import Foundation

/// `manifest.json` of a checkpoint folder: the size and CRC32C of each of its other files,
/// written last into the checkpoint's temporary folder, so every complete checkpoint has one.
///
///     {"algorithm": "crc32c", "files": {"model.safetensors": {"bytes": 104224, "crc32c": "9a4c03f1"}, …}, "format": 1}
///
/// Every reader of a checkpoint (resume, eval, sample, logits, export-hf) checks the files it
/// reads against it, so damage anywhere in a file — in a safetensors file's tensor data, which
/// no header check can see, or in a number of state.json — is one line naming the file.
///
/// CRC32C rather than a cryptographic hash: the threat is accidental damage (bad sectors,
/// truncated copies, flipped bits), which a 32-bit CRC detects with certainty for bursts up to
/// 32 bits and otherwise misses with probability 2⁻³² — not tampering, which a checksum stored
/// beside the data could not stop anyway. It is already in Formats (TFRecords use it), costs
/// one table lookup per byte, and needs no dependency (Foundation on Linux has no SHA-256).
public struct CheckpointManifest: Codable, Equatable {
    public struct Entry: Codable, Equatable {
        public var bytes: Int
        /// Eight lowercase hex digits.
        public var crc32c: String
    }

    public var format = 1
    public var algorithm = "crc32c"
    public var files: [String: Entry] = [:]

    /// The manifest's name in a checkpoint folder.
    public static let fileName = "manifest.json"

    /// The safetensors metadata key that marks a checkpoint written with a manifest, so that a
    /// deleted manifest is an error rather than an older checkpoint.
    static let metadataKey = "manifest"

    public init() {}

    /// Records `data` as the contents of `name`.
    public mutating func add(_ name: String, _ data: Data) {
        files[name] = Entry(bytes: data.count, crc32c: Self.hex(crc32c(data)))
    }

    public var jsonData: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(self)
    }

    /// Throws, naming the file, unless `data` is what the manifest records for `name`.
    func check(_ name: String, _ data: Data, in checkpoint: URL) throws {
        let path = checkpoint.appendingPathComponent(name).path
        guard let entry = files[name] else {
            throw RunError("checkpoint file \(path) is not listed in its \(Self.fileName): the checkpoint is damaged")
        }
        guard data.count == entry.bytes else {
            throw RunError(
                "checkpoint file \(path) is damaged: \(counted(data.count, "byte")), its \(Self.fileName) says \(entry.bytes)"
            )
        }
        let crc = Self.hex(crc32c(data))
        guard crc == entry.crc32c.lowercased() else {
            throw RunError(
                "checkpoint file \(path) is damaged: its CRC32C is \(crc), its \(Self.fileName) says \(entry.crc32c)")
        }
    }

    static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// A checkpoint folder's files, read into memory through one open handle on the folder and
/// checked against its manifest.
///
/// Reading a run that is still training is safe: the trainer's pruning renames an old
/// checkpoint folder away and then deletes its files. A read that loses that race (a file is
/// gone, or the folder no longer sits at its path once read) throws `CheckpointVanished`,
/// and `TrainedModel` reads the run's newest checkpoint again. A read that wins it holds the
/// bytes of one checkpoint, whatever happens to the folder afterwards.
public struct CheckpointFiles {
    public let checkpoint: URL
    /// File name → contents.
    public let contents: [String: Data]
    /// False for a checkpoint written before manifests existed (nothing could be checked).
    public let verified: Bool

    public subscript(name: String) -> Data { contents[name]! }

    /// Called once the checkpoint's folder is open, before its files are read (tests use it to
    /// prune the checkpoint at that instant).
    nonisolated(unsafe) static var afterOpeningFolder: ((URL) -> Void)?

    /// Reads `names` (and the manifest) from `checkpoint`, checking each against the manifest.
    public static func read(_ checkpoint: URL, _ names: [String]) throws -> CheckpointFiles {
        let folder = open(checkpoint.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else {
            if errno == ENOENT { throw CheckpointVanished(checkpoint: checkpoint) }
            throw FileError("open checkpoint", checkpoint.path)
        }
        defer { close(folder) }
        afterOpeningFolder?(checkpoint)
        let manifestData = try readFile(CheckpointManifest.fileName, in: folder, of: checkpoint, required: false)
        var contents: [String: Data] = [:]
        for name in names {
            contents[name] = try readFile(name, in: folder, of: checkpoint, required: true)
        }
        // Pruning renames a folder away before deleting it: bytes read from a folder that is
        // no longer at its path may be from a checkpoint being removed (a missing manifest
        // included), so they are not trusted.
        guard !isBeingRemoved(folder, checkpoint) else { throw CheckpointVanished(checkpoint: checkpoint) }
        guard let manifestData else {
            let marked =
                contents["model.safetensors"].map { model in
                    (try? SafeTensors.decode(model, source: ""))?.metadata[CheckpointManifest.metadataKey] != nil
                } ?? modelHeaderIsMarked(in: folder)
            if marked {
                throw RunError(
                    "checkpoint \(checkpoint.path) has no \(CheckpointManifest.fileName), though it was written with one: the checkpoint is damaged"
                )
            }
            return CheckpointFiles(checkpoint: checkpoint, contents: contents, verified: false)
        }
        let manifest: CheckpointManifest
        do {
            manifest = try JSONDecoder().decode(CheckpointManifest.self, from: manifestData)
        } catch {
            throw RunError(
                "checkpoint file \(checkpoint.appendingPathComponent(CheckpointManifest.fileName).path) is damaged: not a readable manifest"
            )
        }
        guard manifest.format == 1, manifest.algorithm == "crc32c" else {
            throw RunError(
                "checkpoint file \(checkpoint.appendingPathComponent(CheckpointManifest.fileName).path): format \(manifest.format) / \(manifest.algorithm) is not supported"
            )
        }
        for name in names { try manifest.check(name, contents[name]!, in: checkpoint) }
        return CheckpointFiles(checkpoint: checkpoint, contents: contents, verified: true)
    }

    /// Whether the header of the folder's `model.safetensors` (read alone, not the tensors) carries
    /// the mark of a checkpoint written with a manifest: for callers that read only state.json.
    private static func modelHeaderIsMarked(in folder: Int32) -> Bool {
        let fd = openat(folder, "model.safetensors", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return SafeTensors.header(ofDescriptor: fd)?.metadata[CheckpointManifest.metadataKey] != nil
    }

    /// The contents of `name` in the open folder; nil when absent and not `required`.
    private static func readFile(_ name: String, in folder: Int32, of checkpoint: URL, required: Bool) throws -> Data? {
        let path = checkpoint.appendingPathComponent(name).path
        let fd = openat(folder, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            guard errno == ENOENT else { throw FileError("read", path) }
            guard required else { return nil }
            // Gone while being read (pruned), or never there (an incomplete copy).
            if FileManager.default.fileExists(atPath: checkpoint.path) && !isBeingRemoved(folder, checkpoint) {
                throw RunError("checkpoint \(checkpoint.path) has no \(name)")
            }
            throw CheckpointVanished(checkpoint: checkpoint)
        }
        defer { close(fd) }
        return try FileIO.read(descriptor: fd, path: path)
    }

    /// Whether the open folder is no longer the one at the checkpoint's path (renamed away).
    private static func isBeingRemoved(_ folder: Int32, _ checkpoint: URL) -> Bool {
        guard let opened = FileIdentity(descriptor: folder) else { return true }
        return opened != FileIdentity(path: checkpoint.path)
    }
}

/// A checkpoint that disappeared while it was read: pruned by the trainer of a live run.
public struct CheckpointVanished: Error, CustomStringConvertible {
    public let checkpoint: URL
    public var description: String {
        "checkpoint \(checkpoint.path) was removed while it was being read (the run is still training and pruned it); read the run folder instead, or try again"
    }
}

extension Checkpoint {
    /// Where notes about loaded checkpoints go (an older checkpoint read without checksums);
    /// standard error by default.
    nonisolated(unsafe) public static var note: (String) -> Void = { text in
        FileHandle.standardError.write(Data("qklab: note: \(text)\n".utf8))
    }

    /// Says which newer checkpoints of `run` were passed over as incomplete for `used`.
    static func noteIncomplete(in run: RunFolder, using used: URL) {
        for (folder, missing) in run.incompleteCheckpoints(after: used) {
            note(
                "checkpoint \(folder.path) is incomplete (no \(missing.joined(separator: ", "))): using the older \(used.lastPathComponent)"
            )
        }
    }

    /// Says once per checkpoint that its files could not be checked.
    static func noteUnverified(_ files: CheckpointFiles) {
        guard !files.verified else { return }
        note(
            "checkpoint \(files.checkpoint.path) was written by an older QKLab without \(CheckpointManifest.fileName): its files are read without checksums (its next checkpoint will have them)"
        )
    }
}
