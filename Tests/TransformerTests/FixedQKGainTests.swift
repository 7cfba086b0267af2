import Autograd
import Foundation
import Transformer
import XCTest

/// `qk_norm_gain = κ` (Wortsman et al. 2023 §3.3, Fig. 10): QK-Norm with the constant gain √κ.
final class FixedQKGainTests: XCTestCase {
    func config(qkNorm: ModelConfig.QKNorm, gain: Float, normWeight: ModelConfig.NormWeight = .plain) -> ModelConfig {
        var config = tinyConfig(qkNorm: qkNorm, kvHeads: 1, normWeight: normWeight)
        config.qkNormGain = gain
        return config
    }

    /// q and k enter the attention with RMS √κ (RoPE keeps it), per head or over the projection,
    /// in either gain form; the gain is no parameter, and the count formula agrees.
    func testQueriesAndKeysHaveRMSRootKappa() throws {
        for qkNorm in [ModelConfig.QKNorm.head, .full] {
            for normWeight in ModelConfig.NormWeight.allCases {
                var config = config(qkNorm: qkNorm, gain: 100, normWeight: normWeight)
                config.normEps = 1e-10  // the tiny model's q and k have mean squares ≈ 3e-3
                let model = try TransformerModel(config: config)
                XCTAssertFalse(
                    model.parameters.contains { $0.name.contains("_norm.weight") && $0.name.contains("attn") })
                XCTAssertEqual(Double(model.parameters.scalarCount), config.parameterCount)
                let telemetry = try XCTUnwrap(
                    Tape.withoutGradients {
                        model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
                            .telemetry
                    })
                for value in telemetry.queryRMS + telemetry.keyRMS {
                    XCTAssertEqual(value, 10, accuracy: 1e-4, "\(qkNorm) \(normWeight)")
                }
            }
        }
    }

    /// Every parameter's gradient against finite differences, the fixed gain in the path.
    func testGradients() throws {
        for qkNorm in [ModelConfig.QKNorm.head, .full] {
            let model = try TransformerModel(config: config(qkNorm: qkNorm, gain: 2))
            randomizeForGradientCheck(model, seed: 5)
            let results = GradientCheck.check(model.parameters.map(\.tensor), step: 2e-3) {
                model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5).loss
            }
            for (parameter, result) in zip(model.parameters, results) {
                XCTAssertTrue(result.passed, "\(qkNorm) \(parameter.name): \(result)")
            }
        }
    }

    /// A negative gain, or a gain without QK-Norm, is refused in one line naming the key.
    func testRefusals() {
        func message(_ config: ModelConfig) -> String? {
            do {
                try config.validate()
                return nil
            } catch { return "\(error)" }
        }
        XCTAssertEqual(
            message(config(qkNorm: .head, gain: -1)), "qk_norm_gain must be ≥ 0, 0 = learned gains (got -1.0)")
        XCTAssertEqual(
            message(config(qkNorm: .off, gain: 4)),
            "qk_norm_gain (4.0) fixes QK-Norm's gain: it needs qk_norm = \"head\" or \"full\" (got \"off\")")
        XCTAssertNil(message(config(qkNorm: .off, gain: 0)))
    }
}
