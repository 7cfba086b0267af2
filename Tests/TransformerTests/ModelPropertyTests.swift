import Autograd
import Transformer
import XCTest

final class ModelPropertyTests: XCTestCase {
    /// Changing token t never changes the logits at positions before t.
    func testCausality() throws {
        for blockNorm in ModelConfig.BlockNorm.allCases {
            for position in ModelConfig.Position.allCases {
                let model = try TransformerModel(config: tinyConfig(blockNorm: blockNorm, position: position))
                randomizeForGradientCheck(model, seed: 1)
                let base: [Int32] = [1, 2, 3, 4, 5]
                let reference = Tape.withoutGradients { model.forward(tokens: base, batch: 1, length: 5).logits.values }
                for t in 0..<5 {
                    var changed = base
                    changed[t] = (changed[t] + 3) % 7
                    let logits = Tape.withoutGradients {
                        model.forward(tokens: changed, batch: 1, length: 5).logits.values
                    }
                    XCTAssertEqual(Array(logits[0..<(t * 7)]), Array(reference[0..<(t * 7)]), "position \(t)")
                    XCTAssertNotEqual(Array(logits[(t * 7)...]), Array(reference[(t * 7)...]))
                }
            }
        }
    }

    /// After RoPE, q·k depends only on the distance between the two positions.
    func testRoPEScoresDependOnlyOnRelativePosition() {
        let headDim = 8, length = 12
        var random = SeededRandom(seed: 5)
        let qVector = (0..<headDim).map { _ in Float(random.nextNormal()) }
        let kVector = (0..<headDim).map { _ in Float(random.nextNormal()) }
        // The same q (and k) vector at every position, so only the rotation differs.
        let table = RotaryTable(positions: length, headDim: headDim, theta: 10000)
        let q = rope(
            Tensor(shape: [1, length, headDim], values: Array((0..<length).map { _ in qVector }.joined())), table: table
        )
        let k = rope(
            Tensor(shape: [1, length, headDim], values: Array((0..<length).map { _ in kVector }.joined())), table: table
        )
        func score(_ m: Int, _ n: Int) -> Float {
            (0..<headDim).reduce(0) { $0 + q.data[m * headDim + $1] * k.data[n * headDim + $1] }
        }
        for (m, n) in [(3, 1), (5, 5), (2, 7)] {
            for shift in [1, 4] {
                XCTAssertEqual(
                    score(m, n), score(m + shift, n + shift), accuracy: 1e-4, "(\(m),\(n)) shifted by \(shift)")
            }
        }
        XCTAssertNotEqual(score(3, 1), score(3, 2), accuracy: 1e-3)
    }

    /// QK-Norm makes attention invariant to the scale of W_q and W_k: ×10 leaves the logits (and
    /// so the attention probabilities) unchanged; without QK-Norm they change.
    func testQKNormMakesAttentionScaleInvariant() throws {
        for qkNorm in ModelConfig.QKNorm.allCases {
            let model = try TransformerModel(config: tinyConfig(qkNorm: qkNorm))
            randomizeForGradientCheck(model, seed: 2)
            let before = Tape.withoutGradients { model.forward(tokens: tinyTokens, batch: 2, length: 5) }
            for parameter in model.parameters
            where parameter.name.hasSuffix("q_proj.weight") || parameter.name.hasSuffix("k_proj.weight") {
                for i in 0..<parameter.tensor.count { parameter.tensor.data[i] *= 10 }
            }
            let after = Tape.withoutGradients { model.forward(tokens: tinyTokens, batch: 2, length: 5) }
            let change = zip(before.logits.values, after.logits.values).map { abs($0 - $1) }.max()!
            if qkNorm == .off {
                XCTAssertGreaterThan(change, 1e-2)
                XCTAssertGreaterThan(after.attentionLogitMax[0], 50 * before.attentionLogitMax[0])
            } else {
                XCTAssertLessThan(change, 1e-4, "\(qkNorm)")
                for (a, b) in zip(before.attentionLogitMax, after.attentionLogitMax) {
                    XCTAssertEqual(a, b, accuracy: 1e-4)
                }
            }
        }
    }

    /// A prefix of any length gives the same logits as the first positions of a longer sequence.
    func testPrefixForward() throws {
        let model = try TransformerModel(config: tinyConfig())
        randomizeForGradientCheck(model, seed: 4)
        let full = Tape.withoutGradients {
            model.forward(tokens: [1, 2, 3, 4, 5, 6], batch: 1, length: 6).logits.values
        }
        for length in 1...6 {
            let prefix = Tape.withoutGradients {
                model.forward(tokens: Array([1, 2, 3, 4, 5, 6][0..<length]), batch: 1, length: length).logits.values
            }
            XCTAssertEqual(prefix.count, length * 7)
            for (a, b) in zip(prefix, full) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
    }

    func testInitialisationIsAPureFunctionOfSeed() throws {
        let a = try TransformerModel(config: tinyConfig()), b = try TransformerModel(config: tinyConfig())
        var other = tinyConfig()
        other.seed = 8
        let c = try TransformerModel(config: other)
        XCTAssertEqual(a.parameters.map(\.tensor.values), b.parameters.map(\.tensor.values))
        XCTAssertNotEqual(a.parameters[0].tensor.values, c.parameters[0].tensor.values)
    }

    func testInitialisationScales() throws {
        var config = ModelConfig()
        config.nLayer = 8
        let model = try TransformerModel(config: config)
        func std(_ name: String) -> Double {
            let v = model.parameter(named: name)!.tensor.values.map(Double.init)
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        XCTAssertEqual(std("model.embed_tokens.weight"), 0.02, accuracy: 0.002)
        XCTAssertEqual(std("model.layers.3.self_attn.q_proj.weight"), 0.02, accuracy: 0.001)
        XCTAssertEqual(std("model.layers.3.self_attn.o_proj.weight"), 0.005, accuracy: 0.0003)  // 0.02/√16
        XCTAssertEqual(std("model.layers.3.mlp.down_proj.weight"), 0.005, accuracy: 0.0003)
        XCTAssertEqual(
            model.parameter(named: "model.layers.3.self_attn.q_norm.weight")!.tensor.values,
            Array(repeating: 1, count: 32))
    }
}

final class ParameterBufferTests: XCTestCase {
    /// In every layout, the parameters are consecutive slices of the parameter buffer, in
    /// `parameters` order with nothing between them, and their gradients the same slices of the
    /// gradient buffer; `zeroGradients` clears them all.
    func testParametersAreConsecutiveSlicesOfOneBuffer() throws {
        for config in everyTinyLayout(kvHeads: 1) {
            let model = try TransformerModel(config: config)
            var offset = 0
            for parameter in model.parameters {
                XCTAssertEqual(parameter.tensor.data, model.parameterBuffer.data + offset, parameter.name)
                XCTAssertEqual(parameter.tensor.grad?.data, model.gradientBuffer.data + offset, parameter.name)
                offset += parameter.tensor.count
            }
            XCTAssertEqual(offset, model.parameterBuffer.count)
            XCTAssertEqual(Double(offset), config.parameterCount)
            model.gradientBuffer.data.update(repeating: 3, count: offset)
            model.zeroGradients()
            XCTAssertEqual(model.parameters.gradientNorm(), 0)
        }
    }
}
