import Autograd

/// Next-token logits for text generation, with a key/value cache: a prompt is prefilled once,
/// then every appended token costs one position's forward pass.
///
/// **Within block_size** (prompt and generated tokens together at most `block_size` = T), the
/// logits are those of a full forward over all the tokens, up to rounding: the prefill *is* that
/// forward, and a decode step computes the last row's norms, rotation and attention as the full
/// forward does (`cachedAttention` is bitwise its last row up to 64 positions), but its
/// projections are one-row `gemm` products, which OpenBLAS rounds differently from the same row
/// inside a T-row product (differences of about 1e-7 relative; `KVCacheTests` bounds them in
/// every layout). Greedy text is therefore the same except where two logits tie to within that.
///
/// **Beyond block_size** the model has no position T, so the context must lose tokens. The cache
/// then keeps the newest `keptOnOverflow` = ⌈T/2⌉ tokens (the new one included) and prefills them
/// again from position 0: each prediction sees between ⌈T/2⌉ and T tokens, and its logits are
/// those of a full forward over the tokens in `window` (exactly after a prefill, to rounding
/// after decode steps, as above). The prefill costs ⌈T/2⌉ positions once every ⌊T/2⌋ tokens,
/// about one position's forward per token. The alternatives:
/// - always the last T tokens (what `Generation.generateRecomputing` does) needs a full forward
///   for every token past T, the cost the cache exists to avoid: with learned positions every
///   token's position changes at each step, and with RoPE the absolute rotations (so the
///   rounding) change;
/// - a sliding window over the cached keys (RoPE only) is a different function, not a rounding
///   difference: scores depend only on relative positions, but a cached key or value of layer
///   ≥ 1 was computed from tokens that have since left the window, which a forward over the
///   window never sees; and it would rotate positions ≥ T, which training never used.
public final class GenerationContext {
    public let model: TransformerModel
    private let cache: KVCache
    /// The tokens whose keys and values the cache holds, oldest first (at most block_size):
    /// the context of the next prediction.
    public private(set) var window: [Int32] = []

    public init(model: TransformerModel) {
        self.model = model
        cache = KVCache(config: model.config)
    }

    /// Tokens kept when an appended token would overflow block_size: ⌈T/2⌉, the new one included.
    public var keptOnOverflow: Int { (model.config.blockSize + 1) / 2 }

    /// Starts over with `prompt` (non-empty; its last block_size tokens) and returns the logits
    /// `[V]` of the token after it.
    public func start(prompt: [Int32]) -> [Float] {
        precondition(!prompt.isEmpty, "generation needs a prompt of at least one token")
        return prefill(Array(prompt.suffix(model.config.blockSize)))
    }

    /// Appends `token` and returns the logits `[V]` of the token after it (after `start`).
    public func append(_ token: Int32) -> [Float] {
        precondition(!window.isEmpty, "append(_:) before start(prompt:)")
        guard window.count < model.config.blockSize else {
            return prefill(Array((window + [token]).suffix(keptOnOverflow)))
        }
        window.append(token)
        return lastLogits(Tape.withoutGradients { model.forward(tokens: [token], batch: 1, length: 1, cache: cache) })
    }

    /// Empties the cache and fills it with `tokens` (at most block_size).
    private func prefill(_ tokens: [Int32]) -> [Float] {
        cache.removeAll()
        window = tokens
        return lastLogits(
            Tape.withoutGradients { model.forward(tokens: tokens, batch: 1, length: tokens.count, cache: cache) })
    }

    /// The last position's logits `[V]` of a forward's `[1, n, V]`.
    private func lastLogits(_ result: ForwardResult) -> [Float] {
        let logits = result.logits, vocabulary = model.config.vocabSize
        return withExtendedLifetime(logits) {  // read through its pointer: keep it alive
            Array(UnsafeBufferPointer(start: logits.data + logits.count - vocabulary, count: vocabulary))
        }
    }
}
