import Autograd
import Transformer
import XCTest

/// Full-model gradient checks: every parameter against finite differences, here for grouped-query
/// attention, the attention variants and attention biases; every layout in
/// `ModelGradientEndToEndTests` (the end-to-end tier).
final class ModelGradientTests: XCTestCase {
    /// Both soft-caps (c = 1 and 2 against order-1 logits: inside tanh's bend) and a local layer
    /// (W = 2 of T = 5, its own RoPE base, which Dh = 4 makes matter) before a global one, with
    /// and without grouped queries.
    func testSoftcapsAndSlidingWindow() throws {
        for kvHeads in [nil, 1] {
            var config = tinyConfig(kvHeads: kvHeads)
            (config.nHead, config.headDim) = (4, 4)
            (config.attnSoftcap, config.finalSoftcap) = (1, 2)
            (config.slidingWindow, config.globalEvery, config.ropeLocalTheta) = (2, 2, 100)
            try checkModelGradients(config)
        }
    }

    func testGroupedQueryAttention() throws {
        for qkNorm in ModelConfig.QKNorm.allCases {
            var config = tinyConfig(qkNorm: qkNorm, kvHeads: 1)
            config.nHead = 4
            config.headDim = 2
            try checkModelGradients(config)
            config.blockNorm = .post
            try checkModelGradients(config)
        }
    }

    /// `attention_bias`: every parameter, the q/k/v biases included, in each block layout and
    /// QK-Norm scope, with grouped-query attention and partial RoPE among them.
    func testAttentionBias() throws {
        for (blockNorm, qkNorm, kvHeads, fraction) in [
            (ModelConfig.BlockNorm.pre, ModelConfig.QKNorm.head, 1, Float(0.5)), (.post, .full, nil, 1),
            (.sandwich, .off, 1, 1), (.pre, .full, nil, 0.5),
        ] {
            var config = tinyConfig(blockNorm: blockNorm, qkNorm: qkNorm, kvHeads: kvHeads, ropeFraction: fraction)
            config.attentionBias = true
            if kvHeads != nil { (config.nHead, config.headDim) = (4, 4) }
            try checkModelGradients(config)
        }
    }
}

extension XCTestCase {
    /// Checks the gradient of every parameter of a model of `config` (with z-loss on) against
    /// finite differences.
    func checkModelGradients(_ config: ModelConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        var config = config
        config.zLoss = 0.01  // exercise the z-loss term too
        let model = try TransformerModel(config: config)
        randomizeForGradientCheck(model, seed: 3)
        // h = 2e-3: a token whose projection is near zero makes RMSNorm strongly curved, and
        // h = 1e-2 left up to 25% truncation error there (0.8% at 3e-3, 0.05% at 1e-3).
        let results = GradientCheck.check(model.parameters.map(\.tensor), step: 2e-3) {
            model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5).loss
        }
        for (parameter, result) in zip(model.parameters, results) {
            XCTAssertTrue(
                result.passed, "\(describeLayout(config)) \(parameter.name): \(result)", file: file, line: line)
        }
    }

    func describeLayout(_ c: ModelConfig) -> String {
        "[\(c.blockNorm) \(c.qkNorm) \(c.position) \(c.mlp) \(c.normWeight) tie=\(c.tieEmbeddings) scale=\(c.embedScale) rope=\(c.ropeFraction) kv=\(c.kvHeads)]"
    }
}
