import Foundation

/// Causal self-attention, fused: per (batch row, head) scores, mask, softmax and `P·V`, with
/// grouped-query attention and the largest attention logits as by-products.
///
/// Inputs are the projections in their natural `[B, T, heads·Dh]` layout: a head's `[T, Dh]`
/// matrix is a strided view (row stride `heads·Dh`) that `gemm` reads directly, so the head
/// split and merge cost no copies. Query head `h` reads key/value head `h / (H / Hkv)`.
///
///     S = Q·Kᵀ / √Dh      Z = c·tanh(S/c)      P = causalSoftmax(Z)      Y = P·V
///
/// with the soft-cap (Z = S without one) and the sliding window narrowing the causal mask as
/// `AttentionVariant` gives them. Pullback (per head, with P recomputed; K and V gradients of a
/// shared kv head accumulate over its query heads):
///
///     dP = dY·Vᵀ     dV += Pᵀ·dY     dZ = P ⊙ (dP − rowsum(P ⊙ dP))     dS = dZ ⊙ (1 − (Z/c)²) / √Dh
///     dQ += dS·K     dK += dSᵀ·Q
///
/// (without a cap dS = dZ / √Dh; entries the mask drops have P = 0, so dS = 0 there.)
public struct AttentionShape: Equatable {
    public var batch: Int, length: Int, heads: Int, kvHeads: Int, headDim: Int
    public init(batch: Int, length: Int, heads: Int, kvHeads: Int, headDim: Int) {
        (self.batch, self.length, self.heads, self.kvHeads, self.headDim) = (batch, length, heads, kvHeads, headDim)
    }
    var queryWidth: Int { heads * headDim }  // row stride of Q and Y
    var kvWidth: Int { kvHeads * headDim }  // row stride of K and V
    var pairs: Int { batch * heads }
    /// Offsets of head `pair = b·H + h` in Q/Y and in K/V.
    func queryOffset(_ pair: Int) -> Int { (pair / heads) * length * queryWidth + (pair % heads) * headDim }
    func kvOffset(_ pair: Int) -> Int {
        (pair / heads) * length * kvWidth + ((pair % heads) / (heads / kvHeads)) * headDim
    }
}

/// Result of `causalAttention`.
public struct AttentionResult {
    /// `[B, T, H·Dh]`, heads merged.
    public let output: Tensor
    /// Largest |score| (after the 1/√Dh scale, before the soft-cap and softmax) over all kept
    /// (query, key) pairs, heads and batch rows: the `attn_logit_max` stability instrument.
    public let logitMax: Float
    /// The same maximum after the soft-cap (`attn_logit_max_capped`; `logitMax` without a cap).
    public let cappedLogitMax: Float
    /// `[H]`: per query head, the largest score (signed, after the 1/√Dh scale) over kept pairs
    /// and batch rows: Kimi K2's S_max^h (arXiv 2507.20534 §2.1), which QK-Clip reads.
    public let headScoreMax: [Float]
    /// Entropy and q/k sums, when the call was asked to measure them (nil otherwise).
    public let statistics: AttentionStatistics?
}

/// Causal attention over `q [B,T,H·Dh]`, `k`, `v [B,T,Hkv·Dh]`, the scores scaled by `scale`
/// (1/√Dh when nil; written S = Q·Kᵀ/√Dh above), with the soft-cap and sliding window of
/// `variant` (none by default). With `measuring`, it also
/// returns `AttentionStatistics` (entropy from the probabilities it holds anyway, q and k sums of
/// squares, the largest logit's (q, k) pair from each head's largest logit and one head's scores
/// computed again); without, it pays nothing for them.
///
/// Work is split by (batch row, kv head): each such unit — its query heads, which share K and V —
/// runs on one core with single-threaded BLAS, so the small per-head products run in parallel
/// instead of each being split across cores, and the unit's scores stay in cache between the
/// two products and the softmax. Accumulation into a shared kv head's gradients stays within one
/// unit, in a fixed order: results do not depend on the number of threads.
public func causalAttention(
    q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, scale: Float? = nil,
    variant: AttentionVariant = .plain, measuring: Bool = false
) -> AttentionResult {
    let started = OpProfile.begin()
    defer { OpProfile.end(.attention, started) }
    let (b, t) = (q.shape[0], q.shape[1])
    let headDim = q.shape[2] / heads
    let shape = AttentionShape(batch: b, length: t, heads: heads, kvHeads: kvHeads, headDim: headDim)
    precondition(
        heads % kvHeads == 0 && k.shape == [b, t, shape.kvWidth] && v.shape == k.shape,
        "attention over q \(q.shape), k \(k.shape), v \(v.shape) with \(heads)/\(kvHeads) heads")
    let scale = scale ?? 1 / Float(headDim).squareRoot()  // 1/√Dh unless told (µP's 1/Dh)
    let output = Tensor(uninitialized: q.shape)  // [B, T, H·Dh]
    let needsGradient = Tape.needsGradient(q, k, v)
    let kept =
        needsGradient && shape.pairs * t * t <= AttentionShape.keptProbabilitiesLimit
        ? Tensor(uninitialized: [b, heads, t, t]) : nil  // every head's P, for the pullback
    var unitLogitMax = [LogitMaxima](repeating: LogitMaxima(), count: shape.units)
    var pairEntropy = [Double](repeating: 0, count: measuring ? shape.pairs : 0)  // per (batch row, head)
    let pairScoreMax = TensorStorage(count: shape.pairs, zeroed: false)  // per (batch row, head)
    let pairLogitMax = measuring ? TensorStorage(count: shape.pairs, zeroed: false) : nil  // per (batch row, head)
    unitLogitMax.withUnsafeMutableBufferPointer { logitMax in
        pairEntropy.withUnsafeMutableBufferPointer { entropy in
            shape.forEachUnit(probabilities: kept == nil) { unit, pairs, scratch in
                for pair in pairs {
                    let p = kept.map { $0.data + pair * t * t } ?? scratch.probabilities!
                    let maxima = headProbabilities(
                        q: q, k: k, shape: shape, pair: pair, scale: scale, variant: variant, into: p,
                        transposed: scratch.transposed)
                    logitMax[unit].add(maxima)
                    pairScoreMax.pointer[pair] = maxima.score
                    if measuring {
                        entropy[pair] = normalizedEntropySum(p, length: t, variant: variant)
                        pairLogitMax!.pointer[pair] = maxima.logit
                    }
                    let (vHead, yHead) = (v.data + shape.kvOffset(pair), output.data + shape.queryOffset(pair))
                    if shape.usesCausalProducts {  // Y = P·V
                        causalProduct(
                            p, ldp: t, vHead, ldb: shape.kvWidth, t: t, width: headDim,
                            into: yHead, ldc: shape.queryWidth, accumulate: false)
                        continue
                    }
                    shape.forEachBlock { rows in  // Y = P·V, keys up to the block's end
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: rows.count, n: headDim, k: rows.upperBound,
                            a: p + rows.lowerBound * t, lda: t, b: vHead, ldb: shape.kvWidth,
                            beta: 0, c: yHead + rows.lowerBound * shape.queryWidth, ldc: shape.queryWidth)
                    }
                }
            }
        }
    }
    if needsGradient {
        Tape.record(output, .attention) { dY in
            attentionPullback(
                q: q, k: k, v: v, kept: kept, shape: shape, scale: scale, variant: variant, outputGrad: dY)
        }
    }
    let maxima = unitLogitMax.reduce(LogitMaxima()) { $0.adding($1) }
    let statistics =
        measuring
        ? AttentionStatistics(
            // batch rows in order
            entropySums: (0..<heads).map { h in (0..<b).reduce(0) { $0 + pairEntropy[$1 * heads + h] } },
            entropyRows: b * variant.entropyRows(length: t), querySquares: squaredSum(q.data, count: q.count),
            keySquares: squaredSum(k.data, count: k.count),
            queryCount: q.count, keyCount: k.count, cappedLogitMax: maxima.capped,
            largestLogitPair: LargestLogitPair(
                q: q, k: k, shape: shape, scale: scale, variant: variant, pairLogitMax: pairLogitMax!.pointer)) : nil
    let headScoreMax = (0..<heads).map { h in  // batch rows in order
        (1..<b).reduce(pairScoreMax.pointer[h]) { nanPropagatingMax($0, pairScoreMax.pointer[$1 * heads + h]) }
    }
    return AttentionResult(
        output: output, logitMax: maxima.logit, cappedLogitMax: maxima.capped, headScoreMax: headScoreMax,
        statistics: statistics)
}

/// The largest attention logit before and after the soft-cap, NaN-propagating, and the largest
/// signed score the softmax saw (after the cap, when there is one).
struct LogitMaxima {
    var logit: Float = 0, capped: Float = 0, score: Float = -.infinity

    mutating func add(_ other: LogitMaxima) { self = adding(other) }

    func adding(_ other: LogitMaxima) -> LogitMaxima {
        LogitMaxima(
            logit: nanPropagatingMax(logit, other.logit), capped: nanPropagatingMax(capped, other.capped),
            score: nanPropagatingMax(score, other.score))
    }
}

/// The larger of `a` and `b`, or NaN if either is: a NaN attention logit must survive every
/// maximum taken over heads, units, shards and layers, whatever comes after it.
@inlinable
public func nanPropagatingMax(_ a: Float, _ b: Float) -> Float {
    a.isNaN || b.isNaN ? .nan : max(a, b)
}

/// Head `pair`'s `P = causalSoftmax(Z)` into `probabilities` (`[T, T]`), Z its scores soft-capped
/// and masked as `variant` says (`headScores`); returns the largest kept |score| before and after
/// the cap and the largest signed score the softmax saw.
///
/// Every head's P together is B·H·T² floats per layer (for B=8, H=6, T=256 more than all the
/// layer's other activations). Above `keptProbabilitiesLimit` the pullback calls this again
/// instead of keeping P from the forward pass: the same inputs through the same single-threaded
/// code give the same P, bit for bit, for the price of one more `Q·Kᵀ` product per head.
private func headProbabilities(
    q: Tensor, k: Tensor, shape: AttentionShape, pair: Int, scale: Float, variant: AttentionVariant,
    into probabilities: UnsafeMutablePointer<Float>,
    transposed: UnsafeMutablePointer<Float>
) -> LogitMaxima {
    let logitMax = headScores(
        q: q, k: k, shape: shape, pair: pair, scale: scale, variant: variant, into: probabilities,
        transposed: transposed)
    let softmaxed = maskedSoftmax(probabilities, length: shape.length, variant: variant)
    let capped = softmaxed.largestMagnitude
    return LogitMaxima(logit: logitMax ?? capped, capped: capped, score: softmaxed.largestScore)
}

/// Head `pair`'s scores `S = Q·Kᵀ/√Dh` into `scores` (`[T, T]`), soft-capped over the entries
/// the mask keeps when `variant` has a cap; returns the largest kept |S| before the cap then
/// (nil without a cap: the softmax measures it). Entries above the diagonal blocks are never
/// computed (the softmax writes the masked entries' zeros).
func headScores(
    q: Tensor, k: Tensor, shape: AttentionShape, pair: Int, scale: Float, variant: AttentionVariant,
    into probabilities: UnsafeMutablePointer<Float>,
    transposed: UnsafeMutablePointer<Float>
) -> Float? {
    let t = shape.length
    let (qHead, kHead) = (q.data + shape.queryOffset(pair), k.data + shape.kvOffset(pair))
    if shape.usesCausalProducts {  // short sequence: S = Q·Kᵀ/√Dh in registers
        causalProductTransposed(
            qHead, lda: shape.queryWidth, kHead, ldb: shape.kvWidth, t: t, depth: shape.headDim,
            alpha: scale, into: probabilities, ldc: t, transposed: transposed)
        return capScores(probabilities, length: t, variant: variant)
    }
    // Kᵀ copied out once per query head, so that on x86-64 each block is a plain product libxsmm
    // takes (it has no kernel for Q·Kᵀ itself, and OpenBLAS packs the operands again for every
    // 32-row block; elsewhere OpenBLAS runs the blocks as before, after the copy); the scale
    // follows as its own pass, libxsmm's kernels having alpha 1.
    transpose(kHead, ldb: shape.kvWidth, rows: t, columns: shape.headDim, into: transposed)  // Kᵀ, [Dh, T]
    shape.forEachBlock { rows in  // S = Q·Kᵀ/√Dh, keys up to the block's end
        BLAS.gemm(
            transposeA: false, transposeB: false, m: rows.count, n: rows.upperBound, k: shape.headDim,
            a: qHead + rows.lowerBound * shape.queryWidth, lda: shape.queryWidth,
            b: transposed, ldb: t, beta: 0, c: probabilities + rows.lowerBound * t, ldc: t)
        for query in rows {
            let row = probabilities + query * t
            forEachVector(0..<rows.upperBound) { j, lanes in store(load(row, j, lanes) * scale, row, j, lanes) }
        }
    }
    return capScores(probabilities, length: t, variant: variant)
}

/// Soft-caps the kept entries of a `[T, T]` score matrix in place when `variant` has a cap, and
/// returns their largest |score| before it (NaN if any is NaN); nil without a cap.
private func capScores(_ scores: UnsafeMutablePointer<Float>, length t: Int, variant: AttentionVariant) -> Float? {
    guard variant.softcap > 0 else { return nil }
    var magnitudes = SoftmaxMagnitudes()
    for query in 0..<t {
        magnitudes.add(
            capScoreRow(
                scores + query * t, from: variant.firstKey(query), query: query, length: t, cap: variant.softcap))
    }
    return magnitudes.largestMagnitude
}

extension AttentionShape {
    /// Units of work: one per (batch row, kv head), holding the query heads that read it.
    var units: Int { batch * kvHeads }

    /// Positions per block of the causal block structure. Query rows `r₀..<r₁` see keys `0..<r₁`
    /// only, and keys `k₀..<k₁` are seen by query rows `k₀..<T` only, so each product runs block by
    /// block and skips the blocks above the diagonal (all masked): for T = 256 that is 28 of the 64
    /// blocks, for T = 64 one of four.
    static let blockLength = 32

    /// Largest B·H·T² (floats) for which the forward pass keeps every head's P for the pullback;
    /// above it the pullback recomputes P (4 MiB: a small model's P costs little memory, and
    /// recomputing it would cost a third more attention time).
    static let keptProbabilitiesLimit = 1 << 20

    /// Longest sequence whose products run as `CausalProducts` loops instead of BLAS calls (for
    /// short sequences a call costs about as much as its arithmetic; for long ones BLAS wins).
    static let causalProductsMaxLength = 64

    /// Whether this shape's products run as `CausalProducts` loops.
    var usesCausalProducts: Bool { length <= Self.causalProductsMaxLength }

    /// Calls `body` with each block of positions, in order.
    func forEachBlock(_ body: (_ positions: Range<Int>) -> Void) {
        for start in stride(from: 0, to: length, by: Self.blockLength) {
            body(start..<min(length, start + Self.blockLength))
        }
    }

    /// Calls `body(unit, pairs, scratch)` for every unit, units in parallel with single-threaded
    /// BLAS; `pairs` are the unit's (batch row, query head) indices `b·H + h`. The scratch holds
    /// the `[T, T]` matrices asked for and a `[Dh, T]` transposed operand; the units of one chunk,
    /// run in turn, share one.
    func forEachUnit(
        probabilities: Bool, scoreGrads: Bool = false, cappedScores: Bool = false,
        _ body: (_ unit: Int, _ pairs: Range<Int>, _ scratch: UnitScratch) -> Void
    ) {
        let group = heads / kvHeads, square = length * length
        let squares = [probabilities, scoreGrads, cappedScores].filter { $0 }.count
        let count = squares * square + headDim * length
        Parallel.forEachChunk(units, grain: 1) { range in
            let storage = TensorStorage(count: count, zeroed: false)
            defer { withExtendedLifetime(storage) {} }  // used through its pointer only
            var next = storage.pointer
            func take(_ wanted: Bool) -> UnsafeMutablePointer<Float>? {
                guard wanted else { return nil }
                defer { next += square }
                return next
            }
            let scratch = UnitScratch(
                probabilities: take(probabilities), scoreGrads: take(scoreGrads), cappedScores: take(cappedScores),
                transposed: storage.pointer + squares * square)
            for unit in range {
                let first = (unit / kvHeads) * heads + (unit % kvHeads) * group
                body(unit, first..<(first + group), scratch)
            }
        }
    }
}

/// Scratch memory of one unit of work: the `[T, T]` parts nil unless asked for.
struct UnitScratch {
    /// One head's P, `[T, T]`: when the forward pass does not keep every head's P.
    let probabilities: UnsafeMutablePointer<Float>?
    /// One head's dP, then dS in place, `[T, T]`: in the pullback.
    let scoreGrads: UnsafeMutablePointer<Float>?
    /// One head's soft-capped scores Z, `[T, T]`: in the pullback with a cap.
    let cappedScores: UnsafeMutablePointer<Float>?
    /// One head's Kᵀ or Vᵀ, `[Dh, T]`, for the products with a transposed operand.
    let transposed: UnsafeMutablePointer<Float>
}

/// Softmaxes a `[T, T]` score matrix in place under the causal mask (narrowed to `variant`'s
/// window) and returns the kept entries' magnitudes, measured before the softmax (NaN if any of
/// them is NaN).
private func maskedSoftmax(
    _ scores: UnsafeMutablePointer<Float>, length t: Int, variant: AttentionVariant
) -> SoftmaxMagnitudes {
    var magnitudes = SoftmaxMagnitudes()
    for query in 0..<t {
        magnitudes.add(causalSoftmaxRow(scores + query * t, from: variant.firstKey(query), query: query, length: t))
    }
    return magnitudes  // NaN if a score is, whatever comes after it
}

/// The pullback of `causalAttention`, head by head; with a soft-cap, each head's capped scores Z
/// are computed again (they give the cap's slope), and P from them when it was not kept.
private func attentionPullback(
    q: Tensor, k: Tensor, v: Tensor, kept: Tensor?, shape: AttentionShape,
    scale: Float, variant: AttentionVariant, outputGrad dY: UnsafePointer<Float>
) {
    let (t, tt) = (shape.length, shape.length * shape.length)
    let dQ = q.requiresGrad ? q.gradData() : nil, dK = k.requiresGrad ? k.gradData() : nil
    let dV = v.requiresGrad ? v.gradData() : nil
    shape.forEachUnit(probabilities: kept == nil, scoreGrads: true, cappedScores: variant.softcap > 0) {
        _, pairs, scratch in
        for pair in pairs {
            let (queryOffset, kvOffset) = (shape.queryOffset(pair), shape.kvOffset(pair))
            let head = HeadPullback(
                q: q.data + queryOffset, k: k.data + kvOffset, v: v.data + kvOffset, dY: dY + queryOffset,
                dQ: dQ.map { $0 + queryOffset }, dK: dK.map { $0 + kvOffset }, dV: dV.map { $0 + kvOffset },
                p: kept.map { $0.data + pair * tt } ?? scratch.probabilities!, dS: scratch.scoreGrads!,
                cappedScores: UnsafePointer(scratch.cappedScores), variant: variant)
            if let z = scratch.cappedScores {  // Z = c·tanh(S/c), then P = causalSoftmax(Z) from it
                _ = headScores(
                    q: q, k: k, shape: shape, pair: pair, scale: scale, variant: variant, into: z,
                    transposed: scratch.transposed)
                if kept == nil {
                    head.p.update(from: z, count: tt)
                    _ = maskedSoftmax(head.p, length: t, variant: variant)
                }
            } else if kept == nil {
                _ = headProbabilities(
                    q: q, k: k, shape: shape, pair: pair, scale: scale, variant: variant, into: head.p,
                    transposed: scratch.transposed)
            }
            if shape.usesCausalProducts {
                head.runInRegisters(shape: shape, scale: scale, transposed: scratch.transposed)
            } else {
                head.runByBlocks(shape: shape, scale: scale, transposed: scratch.transposed)
            }
        }
    }
}

/// One head's pullback: its operands (row strides `queryWidth` for q, dY, dQ and `kvWidth` for
/// k, v, dK, dV), the gradients wanted (nil: not), its P, a `[T, T]` scratch for dP then dS, and
/// with a soft-cap its capped scores Z.
private struct HeadPullback {
    let q, k, v, dY: UnsafePointer<Float>
    let dQ, dK, dV: UnsafeMutablePointer<Float>?
    let p, dS: UnsafeMutablePointer<Float>
    let cappedScores: UnsafePointer<Float>?
    let variant: AttentionVariant

    /// Short sequences: the products as `CausalProducts` loops over the lower triangle.
    func runInRegisters(shape: AttentionShape, scale: Float, transposed: UnsafeMutablePointer<Float>) {
        let (t, headDim, qWidth, kvWidth) = (shape.length, shape.headDim, shape.queryWidth, shape.kvWidth)
        causalProductTransposed(
            dY, lda: qWidth, v, ldb: kvWidth, t: t, depth: headDim,  // dP = dY·Vᵀ
            alpha: 1, into: dS, ldc: t, transposed: transposed)
        if let dV {
            causalTransposedProductAdding(p, ldp: t, dY, ldb: qWidth, t: t, width: headDim, into: dV, ldc: kvWidth)
        }
        scoreGradients(rows: 0..<t, t: t, scale: scale)
        if let dQ {
            causalProduct(dS, ldp: t, k, ldb: kvWidth, t: t, width: headDim, into: dQ, ldc: qWidth, accumulate: true)
        }
        if let dK {
            causalTransposedProductAdding(dS, ldp: t, q, ldb: qWidth, t: t, width: headDim, into: dK, ldc: kvWidth)
        }
    }

    /// Longer sequences: BLAS products block by block, first by query rows (dP, dS, dQ), then by
    /// key columns (dV, dK), skipping the blocks above the diagonal; dP's Vᵀ is copied out into
    /// `transposed` first, as `headProbabilities` does with Kᵀ.
    func runByBlocks(shape: AttentionShape, scale: Float, transposed: UnsafeMutablePointer<Float>) {
        let (t, headDim, qWidth, kvWidth) = (shape.length, shape.headDim, shape.queryWidth, shape.kvWidth)
        transpose(v, ldb: kvWidth, rows: t, columns: headDim, into: transposed)  // Vᵀ, [Dh, T]
        shape.forEachBlock { rows in
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows.count, n: rows.upperBound, k: headDim,  // dP = dY·Vᵀ
                a: dY + rows.lowerBound * qWidth, lda: qWidth, b: transposed, ldb: t,
                beta: 0, c: dS + rows.lowerBound * t, ldc: t)
            scoreGradients(rows: rows, t: t, scale: scale)
            if let dQ {  // dQ += dS·K
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: rows.count, n: headDim, k: rows.upperBound,
                    a: dS + rows.lowerBound * t, lda: t, b: k, ldb: kvWidth,
                    beta: 1, c: dQ + rows.lowerBound * qWidth, ldc: qWidth)
            }
        }
        shape.forEachBlock { keys in
            let seenBy = keys.lowerBound..<t, corner = keys.lowerBound * t + keys.lowerBound
            if let dV {  // dV += Pᵀ·dY
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: keys.count, n: headDim, k: seenBy.count,
                    a: p + corner, lda: t, b: dY + seenBy.lowerBound * qWidth, ldb: qWidth,
                    beta: 1, c: dV + keys.lowerBound * kvWidth, ldc: kvWidth)
            }
            if let dK {  // dK += dSᵀ·Q
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: keys.count, n: headDim, k: seenBy.count,
                    a: dS + corner, lda: t, b: q + seenBy.lowerBound * qWidth, ldb: qWidth,
                    beta: 1, c: dK + keys.lowerBound * kvWidth, ldc: kvWidth)
            }
        }
    }

    /// dS for query rows `rows`, in place over dP: the softmax pullback (scaled by 1/√Dh), the
    /// soft-cap's if any, then zeros left of the window and right of the diagonal up to the end
    /// of `rows` (the later products read them).
    private func scoreGradients(rows: Range<Int>, t: Int, scale: Float) {
        for query in rows {
            let (row, first) = (query * t, variant.firstKey(query))
            causalSoftmaxRowPullback(
                probabilities: p + row, outputGrad: dS + row, inputGrad: dS + row,
                from: first, query: query, length: t, scale: scale, accumulate: false)
            if let cappedScores {
                capScoreRowPullback(
                    dS + row, capped: cappedScores + row, from: first, query: query, length: t, cap: variant.softcap)
            }
            (dS + row).update(repeating: 0, count: first)
            (dS + row + query + 1).update(repeating: 0, count: rows.upperBound - query - 1)
        }
    }
}
