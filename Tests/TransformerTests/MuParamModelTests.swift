import Autograd
import Foundation
import Transformer
import XCTest

/// The model side of µParam (full) (Wortsman et al. 2023 §3.2.4, Fig. E.5): `head_init_base_width`,
/// `zero_init_query`, `attention_scale`.
final class MuParamModelTests: XCTestCase {
    func wideConfig(d: Int) -> ModelConfig {
        var config = ModelConfig()
        (config.vocabSize, config.blockSize, config.dModel, config.nLayer, config.nHead) = (11, 8, d, 2, d / 16)
        config.tieEmbeddings = false
        return config
    }

    /// µParam (full)'s head: std √D0/d (within 2% at d = 256), and 1/√d, fan_in's own head, at D0 = d.
    func testHeadInitialisation() throws {
        var config = wideConfig(d: 256)
        config.headInitBaseWidth = 64
        let head = try XCTUnwrap(try TransformerModel(config: config).parameter(named: "lm_head.weight")).tensor
        let values = head.values.map(Double.init)
        let std = (values.reduce(0) { $0 + $1 * $1 } / Double(values.count)).squareRoot()
        XCTAssertEqual(std / (8.0 / 256), 1, accuracy: 0.02)
        config = wideConfig(d: 64)
        config.initialization = .fanIn
        let fanIn = try TransformerModel(config: config).parameterBuffer.values
        config.headInitBaseWidth = 64
        XCTAssertEqual(try TransformerModel(config: config).parameterBuffer.values, fanIn)
        config.tieEmbeddings = true
        XCTAssertThrowsError(try config.validate()) {
            XCTAssertEqual(
                "\($0)", "head_init_base_width (64) initialises an untied head: set tie_embeddings = false")
        }
    }

    /// A zero q_proj makes every attention logit 0 at the first step; the 1/Dh scale's pullback
    /// passes the gradient check (`attention_scale = "inverse_head_dim"`).
    func testZeroQueryAndInverseHeadDimScale() throws {
        var config = tinyConfig(qkNorm: .off)
        config.zeroInitQuery = true
        let zero = try TransformerModel(config: config)
        XCTAssertTrue(
            try XCTUnwrap(zero.parameter(named: "model.layers.0.self_attn.q_proj.weight")).tensor.values
                .allSatisfy { $0 == 0 })
        XCTAssertEqual(
            zero.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5).attentionLogitMax, [0, 0])
        for qkNorm in [ModelConfig.QKNorm.off, .head] {
            var config = tinyConfig(qkNorm: qkNorm)
            config.attentionScale = .inverseHeadDim
            let model = try TransformerModel(config: config)
            randomizeForGradientCheck(model, seed: 9)
            let results = GradientCheck.check(model.parameters.map(\.tensor), step: 2e-3) {
                model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5).loss
            }
            for (parameter, result) in zip(model.parameters, results) {
                XCTAssertTrue(result.passed, "\(qkNorm) \(parameter.name): \(result)")
            }
        }
    }
}
