import Autograd
import Foundation
import XCTest

/// The ops behind the model families' switches (docs/spec/model.md): the offset RMSNorm gain, the GeGLU
/// MLP, partial RoPE and the scaled embedding, each against finite differences and a reference.
final class FamilyOpTests: XCTestCase {
    /// `norm_weight = "offset"`: gain `1 + w`. Gradients for x and w, and the same values as the
    /// plain form with gain γ = 1 + w.
    func testOffsetRMSNorm() {
        let x = randomTensor([3, 2, 8], seed: 1), w = randomTensor([8], seed: 2, std: 0.3)
        assertGradientsMatch([x, w]) { probe(rmsNorm(x, weight: w, eps: 1e-6, weightOffset: 1)) }
        let headWeight = randomTensor([4], seed: 3, std: 0.3)  // per-head scope
        assertGradientsMatch([x, headWeight]) { probe(rmsNorm(x, weight: headWeight, eps: 1e-6, weightOffset: 1)) }
        let gain = Tensor(shape: [8], values: w.values.map { 1 + $0 })
        XCTAssertEqual(
            rmsNorm(x, weight: w, eps: 1e-6, weightOffset: 1).values, rmsNorm(x, weight: gain, eps: 1e-6).values)
        // w = 0 is the unit gain.
        XCTAssertEqual(
            rmsNorm(x, weight: Tensor(zeros: [8]), eps: 1e-6, weightOffset: 1).values,
            rmsNorm(x, weight: Tensor(filling: 1, shape: [8]), eps: 1e-6).values)
    }

    /// PyTorch's `gelu(approximate="tanh")` at a few points (values from Python's math.tanh): with
    /// gate, up and down the identity, `y_i = act(x_i) · x_i`.
    func testTanhGELUValues() {
        let inputs: [Float] = [-1, 0.5, 2, -3]
        let identity = (0..<4).flatMap { i in (0..<4).map { $0 == i ? Float(1) : 0 } }
        let y = gatedFeedForward(
            Tensor(shape: [1, 4], values: inputs), gateUp: Tensor(shape: [8, 4], values: identity + identity),
            down: Tensor(shape: [4, 4], values: identity), gate: .geluTanh
        ).values
        let geluTanh: [Double] = [-0.15880800939172324, 0.34571400982514394, 1.954597694087775, -0.0036373920817729943]
        for i in 0..<4 {
            XCTAssertEqual(Double(y[i]), geluTanh[i] * Double(inputs[i]), accuracy: 1e-6 * max(1, abs(geluTanh[i])))
        }
    }

    /// `mlp = "geglu"`: gradients for input, both weights and the fused residual, and the values
    /// of the composition with a float64 tanh-GELU.
    func testGeGLUFeedForward() {
        let x = randomTensor([2, 3, 6], seed: 4, std: 2)
        let gateUp = randomTensor([8, 6], seed: 5, std: 0.5), down = randomTensor([6, 4], seed: 6, std: 0.5)
        assertGradientsMatch([x, gateUp, down]) {
            probe(gatedFeedForward(x, gateUp: gateUp, down: down, gate: .geluTanh))
        }
        let residual = randomTensor([2, 3, 6], seed: 7)
        assertGradientsMatch([x, gateUp, down, residual]) {
            probe(gatedFeedForward(x, gateUp: gateUp, down: down, gate: .geluTanh, adding: residual))
        }
        let gate = Tensor(shape: [4, 6], values: Array(gateUp.values[0..<24]))
        let up = Tensor(shape: [4, 6], values: Array(gateUp.values[24...]))
        let g = linear(x, weight: gate).values, u = linear(x, weight: up).values
        let hidden = zip(g, u).map { g, u -> Float in
            let z = 0.7978845608028654 * (Double(g) + 0.044715 * pow(Double(g), 3))
            return Float(0.5 * Double(g) * (1 + tanh(z)) * Double(u))
        }
        let composed = linear(Tensor(shape: [2, 3, 4], values: hidden), weight: down)
        assertClose(
            gatedFeedForward(x, gateUp: gateUp, down: down, gate: .geluTanh).values, composed.values, tolerance: 1e-5)
    }

    /// Partial RoPE: gradient; the first R dims of each head are a full rotation of an R-wide head,
    /// the rest pass through unchanged; R = Dh is the full rotation bit for bit.
    func testPartialRoPE() {
        let x = randomTensor([2, 5, 16], seed: 8)  // 2 heads of Dh = 8
        let partial = RotaryTable(positions: 5, headDim: 8, rotaryDim: 4, theta: 10000)
        assertGradientsMatch([x]) { probe(rope(x, table: partial)) }
        let out = rope(x, table: partial).values
        // The rotated block: the same dims as their own 4-wide heads under a full table of Dh = 4.
        let rows = x.values.count / 8
        let rotatedInput = (0..<rows).flatMap { Array(x.values[($0 * 8)..<($0 * 8 + 4)]) }
        let rotated = rope(
            Tensor(shape: [2, 5, 8], values: rotatedInput),
            table: RotaryTable(positions: 5, headDim: 4, theta: 10000)
        ).values
        for row in 0..<rows {
            XCTAssertEqual(
                Array(out[(row * 8)..<(row * 8 + 4)]), Array(rotated[(row * 4)..<(row * 4 + 4)]),
                "rotated dims, row \(row)")
            XCTAssertEqual(
                Array(out[(row * 8 + 4)..<(row * 8 + 8)]), Array(x.values[(row * 8 + 4)..<(row * 8 + 8)]),
                "passed dims, row \(row)")
        }
        let full = RotaryTable(positions: 5, headDim: 8, theta: 10000)
        let fullByFraction = RotaryTable(positions: 5, headDim: 8, rotaryDim: 8, theta: 10000)
        XCTAssertEqual(rope(x, table: fullByFraction).values, rope(x, table: full).values)
        XCTAssertEqual(
            rope(x, table: fullByFraction, firstPosition: 0).values, rope(x, table: full, firstPosition: 0).values)
    }

    /// `embed_scale`: rows times s, and the table's gradient s · dOut.
    func testScaledEmbedding() {
        let table = randomTensor([5, 3], seed: 9)
        let ids: [Int32] = [1, 4, 1, 0]
        let s = Float(Double(3).squareRoot())
        let out = embedding(ids: ids, idsShape: [2, 2], table: table, scale: s)
        XCTAssertEqual(Array(out.values[3..<6]), Array(table.values[12..<15]).map { $0 * s })
        assertGradientsMatch([table]) { probe(embedding(ids: ids, idsShape: [2, 2], table: table, scale: s)) }
    }
}
