import Autograd
import Transformer
import XCTest

/// Generation with a key/value cache against the full forward pass it replaces: the logits of
/// every prefill and decode step against the last row of a forward over the same tokens.
///
/// Tolerance: a decode step's projections are one-row `gemm` products, which OpenBLAS rounds
/// differently from the same row inside a longer product (the rest is the same arithmetic), so
/// logits agree to ~1e-7 relative, not bit for bit; `logitTolerance` allows 2e-5 · max(1, |x|),
/// far below any difference a wrong position, mask, rotation or cache layout makes (those move
/// logits by 1e-2 and more with these order-1 weights). The attention kernel alone is held to
/// the bits where it promises them.
final class KVCacheTests: XCTestCase {
    /// Largest allowed |cached − full| for a logit `full`.
    func logitTolerance(_ full: Float) -> Float { 2e-5 * max(1, abs(full)) }

    func assertClose(
        _ cached: [Float], _ full: [Float], _ message: @autoclosure () -> String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(cached.count, full.count, message(), file: file, line: line)
        for (a, b) in zip(cached, full) where !(abs(a - b) <= logitTolerance(b)) {
            XCTFail("\(message()): \(a) cached, \(b) full forward", file: file, line: line)
            return
        }
    }

    /// Last-row logits `[V]` of a full forward over `tokens`, without a cache: the oracle.
    func recomputedLogits(_ model: TransformerModel, _ tokens: [Int32]) -> [Float] {
        let logits = Tape.withoutGradients { model.forward(tokens: tokens, batch: 1, length: tokens.count).logits }
        return Array(logits.values.suffix(model.config.vocabSize))
    }

    /// `count` pseudo-random ids below `vocabulary`.
    func tokens(_ count: Int, vocabulary: Int, seed: UInt64) -> [Int32] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in Int32(random.nextUniform() * Double(vocabulary)) % Int32(vocabulary) }
    }

    /// Prefills `prefix` tokens of a block_size-long sequence, decodes the rest one at a time, and
    /// compares every step's logits with a full forward's (the prefill's exactly: it is one).
    /// With `widthScaled`, the matrices' random weights are scaled by √(8/d), so that a product of
    /// a wide model keeps its input's magnitude as the tiny models' (d = 8) do, instead of
    /// growing it √(d/8)-fold per product (whose rounding the tolerance is not meant for).
    func checkAgainstFullForward(
        _ config: ModelConfig, prefix: Int, widthScaled: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let model = try TransformerModel(config: config)
        randomizeForGradientCheck(model, seed: 9)
        if widthScaled {
            let scale = (8 / Float(config.dModel)).squareRoot()
            for parameter in model.parameters where parameter.decays {  // the matrices and embeddings
                for i in 0..<parameter.tensor.count { parameter.tensor.data[i] *= scale }
            }
        }
        let sequence = tokens(config.blockSize, vocabulary: config.vocabSize, seed: 11)
        let context = GenerationContext(model: model)
        let layout =
            "[\(config.blockNorm) \(config.qkNorm) \(config.position) \(config.mlp) \(config.normWeight) tie=\(config.tieEmbeddings) scale=\(config.embedScale) rope=\(config.ropeFraction) kv=\(config.kvHeads) T=\(config.blockSize)]"
        XCTAssertEqual(
            context.start(prompt: Array(sequence[..<prefix])), recomputedLogits(model, Array(sequence[..<prefix])),
            "\(layout) prefill of \(prefix)", file: file, line: line)
        for length in (prefix + 1)...config.blockSize {
            let cached = context.append(sequence[length - 1])
            XCTAssertEqual(context.window, Array(sequence[..<length]), file: file, line: line)
            assertClose(
                cached, recomputedLogits(model, Array(sequence[..<length])),
                "\(layout) decode step at \(length) positions", file: file, line: line)
        }
    }

    /// Every layout of `everyTinyLayout` (216, the family switches included), prefilling one
    /// token and two.
    func testEveryLayoutMatchesFullForward() throws {
        XCTAssertEqual(everyTinyLayout().count, 216)
        for config in everyTinyLayout() {
            try checkAgainstFullForward(config, prefix: 1)
            try checkAgainstFullForward(config, prefix: 2)
        }
    }

    /// Four query heads on one and on two key/value heads, in every qk_norm and block_norm.
    func testGroupedQueryAttentionMatchesFullForward() throws {
        for kvHeads in [1, 2] {
            for qkNorm in ModelConfig.QKNorm.allCases {
                for blockNorm in ModelConfig.BlockNorm.allCases {
                    var config = tinyConfig(blockNorm: blockNorm, qkNorm: qkNorm, kvHeads: kvHeads)
                    config.nHead = 4
                    config.headDim = 2
                    try checkAgainstFullForward(config, prefix: 1)
                }
            }
        }
    }

    /// Past 64 positions the full forward's attention switches from register loops to BLAS
    /// products by blocks; decode steps must agree across the switch (n = 64 → 65) up to a full
    /// block of 80, with a head width of 16 (one whole vector) and d = 32.
    func testLongContextAcrossTheKernelSwitchMatchesFullForward() throws {
        for (position, qkNorm, kvHeads) in [
            (ModelConfig.Position.rope, ModelConfig.QKNorm.head, 2),
            (.learned, .off, 1), (.rope, .full, 1),
        ] {
            var config = tinyConfig(
                blockNorm: kvHeads == 2 ? .pre : .post, qkNorm: qkNorm, position: position, kvHeads: kvHeads)
            (config.blockSize, config.dModel, config.headDim, config.dFF) = (80, 32, 16, 48)
            try checkAgainstFullForward(config, prefix: 3)
            try checkAgainstFullForward(config, prefix: 70)  // the prefill itself above 64
        }
    }

    /// Sliding-window layers (a local RoPE base, every other layer global) and both soft-caps,
    /// grouped queries: short (T = 6, W = 2) and across the kernel switch (T = 80, W = 20).
    func testSoftcapsAndSlidingWindowsMatchFullForward() throws {
        for kvHeads in [2, 1] {
            var config = tinyConfig(blockNorm: .sandwich, kvHeads: kvHeads, normWeight: .offset)
            (config.nHead, config.headDim) = (4, 2)
            (config.attnSoftcap, config.finalSoftcap) = (1, 3)
            (config.slidingWindow, config.globalEvery, config.ropeLocalTheta) = (2, 2, 100)
            try checkAgainstFullForward(config, prefix: 1)
            try checkAgainstFullForward(config, prefix: 4)
            (config.blockSize, config.dModel, config.headDim, config.dFF, config.slidingWindow) = (80, 32, 16, 48, 20)
            try checkAgainstFullForward(config, prefix: 3)
            try checkAgainstFullForward(config, prefix: 70)
        }
    }

    /// A model of M's width (d = 384, F = 768), whose one-row decode products are as large as M's.
    func testWideModelMatchesFullForward() throws {
        for qkNorm in [ModelConfig.QKNorm.head, .off] {
            var config = tinyConfig(qkNorm: qkNorm)
            (config.blockSize, config.dModel, config.nHead, config.headDim, config.dFF) = (12, 384, 6, 64, 768)
            try checkAgainstFullForward(config, prefix: 2, widthScaled: true)
        }
    }

    /// `attention_bias`: the biases are in the cached keys and values too.
    func testAttentionBiasMatchesFullForward() throws {
        for kvHeads in [nil, 1] {
            var config = tinyConfig(qkNorm: .head, kvHeads: kvHeads, ropeFraction: 0.5)
            config.attentionBias = true
            try checkAgainstFullForward(config, prefix: 2)
        }
    }

    /// Beyond block_size: a prompt longer than T keeps its last T tokens; an append to a full
    /// window keeps the newest ⌈T/2⌉ tokens (the new one included) and prefills them again; every
    /// step's logits are then a full forward's over `window`. Both position kinds, T odd and even.
    func testBeyondBlockSizeKeepsTheNewestHalfAndMatchesItsFullForward() throws {
        for (position, blockSize) in [(ModelConfig.Position.rope, 6), (.learned, 6), (.rope, 5), (.learned, 1)] {
            var config = tinyConfig(position: position)
            config.blockSize = blockSize
            let model = try TransformerModel(config: config)
            randomizeForGradientCheck(model, seed: 5)
            let history = tokens(blockSize + 2 + 3 * blockSize, vocabulary: config.vocabSize, seed: 3)
            let context = GenerationContext(model: model)
            XCTAssertEqual(context.keptOnOverflow, (blockSize + 1) / 2)
            var seen = blockSize + 2, expectedLength = blockSize
            var logits = context.start(prompt: Array(history[..<seen]))
            var prefillsAgain = 0
            while true {
                XCTAssertEqual(
                    context.window, Array(history[..<seen].suffix(expectedLength)),
                    "\(position) T=\(blockSize) after \(seen)")
                assertClose(logits, recomputedLogits(model, context.window), "\(position) T=\(blockSize) after \(seen)")
                guard seen < history.count else { break }
                logits = context.append(history[seen])
                seen += 1
                if expectedLength == blockSize { prefillsAgain += 1 }
                expectedLength = expectedLength < blockSize ? expectedLength + 1 : (blockSize + 1) / 2
            }
            XCTAssertGreaterThanOrEqual(prefillsAgain, 3, "\(position) T=\(blockSize)")
        }
    }

    /// A new start forgets everything before it: the same prompt gives the same logits after a
    /// generation of another one.
    func testStartOverForgetsThePreviousContext() throws {
        let model = try TransformerModel(config: tinyConfig())
        randomizeForGradientCheck(model, seed: 2)
        let context = GenerationContext(model: model)
        let fresh = context.start(prompt: [3, 1])
        _ = context.start(prompt: [4, 4, 5])
        _ = context.append(6)
        XCTAssertEqual(context.start(prompt: [3, 1]), fresh)
        XCTAssertEqual(context.window, [3, 1])
    }

    /// `cachedAttention` over n cached positions is the last row of `causalAttention` over the
    /// n positions: bit for bit up to 64 positions (the same register-loop sums), to rounding
    /// above (BLAS there). Grouped heads, a head width with a partial vector, and a capacity
    /// larger than n (the columns past n must not be read).
    func testCachedAttentionIsTheLastRowOfCausalAttention() {
        for variant in [
            AttentionVariant.plain, AttentionVariant(softcap: 2), AttentionVariant(window: 16),
            AttentionVariant(softcap: 2, window: 5),
        ] {
            checkCachedAttentionIsTheLastRow(variant)
        }
    }

    /// Also with the soft-cap and a sliding window: the same bits up to 64 positions.
    func checkCachedAttentionIsTheLastRow(_ variant: AttentionVariant) {
        let (heads, kvHeads, headDim, capacity) = (4, 2, 20, 90)
        var random = SeededRandom(seed: 8)
        let q = Tensor(normal: [1, capacity, heads * headDim], std: 1, random: &random)
        let k = Tensor(normal: [1, capacity, kvHeads * headDim], std: 1, random: &random)
        let v = Tensor(normal: [1, capacity, kvHeads * headDim], std: 1, random: &random)
        let keysTransposed = Tensor(filling: .nan, shape: [kvHeads * headDim, capacity])  // unset columns: NaN
        let values = Tensor(filling: .nan, shape: [capacity, kvHeads * headDim])
        for n in [1, 2, 15, 16, 17, 63, 64, 65, 80] {
            for position in 0..<n {
                for i in 0..<(kvHeads * headDim) {
                    keysTransposed.data[i * capacity + position] = k.data[position * kvHeads * headDim + i]
                    values.data[position * kvHeads * headDim + i] = v.data[position * kvHeads * headDim + i]
                }
            }
            func prefix(_ x: Tensor) -> Tensor {
                Tensor(shape: [1, n, x.shape[2]], values: Array(x.values[..<(n * x.shape[2])]))
            }
            let full = causalAttention(
                q: prefix(q), k: prefix(k), v: prefix(v), heads: heads, kvHeads: kvHeads, variant: variant)
            let query = Tensor(
                shape: [1, 1, heads * headDim],
                values: Array(q.values[((n - 1) * heads * headDim)..<(n * heads * headDim)]))
            let cached = cachedAttention(
                query: query, keysTransposed: keysTransposed, values: values, length: n,
                heads: heads, kvHeads: kvHeads, variant: variant)
            let lastRow = Array(full.output.values.suffix(heads * headDim))
            if n <= 64 {
                XCTAssertEqual(cached.output.values, lastRow, "n = \(n), \(variant)")
            } else {
                for (a, b) in zip(cached.output.values, lastRow) {
                    XCTAssertEqual(a, b, accuracy: 1e-5, "n = \(n), \(variant)")
                }
            }
            XCTAssertLessThanOrEqual(cached.logitMax, full.logitMax, "n = \(n)")  // the last row's, of all rows'
            XCTAssertLessThanOrEqual(cached.cappedLogitMax, full.cappedLogitMax, "n = \(n)")
            XCTAssertGreaterThan(cached.logitMax, 0)
            if variant.softcap > 0 { XCTAssertLessThan(cached.cappedLogitMax, variant.softcap) }
            for (i, value) in cached.output.values.enumerated() {
                XCTAssertTrue(value.isFinite, "n = \(n), element \(i)")
            }
        }
    }
}
