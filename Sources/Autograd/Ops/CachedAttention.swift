/// Attention of one new position over cached keys and values: generation's decode step.
///
/// The sequence has n positions, the newest last; the keys and values of all n (the newest's
/// included) are in the cache. Per query head h, reading key/value head `h / (H / Hkv)`:
///
///     s = q·Kᵀ / √Dh   [n]      p = softmax(c·tanh(s/c))   [n]      y = p·V   [Dh]
///
/// with the soft-cap (none when c = 0) and the sliding window (p over the last W positions only)
/// of `variant`, as in `causalAttention`. This is row n − 1 of `causalAttention` over the whole
/// sequence. Up to
/// `causalProductsMaxLength` positions it is computed as `causalAttention` computes it, so it
/// gives the same bits: scores summed over d in order with fused multiply-adds, then scaled (the
/// `CausalProducts` loops), `causalSoftmaxRow`, and `p·V` summed over positions in order. Above
/// that length `causalAttention` switches to BLAS products by blocks, whose rounding this
/// one-row loop does not reproduce (nor would a one-row `gemm`: OpenBLAS rounds a row alone
/// differently from the same row in a block); there it is equal up to rounding. Positions and
/// head dimensions go through whole vectors (16 lanes), as in the register loops. No pullback:
/// inference only.
///
/// - Parameters:
///   - q: the new position's queries, `[1, 1, H·Dh]` (after QK-Norm and RoPE).
///   - keysTransposed: `[Hkv·Dh, capacity]`: kv head g's keys are rows `g·Dh ..< (g+1)·Dh`, one
///     column per position (so that the scores of 16 positions are one vector), columns `0..<n` set.
///   - values: `[capacity, Hkv·Dh]`, rows `0..<n` set.
///   - length: n, the positions attended to (1 ≤ n ≤ capacity).
///   - variant: the soft-cap and sliding window.
/// - Returns: `[1, 1, H·Dh]`, heads merged, and the largest |score| over the heads (before and
///   after the cap).
public func cachedAttention(
    query q: Tensor, keysTransposed: Tensor, values: Tensor, length n: Int,
    heads: Int, kvHeads: Int, scale: Float? = nil, variant: AttentionVariant = .plain
) -> AttentionResult {
    let started = OpProfile.begin()
    defer { OpProfile.end(.attention, started) }
    let headDim = q.count / heads, capacity = values.shape[0], kvWidth = kvHeads * headDim
    precondition(
        q.shape == [1, 1, heads * headDim] && heads % kvHeads == 0
            && keysTransposed.shape == [kvWidth, capacity] && values.shape == [capacity, kvWidth]
            && n >= 1 && n <= capacity,
        "cachedAttention of q \(q.shape) over keysᵀ \(keysTransposed.shape), values \(values.shape), \(n) positions")
    precondition(
        !Tape.needsGradient(q, keysTransposed, values), "cachedAttention has no pullback: run it without a tape")
    let scale = scale ?? 1 / Float(headDim).squareRoot(), group = heads / kvHeads  // as causalAttention's
    let output = Tensor(uninitialized: q.shape)  // [1, 1, H·Dh]
    let first = variant.firstKey(n - 1)  // the window's first position
    var maxima = LogitMaxima()
    let scores = TensorStorage(count: n, zeroed: false)  // s, then p: [n]
    let s = scores.pointer
    for head in 0..<heads {  // one core: a head is microseconds of work
        let kv = head / group
        let (qHead, yHead) = (q.data + head * headDim, output.data + head * headDim)
        let (keys, vHead) = (keysTransposed.data + kv * headDim * capacity, values.data + kv * headDim)
        forEachVector(first..<n) { j, lanes in  // s = q·Kᵀ/√Dh, 16 positions a vector
            var sum = Vector()
            for d in 0..<headDim { sum.addProduct(Vector(repeating: qHead[d]), load(keys + d * capacity, j, lanes)) }
            store(sum * scale, s, j, lanes)
        }
        let logitMax =
            variant.softcap > 0
            ? capScoreRow(s, from: first, query: n - 1, length: n, cap: variant.softcap).largestMagnitude : nil
        let capped = causalSoftmaxRow(s, from: first, query: n - 1, length: n).largestMagnitude  // zeros before first
        maxima.add(LogitMaxima(logit: logitMax ?? capped, capped: capped))
        forEachVector(0..<headDim) { d, lanes in  // y = p·V, 16 of Dh a vector
            var sum = Vector()
            for j in 0..<n { sum.addProduct(Vector(repeating: s[j]), load(vHead + j * kvWidth, d, lanes)) }
            store(sum, yHead, d, lanes)
        }
    }
    withExtendedLifetime(scores) {}  // used through its pointer only
    return AttentionResult(
        output: output, logitMax: maxima.logit, cappedLogitMax: maxima.capped, statistics: nil)
}
