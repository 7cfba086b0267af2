import Formats
import Foundation

extension Checkpoint {
    /// The newest checkpoint of `run` whose files `names` are intact, and what `decode` made of
    /// them; nil when the run has no complete checkpoint.
    ///
    /// `keep_checkpoints` keeps older checkpoints so that one damaged checkpoint does not lose a
    /// run: a newer checkpoint that lacks a file (incomplete), or whose files fail their manifest
    /// check or do not decode (damaged), is passed over with a note naming it and why, and the
    /// next older one is tried. Only when none is intact is it an error: the one checkpoint's own
    /// line, or with several, every checkpoint tried and why. `notes` is false on processes that
    /// do not write the run folder (under `mpirun`, process 0 says it).
    ///
    /// `passedOver` lists the damaged checkpoints passed over (newest first).
    ///
    /// A checkpoint that vanishes while it is read (pruned by the trainer of a live run) ends
    /// the search with `CheckpointVanished`: the caller reads the run again from the newest.
    public static func newestIntact<Value>(
        in run: RunFolder, reading names: [String], notes: Bool = true,
        _ decode: (CheckpointFiles) throws -> Value
    ) throws -> (files: CheckpointFiles, value: Value, passedOver: [URL])? {
        guard run.latestCheckpoint() != nil else { return nil }
        var damaged: [(checkpoint: URL, reason: String)] = []
        for checkpoint in run.completeCheckpoints().reversed() {
            let result: (files: CheckpointFiles, value: Value, passedOver: [URL])
            do {
                let files = try CheckpointFiles.read(checkpoint, names)
                result = (files, try decode(files), damaged.map(\.checkpoint))
            } catch let vanished as CheckpointVanished {
                throw vanished
            } catch {
                damaged.append((checkpoint, "\(error)"))
                continue
            }
            if notes {
                noteIncomplete(in: run, using: checkpoint)
                for (_, reason) in damaged { note("\(reason); using the older \(checkpoint.lastPathComponent)") }
            }
            return result
        }
        guard let only = damaged.first else { throw CheckpointVanished(checkpoint: run.checkpoints) }
        guard damaged.count > 1 else { throw RunError(only.reason) }
        throw RunError(
            "no intact checkpoint in \(run.url.path); tried "
                + damaged.map { "\($0.checkpoint.lastPathComponent) (\($0.reason))" }.joined(separator: ", "))
    }
}

extension RunFolder {
    /// Where a damaged checkpoint is kept once a resumed run has passed it over: out of the
    /// `step-*` names, so that no reader tries it again and pruning does not count it.
    public func setAside(damaged checkpoint: URL) -> URL {
        checkpoints.appendingPathComponent("damaged-\(checkpoint.lastPathComponent)")
    }
}
