import Foundation

/// Stability telemetry of one attention call (docs/metrics.md, "Stability telemetry"), kept as sums
/// so that batch shards combine exactly: the means are taken once every shard has been added.
///
/// - Attention entropy (Zhai et al. 2023, "Stabilizing Transformer Training by Preventing
///   Attention Entropy Collapse"), normalised by its largest possible value: for query position t
///   (0-based), which sees keys 0…t, `H_t / ln(t+1)` with `H_t = −Σ_{j≤t} p_tj ln p_tj` is 1 when
///   attention is spread evenly over the visible keys and 0 when it is one-hot. Position 0 sees
///   one key and has no entropy to measure, so positions t ≥ 1 count. In a sliding-window layer
///   (W keys) the visible keys are the last min(t+1, W), and the normaliser `ln min(t+1, W)`
///   (a window of 1 leaves no position to measure).
/// - q and k RMS (Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
///   instabilities", §3.1: attention logits grow because ‖q‖ and ‖k‖ grow): the root mean square
///   of every element of q and k as they enter `q·kᵀ`, after QK-Norm and RoPE.
/// - The (query, key) pair of the largest |logit| (`LargestLogitPair`).
public struct AttentionStatistics: Equatable {
    /// Per query head: Σ over batch rows and positions t ≥ 1 of `H_t / ln(t+1)`.
    public var entropySums: [Double]
    /// The (batch row, position t ≥ 1) pairs each head's sum counts: `B·(T−1)`.
    public var entropyRows: Int
    /// Σ q² and Σ k² over the tensors entering `q·kᵀ`.
    public var querySquares: Double, keySquares: Double
    /// Elements of q (`B·T·H·Dh`) and of k (`B·T·Hkv·Dh`).
    public var queryCount: Int, keyCount: Int
    /// `attn_logit_max_capped`: the largest |attention logit| after the soft-cap, as the softmax
    /// sees it (`AttentionResult.cappedLogitMax`).
    public var cappedLogitMax: Float
    /// The pair of the largest |logit| before the soft-cap (`AttentionResult.logitMax`).
    public var largestLogitPair: LargestLogitPair

    public init(
        entropySums: [Double], entropyRows: Int, querySquares: Double, keySquares: Double,
        queryCount: Int, keyCount: Int, cappedLogitMax: Float, largestLogitPair: LargestLogitPair
    ) {
        (self.entropySums, self.entropyRows) = (entropySums, entropyRows)
        (self.querySquares, self.keySquares, self.queryCount, self.keyCount) = (
            querySquares, keySquares, queryCount, keyCount
        )
        (self.cappedLogitMax, self.largestLogitPair) = (cappedLogitMax, largestLogitPair)
    }

    /// The sums of two shards (`self` first: callers add shards in shard order).
    public func merged(with other: AttentionStatistics) -> AttentionStatistics {
        AttentionStatistics(
            entropySums: zip(entropySums, other.entropySums).map { $0 + $1 },
            entropyRows: entropyRows + other.entropyRows,
            querySquares: querySquares + other.querySquares, keySquares: keySquares + other.keySquares,
            queryCount: queryCount + other.queryCount, keyCount: keyCount + other.keyCount,
            cappedLogitMax: nanPropagatingMax(cappedLogitMax, other.cappedLogitMax),
            largestLogitPair: largestLogitPair.merged(with: other.largestLogitPair))
    }

    /// `attn_entropy`: the normalised entropy's mean over heads, batch rows and positions t ≥ 1
    /// (NaN for sequences of one position, which have none).
    public var entropy: Double {
        entropyRows == 0 ? .nan : entropySums.reduce(0, +) / Double(entropyRows * entropySums.count)
    }

    /// `attn_entropy_min`: the smallest per-head mean, a single collapsing head (NaN as above; a
    /// NaN head's mean wins).
    public var entropyMin: Double {
        guard entropyRows > 0 else { return .nan }
        return entropySums.map { $0 / Double(entropyRows) }.reduce(.infinity) {
            $0.isNaN || $1.isNaN ? .nan : min($0, $1)
        }
    }

    /// `q_rms` and `k_rms`.
    public var queryRMS: Double { (querySquares / Double(max(1, queryCount))).squareRoot() }
    public var keyRMS: Double { (keySquares / Double(max(1, keyCount))).squareRoot() }
}

/// Σ over query rows t of one head's `H_t / ln(n_t)`, from its causal probabilities `p [T, T]`,
/// n_t the keys row t sees (t + 1, or with a sliding window of W, min(t + 1, W)), over the rows
/// with n_t ≥ 2 (`AttentionVariant.entropyRows`). Entries that are exactly 0 (masked or
/// underflowed) contribute `0 · ln 0 = 0`.
func normalizedEntropySum(_ p: UnsafePointer<Float>, length t: Int, variant: AttentionVariant = .plain) -> Double {
    var total = 0.0
    for query in 1..<max(1, t) {
        let (row, first) = (p + query * t, variant.firstKey(query))
        guard query > first else { continue }  // one key: no entropy to measure
        var entropy: Float = 0
        for key in first...query where row[key] > 0 { entropy -= row[key] * Foundation.log(row[key]) }
        total += Double(entropy) / Foundation.log(Double(query + 1 - first))
    }
    return total
}
