import Autograd
import Training
import Transformer
import XCTest

/// QK-Clip (`QKClip`): the attention's per-head maxima against a brute-force computation, the
/// clip's effect on the same batch's logits, and its config rule.
final class QKClipTests: XCTestCase {
    /// `headScoreMax` is each query head's largest kept q·k/√Dh over the batch rows, for short
    /// sequences (register loops) and long ones (BLAS blocks), with grouped-query attention.
    func testHeadScoreMaxAgainstBruteForce() {
        var random = SeededRandom(seed: 11)
        let (b, heads, kvHeads, dh) = (2, 4, 2, 8)
        for t in [7, 80] {
            func tensor(_ width: Int) -> Tensor {
                Tensor(shape: [b, t, width], values: (0..<(b * t * width)).map { _ in Float(random.nextNormal()) })
            }
            let (q, k, v) = (tensor(heads * dh), tensor(kvHeads * dh), tensor(kvHeads * dh))
            let result = Tape.withoutGradients { causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads) }
            for h in 0..<heads {
                var expected = -Float.infinity
                let g = h / (heads / kvHeads)
                for row in 0..<b {
                    for i in 0..<t {
                        for j in 0...i {
                            var dot: Float = 0
                            for d in 0..<dh {
                                dot +=
                                    q.data[(row * t + i) * heads * dh + h * dh + d]
                                    * k.data[(row * t + j) * kvHeads * dh + g * dh + d]
                            }
                            expected = max(expected, dot / Float(dh).squareRoot())
                        }
                    }
                }
                XCTAssertEqual(result.headScoreMax[h], expected, accuracy: 1e-4 * abs(expected), "T=\(t), head \(h)")
            }
        }
    }

    /// After a clip, the same batch's logits recomputed with the new weights have their maximum at
    /// τ for each clipped head (to rounding); the other heads are untouched. With grouped-query
    /// attention, no head ends above τ and each group's most clipped head ends at τ. One layer:
    /// a later layer's logits would also move with the clipped layer's output.
    func testClippedHeadsEndAtTau() throws {
        for kvHeads in [4, 2] {
            var config = ModelConfig()
            (config.vocabSize, config.dModel, config.nLayer, config.nHead, config.nKVHead) = (20, 32, 1, 4, kvHeads)
            (config.blockSize, config.qkNorm, config.position) = (16, .off, .rope)
            let model = try TransformerModel(config: config)
            for parameter in model.parameters where parameter.name.contains("q_proj") {  // larger logits
                for i in 0..<parameter.tensor.count { parameter.tensor.data[i] *= 20 }
            }
            var random = SeededRandom(seed: 2)
            let tokens = (0..<(3 * 16)).map { _ in Int32(random.nextInt(below: 20)) }
            func scoreMax() -> [[Float]] {
                Tape.withoutGradients { model.forward(tokens: tokens, batch: 3, length: 16).attentionScoreMax }
            }
            let before = scoreMax()
            let tau = before[0].sorted()[1]  // two heads above, two not
            let query = model.parameters.first { $0.name.hasSuffix("q_proj.weight") }!.tensor
            let queryBefore = query.values
            let report = QKClip(model: model, threshold: tau).apply(scoreMax: before)
            for head in 0..<4 {  // the query's share is γ^α, α = 0.5
                let factor = before[0][head] > tau ? (tau / before[0][head]).squareRoot() : 1
                let rows = (head * 8 * 32)..<((head + 1) * 8 * 32)  // Dh = 8 rows of d = 32
                XCTAssertEqual(
                    query.values[rows].map(Double.init), queryBefore[rows].map { Double($0 * factor) },
                    accuracy: 1e-6, "q_proj rows of head \(head)")
            }
            let after = scoreMax()
            XCTAssertEqual(report.clippedHeads, before.map { $0.count { $0 > tau } })
            XCTAssertGreaterThan(report.clippedHeads.reduce(0, +), 0)
            for layer in 0..<1 {
                XCTAssertEqual(report.smallestGamma[layer], before[layer].map { $0 > tau ? tau / $0 : 1 }.min()!)
                let group = 4 / kvHeads
                for kvHead in 0..<kvHeads {
                    let members = (kvHead * group)..<((kvHead + 1) * group)
                    let clipped = members.filter { before[layer][$0] > tau }
                    for head in members {
                        let label = "Hkv=\(kvHeads) layer \(layer) head \(head)"
                        if kvHeads == 4 && !clipped.isEmpty {
                            XCTAssertEqual(after[layer][head], tau, accuracy: 1e-5 * tau, label)
                        } else if clipped.isEmpty {
                            XCTAssertEqual(after[layer][head], before[layer][head], label)
                        } else {
                            XCTAssertLessThanOrEqual(after[layer][head], tau * (1 + 1e-5), label)
                        }
                    }
                    if let most = clipped.max(by: { before[layer][$0] < before[layer][$1] }) {
                        XCTAssertEqual(after[layer][most], tau, accuracy: 1e-5 * tau, "Hkv=\(kvHeads) layer \(layer)")
                    }
                }
            }
        }
    }

    func testConfigRule() {
        XCTAssertEqual(
            validationError(["optim.qk_clip_tau=100"]),
            "[optim] qk_clip_tau needs model.qk_norm = \"off\": QK-Norm normalises q and k after q_proj and k_proj, so QK-Clip's rescale of their rows would change no logit"
        )
        XCTAssertEqual(validationError(["optim.qk_clip_tau=100", "model.qk_norm=off"]), "accepted")
        XCTAssertEqual(
            validationError(["optim.qk_clip_tau=-1"]),
            "--set optim.qk_clip_tau=-1: optim.qk_clip_tau must be ≥ 0.0 (got -1.0)")
    }
}
