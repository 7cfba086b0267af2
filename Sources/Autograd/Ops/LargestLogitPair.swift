import Foundation

/// The (query, key) pair behind a layer's `attn_logit_max` (docs/metrics.md, "Stability
/// telemetry"): the cosine between its q and k and their L2 norms, as they enter `q·kᵀ` (after
/// QK-Norm and RoPE), so that
///
///     attn_logit_max = s · ‖q‖ · ‖k‖ · |cos(q, k)|      s: the attention scale (1/√Dh or 1/Dh)
///
/// up to float rounding. Whether a logit grows through the norms or through the alignment of q
/// and k is what Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
/// instabilities", Fig. E.1 plots.
///
/// The pair is the first, in the order (batch row, head, query, key), whose |logit| is the
/// largest: shards of consecutive batch rows merged in shard order find the same pair as the
/// whole batch does.
public struct LargestLogitPair: Equatable {
    /// The pair's |logit|: `attn_logit_max` of the rows measured. NaN if any logit was NaN (the
    /// pair is then undefined and the other fields NaN too).
    public var logit: Float
    /// `attn_logit_max_cos`: cos(q, k), signed (negative when the logit is); 0 when q or k is 0.
    public var cosine: Double
    /// `attn_logit_max_q_norm`, `attn_logit_max_k_norm`: ‖q‖₂ and ‖k‖₂ over the head's Dh elements.
    public var queryNorm: Double, keyNorm: Double

    public init(logit: Float, cosine: Double, queryNorm: Double, keyNorm: Double) {
        (self.logit, self.cosine, self.queryNorm, self.keyNorm) = (logit, cosine, queryNorm, keyNorm)
    }

    /// No pair measured yet: logit 0, so that any measured pair replaces it.
    static let none = LargestLogitPair(logit: 0, cosine: 0, queryNorm: 0, keyNorm: 0)

    /// The undefined pair of a NaN logit.
    static let undefined = LargestLogitPair(logit: .nan, cosine: .nan, queryNorm: .nan, keyNorm: .nan)

    /// The pair of two shards together (`self` the earlier rows): the larger logit, `self`'s on a
    /// tie, a NaN one whichever holds it.
    public func merged(with other: LargestLogitPair) -> LargestLogitPair {
        if logit.isNaN || other.logit.isNaN { return .undefined }
        return other.logit > logit ? other : self
    }
}

extension LargestLogitPair {
    /// The pair behind the largest of `pairLogitMax` (per (batch row, head) pair `b·H + h`, the
    /// largest |logit| of that head, as `causalAttention` measured it): that head's scores are
    /// computed again, without the soft-cap, by the same single-threaded code (the same floats,
    /// bit for bit), and the first kept entry of the largest |score| gives the query and key.
    init(
        q: Tensor, k: Tensor, shape: AttentionShape, scale: Float, variant: AttentionVariant,
        pairLogitMax: UnsafePointer<Float>
    ) {
        var largest = 0
        for pair in 0..<shape.pairs where pairLogitMax[pair].isNaN || pairLogitMax[pair] > pairLogitMax[largest] {
            largest = pair
            if pairLogitMax[pair].isNaN { break }
        }
        guard !pairLogitMax[largest].isNaN else {
            self = .undefined
            return
        }
        let t = shape.length
        let scratch = TensorStorage(count: t * t + shape.headDim * t, zeroed: false)  // S [T, T], Kᵀ [Dh, T]
        defer { withExtendedLifetime(scratch) {} }  // used through its pointer only
        let uncapped = AttentionVariant(window: variant.window)
        _ = headScores(
            q: q, k: k, shape: shape, pair: largest, scale: scale, variant: uncapped, into: scratch.pointer,
            transposed: scratch.pointer + t * t)
        var (best, query, key): (Float, Int, Int) = (-1, 0, 0)
        for row in 0..<t {
            for column in variant.firstKey(row)...row where abs(scratch.pointer[row * t + column]) > best {
                (best, query, key) = (abs(scratch.pointer[row * t + column]), row, column)
            }
        }
        assert(best == pairLogitMax[largest], "the scores computed again differ from the forward pass's")
        self.init(
            logit: best,
            between: q.data + shape.queryOffset(largest) + query * shape.queryWidth,
            and: k.data + shape.kvOffset(largest) + key * shape.kvWidth, count: shape.headDim)
    }

    /// The pair of `logit` between the vectors `q` and `k` of `count` elements: norms and cosine
    /// in Double.
    private init(logit: Float, between q: UnsafePointer<Float>, and k: UnsafePointer<Float>, count: Int) {
        var (qq, kk, qk) = (0.0, 0.0, 0.0)
        for i in 0..<count {
            let (a, b) = (Double(q[i]), Double(k[i]))
            (qq, kk, qk) = (qq + a * a, kk + b * b, qk + a * b)
        }
        let (queryNorm, keyNorm) = (qq.squareRoot(), kk.squareRoot())
        let cosine = queryNorm == 0 || keyNorm == 0 ? 0 : qk / (queryNorm * keyNorm)
        self.init(logit: logit, cosine: cosine, queryNorm: queryNorm, keyNorm: keyNorm)
    }
}
