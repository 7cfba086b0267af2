import Formats
import Foundation

/// The identity of a corpus file: its size in bytes and a 64-bit FNV-1a hash of its bytes.
///
/// Stored in every checkpoint (and shown in config.toml and run.txt), so that `--resume` and
/// `qklab eval` notice when the text under `data.path` is no longer the text the run trained and
/// validated on — even when its characters, and so its vocabulary, are the same.
///
/// Why FNV-1a 64 and not SHA-256: the hash detects accidental change (an edited, regenerated or
/// replaced file), not tampering; nobody forges a corpus against their own run. For that, 64 bits
/// leave a chance of 2⁻⁶⁴ that a changed file of the same size goes unnoticed, the function is
/// fully specified by two constants (offset basis 0xcbf29ce484222325, prime 0x100000001b3: for
/// each byte, `h = (h ^ byte) · prime mod 2⁶⁴`), any language recomputes it in a few lines,
/// and it needs no dependency (Foundation on Linux has no CryptoKit; swift-crypto would add a
/// package and over a minute to every clean build). It runs at about a byte per cycle:
/// milliseconds for the shipped corpora.
public struct CorpusFingerprint: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Size of the file in bytes.
    public let bytes: Int
    /// FNV-1a 64 of the file's bytes, 16 lowercase hexadecimal digits.
    public let fnv1a64: String

    /// The fingerprint of `data` (the file's bytes as read, before any decoding).
    public init(of data: Data) {
        bytes = data.count
        let hash = data.withUnsafeBytes { Self.fnv1a64(UnsafeRawBufferPointer($0)) }
        fnv1a64 = String(hash, radix: 16).leftPadded(to: 16)
    }

    public init(bytes: Int, fnv1a64: String) {
        (self.bytes, self.fnv1a64) = (bytes, fnv1a64)
    }

    /// FNV-1a, 64 bits: `h₀ = 0xcbf29ce484222325`, `h ← (h ⊕ byte) · 0x100000001b3 (mod 2⁶⁴)`.
    /// Test vectors (Fowler, Noll, Vo): "" → cbf29ce484222325, "a" → af63dc4c8601ec8c,
    /// "foobar" → 85944171f73967e8.
    public static func fnv1a64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// "4,432 bytes, FNV-1a 64 0123456789abcdef".
    public var description: String { "\(counted(bytes, "byte")), FNV-1a 64 \(fnv1a64)" }

    /// What differs in `current` from this (the recorded) fingerprint, or nil if nothing does:
    /// "size 2700 → 2800 bytes" or "same size (2700 bytes), different content (FNV-1a 64 … → …)".
    public func change(to current: CorpusFingerprint) -> String? {
        if current == self { return nil }
        if current.bytes != bytes { return "size \(bytes) → \(counted(current.bytes, "byte"))" }
        return "same size (\(counted(bytes, "byte"))), different content (FNV-1a 64 \(fnv1a64) → \(current.fnv1a64))"
    }
}

extension Corpus {
    /// The corpus of the run whose checkpoint state is `state`, read from its `data.path` and
    /// checked to be the text the run was trained on: the same size and hash when the checkpoint
    /// recorded them (runs from before fingerprints: the same vocabulary only). `purpose` ends the
    /// error line ("restore the file or start a new run").
    public static func ofRun(_ state: CheckpointState, purpose: String) throws -> Corpus {
        let data = state.config.data
        let corpus = try Corpus(path: data.path, valFraction: data.valFraction, blockSize: state.config.model.blockSize)
        if let recorded = state.corpus, let change = recorded.change(to: corpus.fingerprint) {
            throw RunError("corpus \(data.path) is not the one this run trained on: \(change); \(purpose)")
        }
        guard corpus.tokenizer == state.tokenizer else {
            throw RunError(
                "corpus \(data.path) has changed since the run started: its vocabulary differs from the checkpoint's; \(purpose)"
            )
        }
        return corpus
    }
}

extension String {
    /// The string with zeros in front up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
