import Autograd
import Foundation
import Transformer
import XCTest

/// The family switches of docs/spec/model.md (block_norm "sandwich", norm_weight "offset", embed_scale,
/// mlp "geglu", rope_fraction): parameters, validation, and the identities the math promises.
final class FamilySwitchTests: XCTestCase {
    func logits(_ model: TransformerModel) -> [Float] {
        Tape.withoutGradients { model.forward(tokens: tinyTokens, batch: 2, length: 5).logits.values }
    }

    /// Copies every parameter of `source` into `target` (same names and shapes), mapping norm
    /// weights through `normWeight`.
    func copy(_ source: TransformerModel, into target: TransformerModel, normWeight: (Float) -> Float = { $0 }) {
        XCTAssertEqual(source.parameters.map(\.name), target.parameters.map(\.name))
        for (from, to) in zip(source.parameters, target.parameters) {
            let isNorm = from.initialization != .normal(std: 0) && from.tensor.shape.count == 1
            for i in 0..<from.tensor.count {
                to.tensor.data[i] = isNorm ? normWeight(from.tensor.data[i]) : from.tensor.data[i]
            }
        }
    }

    /// Gemma 3's names: four block norms per layer, offset norms initialised to 0 (QK-Norm and the
    /// final norm too), GeGLU's gate and up; the count formula agrees with the buffer.
    func testSandwichOffsetParameters() throws {
        let config = tinyConfig(blockNorm: .sandwich, mlp: .geglu, normWeight: .offset, embedScale: true)
        let model = try TransformerModel(config: config)
        let layer = model.parameters.filter { $0.layer == 0 }.map(\.name)
        XCTAssertEqual(
            layer,
            ["q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"].map { "model.layers.0.self_attn.\($0).weight" }
                + [
                    "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                    "post_feedforward_layernorm",
                ]
                .map { "model.layers.0.\($0).weight" }
                + ["gate_proj", "up_proj", "down_proj"].map { "model.layers.0.mlp.\($0).weight" })
        for parameter in model.parameters where parameter.tensor.shape.count == 1 {
            XCTAssertEqual(parameter.initialization, .zeros, parameter.name)
            XCTAssertTrue(parameter.tensor.values.allSatisfy { $0 == 0 }, parameter.name)
        }
        XCTAssertEqual(Double(model.parameters.scalarCount), config.parameterCount)
        // per layer: q 32 + k 32 + v 32 + o 32 (Dh 4 · H 2 · d 8 each) + qk norms 4+4 + 4 block norms 32 + mlp 3·96
        XCTAssertEqual(model.parameters.scalarCount, 56 + 2 * (4 * 64 + 8 + 32 + 288) + 8)
        let plain = try TransformerModel(config: tinyConfig())
        XCTAssertTrue(plain.parameters.filter { $0.tensor.shape.count == 1 }.allSatisfy { $0.initialization == .ones })
    }

    func testValidationMessages() {
        func message(_ edit: (inout ModelConfig) -> Void) -> String? {
            var config = ModelConfig()
            edit(&config)
            do {
                try config.validate()
                return nil
            } catch { return "\(error)" }
        }
        XCTAssertNil(message { $0.ropeFraction = 0.25 })  // Dh = 32: R = 8
        var decimal = ModelConfig()  // as Python: int(20 * 0.7) = 14
        (decimal.nHead, decimal.headDim, decimal.ropeFraction) = (4, 20, 0.7)
        XCTAssertEqual(decimal.rotaryDimension, 14, "not int(20 · Float(0.7)) = 13")
        XCTAssertEqual(message { $0.ropeFraction = 0 }, "rope_fraction must be in (0, 1] (got 0.0)")
        XCTAssertEqual(message { $0.ropeFraction = 1.5 }, "rope_fraction must be in (0, 1] (got 1.5)")
        XCTAssertEqual(
            message { $0.ropeFraction = 0.3 },
            "rope_fraction 0.3 rotates int(head_dim · rope_fraction) = 9 dims of head_dim 32; that must be even and at least 2"
        )
        XCTAssertEqual(
            message { $0.ropeFraction = 0.05 },
            "rope_fraction 0.05 rotates int(head_dim · rope_fraction) = 1 dims of head_dim 32; that must be even and at least 2"
        )
        XCTAssertEqual(
            message {
                $0.ropeFraction = 0.5
                $0.position = .learned
            },
            "rope_fraction (0.5) applies to position = \"rope\" only; remove it or set position = \"rope\"")
    }

    func testCodableKeysAndDefaults() throws {
        let config = try JSONDecoder().decode(
            ModelConfig.self, from: Data(#"{"block_norm": "sandwich", "mlp": "geglu"}"#.utf8))
        XCTAssertEqual(config.blockNorm, .sandwich)
        XCTAssertEqual(config.mlp, .geglu)
        XCTAssertEqual(config.feedForward, 352)  // round_up(8d/3, 32), as SwiGLU
        XCTAssertEqual(config.normWeight, .plain)
        XCTAssertEqual(config.ropeFraction, 1)
        XCTAssertFalse(config.embedScale)
        let full = try JSONDecoder().decode(
            ModelConfig.self, from: Data(#"{"norm_weight": "offset", "embed_scale": true, "rope_fraction": 0.25}"#.utf8)
        )
        XCTAssertEqual(full.normWeight, .offset)
        XCTAssertTrue(full.embedScale)
        XCTAssertEqual(full.ropeFraction, 0.25)
        XCTAssertEqual(full.rotaryDimension, 8)
        for key in ["norm_weight", "embed_scale", "rope_fraction"] {
            XCTAssertTrue(ModelConfig.keys.contains(key), key)
        }
    }

    /// The offset form with `w = γ − 1` is the plain form with gain γ, in every norm of every
    /// block layout and QK-Norm scope (to the rounding of `(γ − 1) + 1`).
    func testOffsetWithWeightGammaMinusOneIsPlainWithGainGamma() throws {
        for blockNorm in ModelConfig.BlockNorm.allCases {
            for qkNorm in ModelConfig.QKNorm.allCases {
                let plain = try TransformerModel(config: tinyConfig(blockNorm: blockNorm, qkNorm: qkNorm))
                randomizeForGradientCheck(plain, seed: 21)
                let offset = try TransformerModel(
                    config: tinyConfig(blockNorm: blockNorm, qkNorm: qkNorm, normWeight: .offset))
                copy(plain, into: offset) { $0 - 1 }
                let (a, b) = (logits(plain), logits(offset))
                let worst = zip(a, b).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-5, "\(blockNorm) \(qkNorm)")
                XCTAssertGreaterThan(a.map(abs).max()!, 0.1)
            }
        }
    }

    /// At initialisation (w = 0, gain 1) the offset model is the plain one (gain 1), bit for bit:
    /// norm weights take nothing from the seeded stream, so every other weight is the same.
    func testOffsetAtInitialisationIsPlainAtInitialisation() throws {
        for blockNorm in ModelConfig.BlockNorm.allCases {
            let plain = try TransformerModel(config: tinyConfig(blockNorm: blockNorm))
            let offset = try TransformerModel(config: tinyConfig(blockNorm: blockNorm, normWeight: .offset))
            XCTAssertEqual(logits(plain), logits(offset), "\(blockNorm)")
        }
    }

    /// rope_fraction = 1 is the full rotation bit for bit; a partial rotation changes the logits.
    func testRopeFractionOneIsTheFullRotation() throws {
        let full = try TransformerModel(config: tinyConfig())
        randomizeForGradientCheck(full, seed: 22)
        let explicit = try TransformerModel(config: tinyConfig(ropeFraction: 1))
        copy(full, into: explicit)
        XCTAssertEqual(logits(full), logits(explicit))
        let partial = try TransformerModel(config: tinyConfig(ropeFraction: 0.5))
        copy(full, into: partial)
        XCTAssertNotEqual(logits(full), logits(partial))
    }

    /// Sandwich with its post-norms' gains at 0 (plain w = 0, or offset w = −1): every sublayer
    /// adds exactly 0, so each block is the identity, as is a pre-norm block whose output
    /// projections (o_proj, down_proj) are zero. Bit for bit.
    func testSandwichWithZeroPostGainsIsTheIdentityBlock() throws {
        for normWeight in ModelConfig.NormWeight.allCases {
            let sandwich = try TransformerModel(config: tinyConfig(blockNorm: .sandwich, normWeight: normWeight))
            randomizeForGradientCheck(sandwich, seed: 23)
            let zeroGain: Float = normWeight == .offset ? -1 : 0
            for parameter in sandwich.parameters where parameter.name.contains(".post_") {
                parameter.tensor.data.update(repeating: zeroGain, count: parameter.tensor.count)
            }
            let pre = try TransformerModel(config: tinyConfig(blockNorm: .pre, normWeight: normWeight))
            randomizeForGradientCheck(pre, seed: 24)
            for name in ["model.embed_tokens.weight", "model.norm.weight"] {
                pre.parameter(named: name)!.tensor.data.update(
                    from: sandwich.parameter(named: name)!.tensor.data,
                    count: pre.parameter(named: name)!.tensor.count)
            }
            for parameter in pre.parameters
            where parameter.name.hasSuffix("o_proj.weight") || parameter.name.hasSuffix("down_proj.weight") {
                parameter.tensor.data.update(repeating: 0, count: parameter.tensor.count)
            }
            XCTAssertEqual(logits(sandwich), logits(pre), "\(normWeight)")
        }
    }

    /// Sandwich with its pre-norms removed is post-norm: when the block's input already has unit
    /// RMS in every row and the pre-norm gain is 1, input_layernorm changes nothing (to eps), so
    /// a one-layer sandwich whose MLP adds nothing (down_proj = 0) equals the one-layer post
    /// layout with the same weights.
    func testSandwichWithoutItsPreNormsIsPostNorm() throws {
        for qkNorm in ModelConfig.QKNorm.allCases {
            var sandwichConfig = tinyConfig(blockNorm: .sandwich, qkNorm: qkNorm)
            sandwichConfig.nLayer = 1
            var postConfig = sandwichConfig
            postConfig.blockNorm = .post
            let sandwich = try TransformerModel(config: sandwichConfig), post = try TransformerModel(config: postConfig)
            randomizeForGradientCheck(sandwich, seed: 25)
            let table = sandwich.parameter(named: "model.embed_tokens.weight")!.tensor
            let d = sandwichConfig.dModel
            for row in 0..<sandwichConfig.vocabSize {  // unit-RMS embedding rows
                let values = (0..<d).map { Double(table.data[row * d + $0]) }
                let rms = (values.map { $0 * $0 }.reduce(0, +) / Double(d)).squareRoot()
                for i in 0..<d { table.data[row * d + i] = Float(values[i] / rms) }
            }
            sandwich.parameter(named: "model.layers.0.input_layernorm.weight")!.tensor.data.update(
                repeating: 1, count: d)
            sandwich.parameter(named: "model.layers.0.mlp.down_proj.weight")!.tensor.data.update(
                repeating: 0, count: d * sandwichConfig.feedForward)
            for parameter in post.parameters {
                let source = sandwich.parameter(named: parameter.name)!.tensor
                parameter.tensor.data.update(from: source.data, count: source.count)
            }
            let (a, b) = (logits(sandwich), logits(post))
            XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-5, "\(qkNorm)")
            XCTAssertGreaterThan(a.map(abs).max()!, 0.1)
        }
    }

    /// embed_scale multiplies the token embedding by Float32(sqrt(d)) but not the tied head: with
    /// the blocks' sublayers adding 0, the logits are RMSNorm(s·e)·Eᵀ = RMSNorm(e)·Eᵀ up to eps
    /// (1e-6 against mean(e²) ≈ 0.06 here: ~1e-5 relative).
    func testEmbedScaleScalesTheInputNotTheTiedHead() throws {
        let scaled = try TransformerModel(config: tinyConfig(blockNorm: .sandwich, embedScale: true))
        randomizeForGradientCheck(scaled, seed: 26)
        let unscaled = try TransformerModel(config: tinyConfig(blockNorm: .sandwich))
        copy(scaled, into: unscaled)
        for model in [scaled, unscaled] {
            for parameter in model.parameters where parameter.name.contains(".post_") {
                parameter.tensor.data.update(repeating: 0, count: parameter.tensor.count)
            }
        }
        let (a, b) = (logits(scaled), logits(unscaled))
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-4 * a.map(abs).max()!)
        // With the blocks live the scale matters (the residual stream is √8 larger against the sublayers).
        let live = try TransformerModel(config: tinyConfig(blockNorm: .sandwich, embedScale: true))
        randomizeForGradientCheck(live, seed: 26)
        let liveUnscaled = try TransformerModel(config: tinyConfig(blockNorm: .sandwich))
        copy(live, into: liveUnscaled)
        XCTAssertNotEqual(logits(live), logits(liveUnscaled))
    }
}
