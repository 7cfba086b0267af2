import Formats
import Foundation

/// Where a run's `data.path` was given: the working folder it is relative to, and where the run
/// folder was then (both absolute). Recorded in every checkpoint, so that `--resume` and `eval`
/// find the corpus from any working folder, and after the project folder moved.
public struct CorpusOrigin: Codable, Equatable, Sendable {
    /// The working folder of the `qklab` that was given `data.path`.
    public var startFolder: String
    /// The run folder at that time.
    public var runFolder: String

    /// `data.path` given now, in the current working folder, for the run in `runFolder`.
    public init(runFolder: URL) {
        startFolder = FileManager.default.currentDirectoryPath
        self.runFolder = runFolder.standardizedFileURL.path
    }
}

extension Corpus {
    /// The corpus of the run whose checkpoint state is `state` (its folder now `runFolder`),
    /// proven to be the text the run trained on by the size and hash the checkpoint recorded,
    /// wherever it is found; and the origin the continuing run records.
    ///
    /// With `named` (`--set data.path=` on resume, `eval --corpus`), only that file is read.
    /// Otherwise, in order (`candidates`): `data.path` against the recorded working folder; the
    /// corpus's place relative to the run folder when it started, from where the run folder is
    /// now (the project moved with its runs); `data.path` against the current working folder;
    /// against each folder above the run folder (a project's `runs/NAME`). The first file with
    /// the recorded size and hash is the corpus. A checkpoint from before fingerprints proves
    /// nothing but its vocabulary: only `data.path` against the working folder is read.
    ///
    /// Errors, one line: a file found but not the same (its change, then `purpose`), or none
    /// found (where it looked, and how to name the file: `howToName`).
    public static func ofRun(
        _ state: CheckpointState, runFolder: URL, named: String? = nil, purpose: String, howToName: String
    ) throws -> (corpus: Corpus, origin: CorpusOrigin) {
        let data = state.config.data
        let blockSize = state.config.model.blockSize
        guard let recorded = state.corpus else {
            let corpus = try Corpus(path: named ?? data.path, valFraction: data.valFraction, blockSize: blockSize)
            guard corpus.tokenizer == state.tokenizer else {
                throw RunError(
                    "corpus \(named ?? data.path) has changed since the run started: its vocabulary differs from the checkpoint's; \(purpose)"
                )
            }
            return (
                corpus,
                named == nil
                    ? state.corpusOrigin ?? CorpusOrigin(runFolder: runFolder) : CorpusOrigin(runFolder: runFolder)
            )
        }
        let places =
            named.map { [(URL(fileURLWithPath: $0), true)] }
            ?? candidates(dataPath: data.path, origin: state.corpusOrigin, runFolder: runFolder)
        var different: [(path: String, change: String)] = []
        for (url, keepsOrigin) in places where FileManager.default.fileExists(atPath: url.path) {
            let corpus: Corpus
            do {
                corpus = try Corpus(path: url.path, valFraction: data.valFraction, blockSize: blockSize)
            } catch {
                different.append((url.path, "\(error)"))
                continue
            }
            if let change = recorded.change(to: corpus.fingerprint) {
                different.append((url.path, change))
            } else if corpus.tokenizer == state.tokenizer {
                let kept = named == nil && keepsOrigin ? state.corpusOrigin : nil
                return (corpus, kept ?? CorpusOrigin(runFolder: runFolder))
            } else {
                different.append((url.path, "its vocabulary differs from the checkpoint's"))
            }
        }
        let shown = named ?? data.path
        if let first = different.first {
            throw RunError(
                "corpus \(first.path == shown ? shown : first.path) is not the one this run trained on: \(first.change); \(purpose)"
            )
        }
        let tried = places.map(\.0.path).joined(separator: ", ")
        throw RunError(
            "corpus \(shown): no such file (looked for \(tried)); \(howToName): it must be the file the run trained on (\(recorded))"
        )
    }

    /// Where to look for the corpus `dataPath` of a run now in `runFolder`, in order, each with
    /// whether finding it there keeps `origin` as the run's record (true for the first two:
    /// found again the same way next time). No place appears twice.
    static func candidates(dataPath: String, origin: CorpusOrigin?, runFolder: URL) -> [(URL, Bool)] {
        let resolve = { (base: String) in
            URL(fileURLWithPath: dataPath, relativeTo: URL(fileURLWithPath: base, isDirectory: true))
                .standardizedFileURL
        }
        var places: [(URL, Bool)] = []
        if let origin {
            let recordedCorpus = resolve(origin.startFolder)
            places.append((recordedCorpus, true))
            let fromRun = relativePath(from: origin.runFolder, to: recordedCorpus.path)
            let runNow = URL(fileURLWithPath: runFolder.standardizedFileURL.path, isDirectory: true)
            places.append((URL(fileURLWithPath: fromRun, relativeTo: runNow).standardizedFileURL, true))
        }
        places.append((resolve(FileManager.default.currentDirectoryPath), false))
        if !dataPath.hasPrefix("/") {
            var folder = runFolder.standardizedFileURL.deletingLastPathComponent()
            while folder.path != "/" {
                places.append((resolve(folder.path), false))
                folder = folder.deletingLastPathComponent()
            }
        }
        var seen: Set<String> = []
        return places.filter { seen.insert($0.0.path).inserted }
    }

    /// The relative path from the folder `folder` to `path` (both absolute): "../../data/a.txt".
    static func relativePath(from folder: String, to path: String) -> String {
        let from = URL(fileURLWithPath: folder).standardizedFileURL.pathComponents
        let to = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let common = zip(from, to).prefix { $0 == $1 }.count
        return (Array(repeating: "..", count: from.count - common) + to[common...]).joined(separator: "/")
    }
}
