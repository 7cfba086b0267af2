import Autograd
import XCTest

final class ElementwiseTests: XCTestCase {
    func testAddMulScaleGradients() {
        let a = randomTensor([3, 4], seed: 1), b = randomTensor([3, 4], seed: 2)
        assertGradientsMatch([a, b]) { probe(add(a, b)) }
        assertGradientsMatch([a, b]) { probe(mul(a, b)) }
        assertGradientsMatch([a]) { probe(scale(a, by: -1.5)) }
    }

    func testActivationGradients() {
        let x = randomTensor([5, 7], seed: 3, std: 2)
        assertGradientsMatch([x]) { probe(silu(x)) }
        assertGradientsMatch([x]) { probe(gelu(x)) }
    }

    /// The fused SwiGLU MLP: gradients for input and both weights, and the same values as the
    /// composition of plain ops (gate rows of the joined weight first, then up rows).
    func testSwiGLUFeedForward() {
        let x = randomTensor([2, 3, 6], seed: 4, std: 2)
        let gateUp = randomTensor([8, 6], seed: 5, std: 0.5), down = randomTensor([6, 4], seed: 6, std: 0.5)
        assertGradientsMatch([x, gateUp, down]) { probe(gatedFeedForward(x, gateUp: gateUp, down: down)) }
        let gate = Tensor(shape: [4, 6], values: Array(gateUp.values[0..<24]))
        let up = Tensor(shape: [4, 6], values: Array(gateUp.values[24...]))
        let composed = linear(mul(silu(linear(x, weight: gate)), linear(x, weight: up)), weight: down)
        assertClose(gatedFeedForward(x, gateUp: gateUp, down: down).values, composed.values, tolerance: 1e-5)
        let residual = randomTensor([2, 3, 6], seed: 7)  // the residual add fused in
        assertClose(
            gatedFeedForward(x, gateUp: gateUp, down: down, adding: residual).values,
            add(residual, composed).values, tolerance: 1e-5)
        assertGradientsMatch([x, gateUp, down, residual]) {
            probe(gatedFeedForward(x, gateUp: gateUp, down: down, adding: residual))
        }
        let recorded = Tape.count
        Tape.withoutGradients { _ = gatedFeedForward(x, gateUp: gateUp, down: down, adding: residual) }
        XCTAssertEqual(Tape.count, recorded)
    }

    func testActivationValues() {
        let x = Tensor(shape: [3], values: [-1, 0, 2])
        assertClose(silu(x).values, [-0.26894142, 0, 1.7615942], tolerance: 1e-6)
        assertClose(gelu(x).values, [-0.15865525, 0, 1.9544997], tolerance: 1e-6)  // exact erf GELU
    }

    func testSumAndMean() {
        let x = randomTensor([4, 5], seed: 6)
        XCTAssertEqual(sum(x).item, x.values.reduce(0, +), accuracy: 1e-5)
        XCTAssertEqual(mean(x).item, x.values.reduce(0, +) / 20, accuracy: 1e-6)
        assertGradientsMatch([x]) { mean(mul(x, x)) }
    }

    /// A tensor used twice receives the sum of both gradients.
    func testGradientsAccumulateOverUses() {
        let x = Tensor(shape: [2], values: [3, -1], requiresGrad: true)
        sum(add(mul(x, x), x)).backward()  // d/dx (x² + x) = 2x + 1
        XCTAssertEqual(x.grad?.values, [7, -1])
        sum(x).backward()  // a second backward adds, it does not replace
        XCTAssertEqual(x.grad?.values, [8, 0])
        x.zeroGrad()
        XCTAssertEqual(x.grad?.values, [0, 0])
    }

    func testNoGradientModeRecordsNothing() {
        let x = randomTensor([3], seed: 7)
        x.requiresGrad = true
        Tape.reset()
        let y = Tape.withoutGradients { silu(mul(x, x)) }
        XCTAssertEqual(Tape.count, 0)
        XCTAssertFalse(y.requiresGrad)
        _ = silu(x)
        XCTAssertEqual(Tape.count, 1)
        Tape.reset()
    }

    /// The checker itself: a deliberately wrong rule (SiLU with σ(x) as its derivative, the
    /// `x·σ(x)(1−σ(x))` term missing) must fail, while the right rule passes.
    func testGradientCheckCatchesAWrongRule() {
        func wrongSilu(_ x: Tensor) -> Tensor {
            let output = Tensor(shape: x.shape, values: x.values.map { $0 / (1 + exp(-$0)) })
            if Tape.needsGradient(x) {
                Tape.record(output) { dOut in
                    let dx = x.gradData()
                    for i in 0..<x.count { dx[i] += dOut[i] / (1 + exp(-x.data[i])) }
                }
            }
            return output
        }
        let x = randomTensor([4, 6], seed: 8, std: 2)
        let wrong = GradientCheck.check([x]) { probe(wrongSilu(x)) }[0]
        XCTAssertFalse(wrong.passed, "wrong rule passed: \(wrong)")
        XCTAssertGreaterThan(wrong.relativeError, 0.1)
        let right = GradientCheck.check([x]) { probe(silu(x)) }[0]
        XCTAssertTrue(right.passed, "\(right)")
        XCTAssertLessThan(right.relativeError, 2e-3)
    }
}
