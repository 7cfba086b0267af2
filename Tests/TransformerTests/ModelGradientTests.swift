import Autograd
import Transformer
import XCTest

/// Full-model gradient checks: every parameter of every layout against finite differences.
final class ModelGradientTests: XCTestCase {
    func checkModel(_ config: ModelConfig, file: StaticString = #filePath, line: UInt = #line) throws {
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
            XCTAssertTrue(result.passed, "\(describe(config)) \(parameter.name): \(result)", file: file, line: line)
        }
    }

    func describe(_ c: ModelConfig) -> String {
        "[\(c.blockNorm) \(c.qkNorm) \(c.position) \(c.mlp) \(c.normWeight) tie=\(c.tieEmbeddings) scale=\(c.embedScale) rope=\(c.ropeFraction) kv=\(c.kvHeads)]"
    }

    /// block_norm × qk_norm × mlp × norm_weight, all 54 combinations, with position,
    /// tie_embeddings, embed_scale and rope_fraction varied across them (`gradientCheckLayouts`).
    func testEveryLayoutCombination() throws {
        let layouts = gradientCheckLayouts()
        XCTAssertEqual(layouts.count, 54)
        for (key, values) in [
            ("position", Set(layouts.map { "\($0.position)" })), ("tie", Set(layouts.map { "\($0.tieEmbeddings)" })),
            ("embed_scale", Set(layouts.map { "\($0.embedScale)" })),
            ("rope_fraction", Set(layouts.map { "\($0.ropeFraction)" })),
        ] {
            XCTAssertEqual(values.count, 2, "\(key) takes both values")
        }
        for config in layouts { try checkModel(config) }
    }

    func testGroupedQueryAttention() throws {
        for qkNorm in ModelConfig.QKNorm.allCases {
            var config = tinyConfig(qkNorm: qkNorm, kvHeads: 1)
            config.nHead = 4
            config.headDim = 2
            try checkModel(config)
            config.blockNorm = .post
            try checkModel(config)
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
            try checkModel(config)
        }
    }
}
