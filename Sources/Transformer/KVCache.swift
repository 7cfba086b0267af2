import Autograd

/// Every layer's keys and values for the positions a generation has seen so far, so that each
/// new token costs one position's forward pass instead of the whole context's.
///
/// Per layer, for up to `capacity` = block_size positions (Hkv key/value heads of width Dh):
///
///     keysTransposed  [Hkv·Dh, capacity]   keys after QK-Norm and RoPE, one column per position
///     values          [capacity, Hkv·Dh]   as the v projection lays them out
///
/// (keys transposed so that a new query's scores over 16 positions are one vector operation).
///
/// `TransformerModel.forward(tokens:batch:length:cache:)` fills it, with no tape: a forward
/// either *prefills* an empty cache with a whole sequence (through `causalAttention`, exactly as
/// the uncached forward) or adds one position (through `cachedAttention`). Batch size 1.
public final class KVCache {
    /// Positions it can hold: the model's block_size.
    public let capacity: Int
    let layers: [Layer]

    /// Positions held (those of every layer: the layers fill in step).
    public var count: Int { layers[0].count }

    /// An empty cache for `config`'s model.
    public init(config: ModelConfig) {
        capacity = config.blockSize
        let kvWidth = config.kvHeads * config.headDimension
        layers = (0..<config.nLayer).map { _ in Layer(capacity: config.blockSize, kvWidth: kvWidth) }
    }

    /// Forgets every position (the memory stays, for the next prefill).
    public func removeAll() {
        for layer in layers { layer.count = 0 }
    }

    /// One layer's keys and values.
    final class Layer {
        let keysTransposed: Tensor  // [Hkv·Dh, capacity]
        let values: Tensor  // [capacity, Hkv·Dh]
        /// Positions held.
        fileprivate(set) var count = 0

        init(capacity: Int, kvWidth: Int) {
            keysTransposed = Tensor(zeros: [kvWidth, capacity])
            values = Tensor(zeros: [capacity, kvWidth])
        }

        /// Stores the new positions' `k`, `v` (`[1, n, Hkv·Dh]`) after those held, then attends
        /// with `q` (`[1, n, H·Dh]`) over every position held: a prefill (the cache was empty) is
        /// `causalAttention` itself, one new position (n = 1) is `cachedAttention`, each with the
        /// scores' scale and the layer's soft-cap and sliding window (`variant`). Every position
        /// stays in the cache; a window reads only its last W.
        func attend(
            q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, scale: Float, variant: AttentionVariant
        ) -> AttentionResult {
            let (first, n, kvWidth) = (count, k.shape[1], values.shape[1])
            let capacity = values.shape[0]
            precondition(!Tape.isRecording, "the key/value cache is for inference: run it under Tape.withoutGradients")
            precondition(
                k.shape == [1, n, kvWidth] && v.shape == k.shape && (first == 0 || n == 1) && first + n <= capacity,
                "cached attention of k \(k.shape) after \(first) of \(capacity) positions (a prefill of an empty cache, or one position)"
            )
            (values.data + first * kvWidth).update(from: v.data, count: n * kvWidth)  // rows first..<first+n
            for position in 0..<n {  // columns first..<first+n
                let key = k.data + position * kvWidth, column = keysTransposed.data + first + position
                for i in 0..<kvWidth { column[i * capacity] = key[i] }
            }
            count = first + n
            if first == 0 {
                return causalAttention(
                    q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, scale: scale, variant: variant)
            }
            return cachedAttention(
                query: q, keysTransposed: keysTransposed, values: values, length: count,
                heads: heads, kvHeads: kvHeads, scale: scale, variant: variant)
        }
    }
}
