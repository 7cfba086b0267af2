import Formats
import Foundation
import Training
import XCTest

/// Issue 14.2: a run records its corpus's size and FNV-1a 64 hash; `--resume` and `eval` refuse
/// a corpus that changed, with one line saying what changed.
final class CorpusFingerprintEndToEndTests: SmokeRunTestCase {
    func fingerprint(_ text: String) -> CorpusFingerprint { CorpusFingerprint(of: Data(text.utf8)) }

    /// The published FNV-1a 64 test vectors (Fowler, Noll, Vo; also Python's `fnv` packages).
    func testKnownValues() {
        XCTAssertEqual(fingerprint("").fnv1a64, "cbf29ce484222325")
        XCTAssertEqual(fingerprint("a").fnv1a64, "af63dc4c8601ec8c")
        XCTAssertEqual(fingerprint("foobar").fnv1a64, "85944171f73967e8")
        XCTAssertEqual(fingerprint("foobar").bytes, 6)
        XCTAssertEqual(fingerprint("é").bytes, 2, "bytes, not characters")
    }

    func testChangeMessages() {
        let recorded = fingerprint("abcd efgh\n")
        XCTAssertNil(recorded.change(to: fingerprint("abcd efgh\n")))
        XCTAssertEqual(recorded.change(to: fingerprint("abcd efgh\n\n")), "size 10 → 11 bytes")
        XCTAssertEqual(
            recorded.change(to: fingerprint("efgh abcd\n")),
            "same size (10 bytes), different content (FNV-1a 64 \(recorded.fnv1a64) → \(fingerprint("efgh abcd\n").fnv1a64))"
        )
        // One flipped bit, one swapped pair, CRLF for LF: all seen.
        for other in ["abcd efgi\n", "bacd efgh\n", "abcd efgh\r"] {
            XCTAssertNotNil(recorded.change(to: fingerprint(other)), other)
        }
    }

    /// The issue's case: the same characters, the same length, other text.
    func testResumeAndEvalRefuseAChangedCorpus() throws {
        let corpus = scratch.appendingPathComponent("corpus.txt")
        let original = String(repeating: "abcd efgh\n", count: 300)
        try original.write(to: corpus, atomically: true, encoding: .utf8)
        let run = try train(
            try smokeConfig(["train.max_steps=20", "optim.decay_steps=40", "train.eval_interval=10"], corpus: corpus),
            in: "run")
        let recorded = try XCTUnwrap(try state(run).corpus)
        XCTAssertEqual(recorded, fingerprint(original))
        XCTAssertTrue(
            try text(run.config).contains(
                "# corpus \(corpus.path): 3000 bytes, FNV-1a 64 \(recorded.fnv1a64) (checked on --resume and eval)"))
        XCTAssertTrue(try text(run.info).contains("corpus: \(corpus.path), 3000 bytes, FNV-1a 64 \(recorded.fnv1a64)"))

        let swapped = String(repeating: "efgh abcd\n", count: 300)
        try swapped.write(to: corpus, atomically: true, encoding: .utf8)
        let change =
            "same size (3000 bytes), different content (FNV-1a 64 \(recorded.fnv1a64) → \(fingerprint(swapped).fnv1a64))"
        XCTAssertEqual(
            failure { try resume(run, ["train.max_steps=40"]) },
            "corpus \(corpus.path) is not the one this run trained on: \(change); resuming would train and validate on other text; restore the file, or start a new run"
        )
        XCTAssertEqual(
            failure { _ = try TrainedModel(path: run.url.path).validationLoss() },
            "corpus \(corpus.path) is not the one this run trained on: \(change); its validation windows are not the run's; restore the file to evaluate"
        )
        // Same kind: longer, shorter, another vocabulary, a missing file.
        try (original + "x").write(to: corpus, atomically: true, encoding: .utf8)
        XCTAssertTrue(failure { try resume(run, ["train.max_steps=40"]) }.contains(": size 3000 → 3001 bytes; "))
        try String(original.dropLast(10)).write(to: corpus, atomically: true, encoding: .utf8)
        XCTAssertTrue(
            failure { _ = try TrainedModel(path: run.url.path).validationLoss() }.contains(": size 3000 → 2990 bytes; ")
        )
        try FileManager.default.removeItem(at: corpus)
        XCTAssertTrue(failure { try resume(run, ["train.max_steps=40"]) }.contains("no such file"))
        // Restored (rewritten, same bytes): accepted, and the run continues.
        try original.write(to: corpus, atomically: true, encoding: .utf8)
        try resume(run, ["train.max_steps=40"])
        XCTAssertEqual(try state(run).step, 40)
        XCTAssertNoThrow(try TrainedModel(path: run.url.path).validationLoss())
    }

    /// A checkpoint from before fingerprints is checked by its vocabulary only, says so, and
    /// records the fingerprint from then on.
    func testCheckpointsFromBeforeFingerprints() throws {
        let run = try train(
            try smokeConfig(["train.max_steps=4", "optim.decay_steps=40", "train.eval_interval=0"]), in: "old")
        try editState(run) {
            $0["corpus"] = nil
            $0["corpusOrigin"] = nil
        }
        XCTAssertNil(try state(run).corpus)
        // Its vocabulary proves no other file the same: data.path may not name one.
        let copy = scratch.appendingPathComponent("copy.txt")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: try state(run).config.data.path), to: copy)
        XCTAssertTrue(
            failure { try resume(run, ["train.max_steps=8", "data.path=\(copy.path)"]) }.contains(
                "the checkpoint predates corpus fingerprints, so another file cannot be proven to be the run's corpus"))
        XCTAssertNoThrow(try TrainedModel(path: run.url.path).validationLoss())
        try resume(run, ["train.max_steps=8"])
        XCTAssertTrue(
            try text(run.info).contains(
                "the checkpoint predates corpus fingerprints: only the corpus's vocabulary was checked (it matches); recorded from now on: "
            ))
        XCTAssertEqual(
            try state(run).corpus?.bytes,
            try Data(contentsOf: URL(fileURLWithPath: try state(run).config.data.path)).count)
    }
}
