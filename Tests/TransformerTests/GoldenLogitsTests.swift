import Autograd
import Foundation
import Transformer
import XCTest

/// Logits and the stability telemetry of one forward pass against an independent numpy
/// implementation of docs/spec/model.md and docs/metrics.md (`scripts/golden_model.py`, float64), on committed
/// fixtures: weights, tokens, expected logits and telemetry for seven layouts (the family
/// switches included: Gemma 3's sandwich, offset gains, GeGLU and embedding scale; Qwen3-Next's
/// offset gains and quarter rotation; MiniMax-M2's full-width QK-Norm with half rotation).
final class GoldenLogitsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Parameter: Decodable {
            let name: String
            let shape: [Int]
            let data: [Float]
        }
        struct Logits: Decodable {
            let shape: [Int]
            let data: [Double]
        }
        let name: String
        let config: ModelConfig
        let tokens: [[Int32]]
        let targets: [[Int32]]
        let params: [Parameter]
        let logits: Logits
        let ce_loss: Double
        let loss: Double
        let attn_logit_max: [Double]
        let telemetry: Telemetry
    }

    struct Telemetry: Decodable {
        let attn_entropy: [Double], attn_entropy_min: [Double], q_rms: [Double], k_rms: [Double]
        let output_logit_max: Double, output_lse_mean: Double
    }

    func check(_ name: String) throws {
        let url = try XCTUnwrap(
            Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
            "fixture \(name).json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let model = try TransformerModel(config: fixture.config)
        XCTAssertEqual(model.parameters.map(\.name), fixture.params.map(\.name), "parameter names and order")
        for (parameter, stored) in zip(model.parameters, fixture.params) {
            XCTAssertEqual(parameter.tensor.shape, stored.shape, parameter.name)
            stored.data.withUnsafeBufferPointer {
                parameter.tensor.data.update(from: $0.baseAddress!, count: parameter.tensor.count)
            }
        }
        let (batch, length) = (fixture.tokens.count, fixture.tokens[0].count)
        let result = Tape.withoutGradients {
            model.loss(
                tokens: fixture.tokens.flatMap { $0 }, targets: fixture.targets.flatMap { $0 }, batch: batch,
                length: length,
                measuring: true)
        }
        XCTAssertEqual(result.logits.shape, fixture.logits.shape)
        let worst = zip(result.logits.values, fixture.logits.data).map { abs(Double($0) - $1) }.max()!
        XCTAssertLessThan(worst, 1e-4, "\(name): max |Δ logits| = \(worst)")
        XCTAssertEqual(Double(result.crossEntropy), fixture.ce_loss, accuracy: 1e-5, name)
        XCTAssertEqual(Double(result.loss.item), fixture.loss, accuracy: 1e-5, name)
        for (ours, theirs) in zip(result.attentionLogitMax, fixture.attn_logit_max) {
            XCTAssertEqual(Double(ours), theirs, accuracy: 1e-4 * max(1, theirs), "\(name) attn_logit_max")
        }
        let telemetry = try XCTUnwrap(result.telemetry)
        let expected = fixture.telemetry
        for (key, ours, theirs) in [
            ("attn_entropy", telemetry.attentionEntropy, expected.attn_entropy),
            ("attn_entropy_min", telemetry.attentionEntropyMin, expected.attn_entropy_min),
            ("q_rms", telemetry.queryRMS, expected.q_rms), ("k_rms", telemetry.keyRMS, expected.k_rms),
            ("output_logit_max", [Double(telemetry.outputLogitMax)], [expected.output_logit_max]),
            ("output_lse_mean", [telemetry.outputLogSumExpMean], [expected.output_lse_mean]),
        ] {
            XCTAssertEqual(ours.count, theirs.count, "\(name) \(key)")
            for (a, b) in zip(ours, theirs) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * abs(b), "\(name) \(key): \(ours) vs \(theirs)")
            }
        }
    }

    func testQwen3Layout() throws { try check("qwen3") }
    func testLlamaLayout() throws { try check("llama") }
    func testOLMo2Layout() throws { try check("olmo2") }
    func testGELULearnedPositionsLayout() throws { try check("gelu_learned") }
    func testGemma3Layout() throws { try check("gemma3") }
    func testQwen3NextLayout() throws { try check("qwen3_next") }
    func testMiniMaxM2Layout() throws { try check("minimax_m2") }
}
