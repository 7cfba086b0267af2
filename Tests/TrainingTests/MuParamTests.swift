import Autograd
import Foundation
import Training
import Transformer
import XCTest

/// µParam (simple), `optim.mup_base_width` (Wortsman et al. 2023 §3.2.4; nanodo's `adamw_mup`),
/// and the options of µParam (full): `attention_scale`, `zero_init_query`, `head_init_base_width`.
final class MuParamTests: SmokeRunTestCase {
    func model(d: Int, mlp: ModelConfig.MLP = .swiglu) throws -> TransformerModel {
        var config = ModelConfig()
        (config.vocabSize, config.blockSize, config.dModel, config.nLayer, config.nHead) = (11, 8, d, 2, d / 16)
        (config.mlp, config.tieEmbeddings) = (mlp, false)
        return try TransformerModel(config: config)
    }

    /// D0/d for every matrix with fan-in d and for o_proj, F0/F for down_proj (F0 the d_ff derived
    /// at D0: 96 against 192 for SwiGLU at 32 and 64, 352 at 128), 1 for embeddings and norms.
    func testMultipliers() throws {
        for (d, down) in [(64, 96.0 / 192), (128, 96.0 / 352)] {
            let model = try model(d: d)
            let multipliers = MuParam.updateMultipliers(model.parameters, model: model.config, baseWidth: 32)
            for (parameter, r) in zip(model.parameters, multipliers) {
                let name = parameter.name
                let expected =
                    parameter.tensor.shape.count == 1 || name.hasPrefix("model.embed_")
                    ? 1 : name.contains("down_proj") ? down : 32 / Double(d)
                XCTAssertEqual(r, Float(expected), name)
            }
        }
        let gelu = try model(d: 64, mlp: .gelu)
        XCTAssertEqual(Set(MuParam.updateMultipliers(gelu.parameters, model: gelu.config, baseWidth: 16)), [1, 0.25])
        XCTAssertEqual(Set(MuParam.updateMultipliers(gelu.parameters, model: gelu.config, baseWidth: 64)), [1])
    }

    /// After one step from the same state (constant rate, so no warm-up), each parameter's update
    /// under µParam is the plain update times its multiplier, to rounding: without weight decay
    /// and with it (the decay term is scaled too).
    func testOneStepUpdateIsThePlainUpdateTimesTheRatio() throws {
        for weightDecay in [0, 0.1] {
            let plain = try model(d: 64), scaled = try model(d: 64)
            let tokens: [Int32] = (0..<16).map { Int32($0 % 11) }, targets = tokens.map { ($0 + 1) % 11 }
            for model in [plain, scaled] {
                model.loss(tokens: tokens, targets: targets, batch: 2, length: 8).loss.backward()
            }
            var config = OptimizerConfig()
            config.weightDecay = weightDecay
            let multipliers = MuParam.updateMultipliers(scaled.parameters, model: scaled.config, baseWidth: 16)
            let before = plain.parameterBuffer.values
            AdamW(parameters: plain.parameters, config: config).step(learningRate: 0.01, gradientScale: 0.5)
            AdamW(parameters: scaled.parameters, config: config, updateMultipliers: multipliers)
                .step(learningRate: 0.01, gradientScale: 0.5)
            var offset = 0
            for ((parameter, r), other) in zip(zip(plain.parameters, multipliers), scaled.parameters) {
                for i in 0..<parameter.tensor.count {
                    let plainUpdate = Double(parameter.tensor.data[i]) - Double(before[offset + i])
                    let scaledUpdate = Double(other.tensor.data[i]) - Double(before[offset + i])
                    // rounding: a few ulps of the weight against an update of 1e-2·r or 1e-3·r·w
                    XCTAssertEqual(scaledUpdate, Double(r) * plainUpdate, accuracy: 1e-6, parameter.name)
                }
                offset += parameter.tensor.count
            }
        }
    }

    /// At d = D0 µParam changes no number: the smoke run (d = 32) with mup_base_width 32 is the
    /// run without, bit for bit; above d_model the key is refused in one line.
    func testBaseWidthEqualToWidthIsBitIdentical() throws {
        let common = ["train.max_steps=12", "train.checkpoint_interval=0", "optim.weight_decay=0.1"]
        let off = try train(try smokeConfig(common), in: "off")
        let on = try train(try smokeConfig(common + ["optim.mup_base_width=32"]), in: "on")
        XCTAssertEqual(try numbers(off), try numbers(on))
        XCTAssertEqual(try finalWeights(off), try finalWeights(on))
        XCTAssertTrue(
            failure { _ = try self.smokeConfig(["optim.mup_base_width=64"]) }.hasSuffix(
                "[optim] mup_base_width (64) must not exceed model.d_model (32): µParam scales updates down from a smaller base width"
            ))
    }
}
