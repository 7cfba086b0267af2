import Autograd
import Training
import Transformer
import XCTest

final class OptimizerTests: XCTestCase {
    func testScheduleAgainstHandValues() {
        let schedule = LearningRateSchedule(peak: 1e-3, minimum: 1e-4, warmupSteps: 10, decaySteps: 110)
        XCTAssertEqual(schedule.rate(at: 1), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 5), 5e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 10), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 60), 5.5e-4, accuracy: 1e-12)          // halfway: (max + min) / 2
        XCTAssertEqual(schedule.rate(at: 35), 1e-4 + 0.5 * (1 + cos(Double.pi / 4)) * 9e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 110), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 500), 1e-4)
        var config = TrainingConfig()
        config.optim.lr = 2e-3
        config.train.maxSteps = 300
        XCTAssertEqual(LearningRateSchedule(config), LearningRateSchedule(peak: 2e-3, minimum: 2e-4, warmupSteps: 100, decaySteps: 300))
    }

    /// Two AdamW steps on a matrix (decayed) and a norm weight (not decayed), against values
    /// worked out by hand from model.md's formulas.
    func testAdamWAgainstHandComputedSteps() {
        let matrix = Tensor(shape: [1, 2], values: [1, -2], requiresGrad: true)
        let norm = Tensor(shape: [1], values: [1], requiresGrad: true)
        let parameters = [NamedParameter(name: "w", tensor: matrix, layer: nil, initialization: .normal(std: 1)),
                          NamedParameter(name: "n", tensor: norm, layer: nil, initialization: .ones)]
        var config = OptimizerConfig()
        config.beta1 = 0.9; config.beta2 = 0.95; config.eps = 1e-8; config.weightDecay = 0.1
        let optimizer = AdamW(parameters: parameters, config: config)
        matrix.grad = Tensor(shape: [1, 2], values: [0.5, 0.25])
        norm.grad = Tensor(shape: [1], values: [-1])
        optimizer.step(learningRate: 0.1, gradientScale: 1)
        // step 1: m̂ = g, v̂ = g² ⇒ update = lr · g/|g| = ±0.1; decay first: p·(1 − 0.01)
        assertValues(matrix.values, [1 * 0.99 - 0.1, -2 * 0.99 - 0.1])
        assertValues(norm.values, [1 + 0.1])
        matrix.grad = Tensor(shape: [1, 2], values: [0.5, 0.25])
        norm.grad = Tensor(shape: [1], values: [-1])
        optimizer.step(learningRate: 0.1, gradientScale: 0.5)   // clipped: g·0.5
        // step 2 for w[0]: g = 0.25; m = 0.9·0.05 + 0.1·0.25 = 0.07; v = 0.95·0.0125 + 0.05·0.0625 = 0.015
        // m̂ = 0.07/0.19, v̂ = 0.015/0.0975; update = 0.1 · m̂/√v̂
        let m = 0.07 / 0.19, v = 0.015 / 0.0975
        let expected0 = (1 * 0.99 - 0.1) * 0.99 - 0.1 * m / (v.squareRoot() + 1e-8)
        XCTAssertEqual(Double(matrix.values[0]), expected0, accuracy: 1e-6)
        XCTAssertEqual(optimizer.stepCount, 2)
    }

    func testClipFactor() {
        XCTAssertEqual(AdamW.clipFactor(gradientNorm: 4, clip: 1), Float(1 / (4 + 1e-6)))
        XCTAssertEqual(AdamW.clipFactor(gradientNorm: 0.5, clip: 1), 1)
        XCTAssertEqual(AdamW.clipFactor(gradientNorm: 100, clip: 0), 1, "clip 0 = off")
    }

    func assertValues(_ actual: [Float], _ expected: [Double], file: StaticString = #filePath, line: UInt = #line) {
        for (a, e) in zip(actual, expected) { XCTAssertEqual(Double(a), e, accuracy: 1e-6, file: file, line: line) }
    }
}
