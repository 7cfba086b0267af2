import Autograd
@testable import Transformer
import XCTest

/// The model's stability telemetry on layouts whose values are known by hand.
final class ModelTelemetryTests: XCTestCase {
    /// With QK-Norm and its gains at their initial value 1, every q and k vector (a head's, or the
    /// whole projection's) has RMS 1 up to eps after the norm, and RoPE rotates pairs without
    /// changing their norm: `q_rms = k_rms = 1` up to eps, `√(ms / (ms + eps))` for a vector of mean
    /// square ms. The tiny model's q and k have ms ≈ 3e-3, so eps is 1e-10 here (with the default
    /// 1e-6 the RMS is 0.9997, eps's own doing).
    func testQueryKeyRMSIsOneUnderQKNormAtInitialisation() throws {
        for qkNorm in [ModelConfig.QKNorm.head, .full] {
            for position in ModelConfig.Position.allCases {
                var config = tinyConfig(qkNorm: qkNorm, position: position, kvHeads: 1)
                config.normEps = 1e-10
                let model = try TransformerModel(config: config)
                let telemetry = try XCTUnwrap(
                    Tape.withoutGradients {
                        model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
                            .telemetry
                    })
                XCTAssertEqual(telemetry.layers.count, 2)
                for value in telemetry.queryRMS + telemetry.keyRMS {
                    XCTAssertEqual(value, 1, accuracy: 1e-5, "\(qkNorm) \(position)")
                }
            }
        }
    }

    /// Measuring changes no number of the step (it only reads), and a step that does not
    /// measure carries no telemetry.
    func testMeasuringLeavesTheStepUnchanged() throws {
        let model = try TransformerModel(config: tinyConfig())
        let plain = model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5)
        let measured = model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
        XCTAssertEqual(plain.loss.item, measured.loss.item)
        XCTAssertEqual(plain.logits.values, measured.logits.values)
        XCTAssertEqual(plain.attentionLogitMax, measured.attentionLogitMax)
        XCTAssertNil(plain.telemetry)
        XCTAssertNotNil(measured.telemetry)
    }

    /// `output_logit_mean` is the mean of the logits the forward pass returns, computed directly.
    func testOutputLogitMeanIsTheLogitsMean() throws {
        let model = try TransformerModel(config: tinyConfig())
        let result = model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
        let logits = result.logits.values
        let direct = logits.reduce(0.0) { $0 + Double($1) } / Double(logits.count)
        XCTAssertEqual(try XCTUnwrap(result.telemetry).outputLogitMean, direct, accuracy: 1e-6)
        XCTAssertNotEqual(direct, 0)
    }

    /// Shards merge their telemetry in shard order into the whole batch's (up to rounding).
    func testShardedTelemetryMatchesTheWholeBatch() throws {
        let model = try TransformerModel(config: tinyConfig())
        let whole = try XCTUnwrap(
            model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true).telemetry)
        model.zeroGradients()
        let sharded = try XCTUnwrap(
            DataParallel(model: model, shards: 2)
                .lossAndGradients(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
                .telemetry)
        for (a, b) in [
            (whole.attentionEntropy, sharded.attentionEntropy),
            (whole.attentionEntropyMin, sharded.attentionEntropyMin),
            (whole.queryRMS, sharded.queryRMS), (whole.keyRMS, sharded.keyRMS),
            (whole.blockOutputRMS, sharded.blockOutputRMS), (whole.largestLogitCosine, sharded.largestLogitCosine),
            (whole.largestLogitQueryNorm, sharded.largestLogitQueryNorm),
            (whole.largestLogitKeyNorm, sharded.largestLogitKeyNorm),
            ([whole.outputLogSumExpMean], [sharded.outputLogSumExpMean]),
            ([whole.outputLogitMean], [sharded.outputLogitMean]),
        ] {
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6) }
        }
        XCTAssertEqual(whole.outputLogitMax, sharded.outputLogitMax, accuracy: 1e-6)
    }

    /// `block_output_rms` is the RMS of each block's output, computed here directly by running the
    /// blocks one by one on the embedded tokens, in every block-norm layout.
    func testBlockOutputRMSIsTheRMSOfEachBlocksOutput() throws {
        for blockNorm in ModelConfig.BlockNorm.allCases {
            let model = try TransformerModel(config: tinyConfig(blockNorm: blockNorm))
            randomizeForGradientCheck(model, seed: 5)
            let measured = try XCTUnwrap(
                Tape.withoutGradients {
                    model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
                        .telemetry
                }
            ).blockOutputRMS
            var x = embedding(ids: tinyTokens, idsShape: [2, 5], table: model.embedTokens)  // [B, T, d]
            var direct: [Double] = []
            for layer in model.layers {
                x = Tape.withoutGradients { layer.forward(x, config: model.config, rotary: model.rotary).output }
                direct.append((x.values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot())
            }
            XCTAssertEqual(measured.count, 2)
            for (a, b) in zip(measured, direct) { XCTAssertEqual(a, b, accuracy: 1e-6 * b, "\(blockNorm)") }
            XCTAssertNotEqual(direct[0], direct[1])
        }
    }

    /// Each layer's `attn_logit_max` = s·‖q‖·‖k‖·|cos| at its pair up to rounding, s the scale
    /// the model uses (`attention_scale`), with and without QK-Norm, a soft-cap and a window.
    func testLargestLogitPairGivesEachLayersLogitMax() throws {
        var configs = [tinyConfig(qkNorm: .off), tinyConfig(qkNorm: .full, kvHeads: 1)]
        configs.append(configs[0])
        configs[2].attentionScale = .inverseHeadDim
        configs.append(tinyConfig())
        (configs[3].attnSoftcap, configs[3].slidingWindow) = (0.5, 2)
        for config in configs {
            let model = try TransformerModel(config: config)
            randomizeForGradientCheck(model, seed: 9)
            let result = Tape.withoutGradients {
                model.loss(tokens: tinyTokens, targets: tinyTargets, batch: 2, length: 5, measuring: true)
            }
            let layers = try XCTUnwrap(result.telemetry).layers
            for (logitMax, statistics) in zip(result.attentionLogitMax, layers) {
                let pair = statistics.largestLogitPair
                XCTAssertEqual(pair.logit, logitMax)
                XCTAssertEqual(
                    Double(config.attentionScoreScale) * pair.queryNorm * pair.keyNorm * abs(pair.cosine),
                    Double(logitMax), accuracy: 1e-6 * Double(logitMax), "\(config.qkNorm) \(config.attentionScale)")
            }
        }
    }
}
