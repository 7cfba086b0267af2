import Foundation

/// QKLab's own pseudo-random generator: xoshiro256** seeded through SplitMix64.
///
/// Same seed, same numbers, on every machine: nothing here reads the system's generator.
/// The whole state is four `UInt64`s (`state`), so a checkpoint can store and restore it.
public struct SeededRandom: RandomNumberGenerator, Codable, Equatable {
    /// The generator's complete state.
    public var state: [UInt64]

    /// Seeds the four state words from `seed` with SplitMix64, as xoshiro's authors recommend.
    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = [nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix()]
    }

    /// Next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotateLeft(state[3], 45)
        return result
    }

    /// Uniform Double in [0, 1) from the top 53 bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in `0..<bound` (Lemire's multiply-shift; bias < 2⁻⁶⁴·bound, negligible here).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Normal(mean, std) by Box–Muller, one sample per call (the second is discarded so the
    /// state stays four words).
    public mutating func nextNormal(mean: Double = 0, std: Double = 1) -> Double {
        let u1 = 1 - nextUniform()  // (0, 1]: log is finite
        let u2 = nextUniform()
        return mean + std * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// The standard deviation of a standard normal truncated to (−2, 2):
    /// √(1 − 4φ(2)/(Φ(2) − Φ(−2))), the constant of JAX's `variance_scaling` (jax/_src/nn/initializers.py).
    public static let truncatedNormalStd = 0.87962566103423978

    /// Normal(0, σ²) with σ = `std`/0.8796…, truncated at ±2σ (a standard normal sample redrawn
    /// until it lies in (−2, 2), then scaled), so that the samples' standard deviation is `std`:
    /// JAX's `variance_scaling(…, "truncated_normal")`, "truncated at 2 standard deviations before
    /// scaling". Draws at least two uniforms per call (more when a sample is redrawn, 4.6% of them).
    public mutating func nextTruncatedNormal(std: Double) -> Double {
        var z = nextNormal()
        while !(abs(z) < 2) { z = nextNormal() }
        return z * std / Self.truncatedNormalStd
    }

    /// Encoded as four hex strings: JSON numbers are not exact beyond 2⁵³.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(state.map { String($0, radix: 16) })
    }

    public init(from decoder: Decoder) throws {
        let words = try decoder.singleValueContainer().decode([String].self)
        let state = words.compactMap { UInt64($0, radix: 16) }
        guard state.count == 4, words.count == 4, state != [0, 0, 0, 0] else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "generator state must be four non-zero-in-total hex words"))
        }
        self.state = state
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
