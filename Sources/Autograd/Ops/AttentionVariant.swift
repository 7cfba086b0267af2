/// The attention variants `causalAttention` and `cachedAttention` take, applied in this order
/// after the scores `S = Q·Kᵀ/√Dh`:
///
///     Z = c·tanh(S/c)                    soft-cap (c = `softcap`; none when 0)
///     keep z_ij for i − W < j ≤ i        sliding window (W = `window`; j ≤ i when 0)
///     P = softmax over the kept entries
///
/// as transformers computes them (`eager_attention_forward` in `models/gemma2/modeling_gemma2.py`
/// caps the scaled scores, then adds the mask; `masking_utils.sliding_window_overlay` keeps
/// `kv_idx > q_idx - sliding_window`, so a window of W holds the W latest positions, the query's
/// own included).
public struct AttentionVariant: Equatable, Sendable {
    /// c of the soft-cap (Gemma 2's `attn_logit_softcapping`), > 0; 0: no cap.
    public var softcap: Float
    /// W, the positions a query sees (Gemma 2 and 3's, OLMo 3's `sliding_window`), ≥ 1; 0: all
    /// positions up to its own.
    public var window: Int

    public init(softcap: Float = 0, window: Int = 0) {
        precondition(softcap >= 0 && window >= 0, "attention soft-cap \(softcap), window \(window)")
        (self.softcap, self.window) = (softcap, window)
    }

    /// Full causal attention, no cap.
    public static let plain = AttentionVariant()

    /// The first key query `query` sees: `max(0, query − W + 1)`, or 0 without a window.
    @inline(__always)
    func firstKey(_ query: Int) -> Int { window > 0 ? max(0, query + 1 - window) : 0 }

    /// Query positions of a sequence of `length` that see two keys or more: those whose attention
    /// has an entropy to measure (`AttentionStatistics`).
    func entropyRows(length: Int) -> Int { window == 1 ? 0 : max(0, length - 1) }
}
