import Autograd
import Transformer
import XCTest

/// `attention_bias`: biases on q, k and v (not o), as in GLM-4.5's `Glm4MoeAttention`.
final class AttentionBiasTests: XCTestCase {
    /// The biases' names, shapes, place (after each weight) and count, and their zero start.
    func testParametersAndCount() throws {
        var config = tinyConfig(kvHeads: 1)
        config.attentionBias = true
        let model = try TransformerModel(config: config)
        let names = model.parameters.map(\.name).filter { $0.hasPrefix("model.layers.0.self_attn.") }
        XCTAssertEqual(
            names.map { String($0.dropFirst("model.layers.0.self_attn.".count)) },
            [
                "q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight", "v_proj.bias",
                "o_proj.weight", "q_norm.weight", "k_norm.weight",
            ])
        XCTAssertEqual(model.parameter(named: "model.layers.1.self_attn.q_proj.bias")?.tensor.shape, [8])
        XCTAssertEqual(model.parameter(named: "model.layers.1.self_attn.k_proj.bias")?.tensor.shape, [4])
        XCTAssertNil(model.parameter(named: "model.layers.0.self_attn.o_proj.bias"))
        let plain = try TransformerModel(config: tinyConfig(kvHeads: 1))
        XCTAssertEqual(model.parameters.scalarCount, plain.parameters.scalarCount + 2 * (8 + 4 + 4))
        XCTAssertEqual(Double(model.parameters.scalarCount), config.parameterCount)
        for bias in model.parameters where bias.name.hasSuffix(".bias") {
            XCTAssertEqual(bias.initialization, .bias)
            XCTAssertFalse(bias.decays || bias.isNormWeight, bias.name)
            XCTAssertTrue(bias.tensor.values.allSatisfy { $0 == 0 }, bias.name)
        }
    }

    /// At initialisation (zero biases) the weights and the logits are those of the same model
    /// without biases, bit for bit (biases draw nothing from the initialisation stream); a
    /// nonzero bias changes the logits.
    func testZeroBiasesAreTheModelWithout() throws {
        var config = tinyConfig()
        let plain = try TransformerModel(config: config)
        config.attentionBias = true
        let biased = try TransformerModel(config: config)
        for parameter in plain.parameters {
            XCTAssertEqual(biased.parameter(named: parameter.name)?.tensor.values, parameter.tensor.values)
        }
        func logits(_ model: TransformerModel) -> [Float] {
            Tape.withoutGradients { model.forward(tokens: tinyTokens, batch: 2, length: 5).logits.values }
        }
        XCTAssertEqual(logits(biased), logits(plain))
        biased.parameter(named: "model.layers.0.self_attn.v_proj.bias")!.tensor.data[0] = 0.5
        XCTAssertNotEqual(logits(biased), logits(plain))
    }
}
