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
        XCTAssertEqual(schedule.rate(at: 60), 5.5e-4, accuracy: 1e-12)  // halfway: (max + min) / 2
        XCTAssertEqual(schedule.rate(at: 35), 1e-4 + 0.5 * (1 + cos(Double.pi / 4)) * 9e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 110), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(schedule.rate(at: 500), 1e-4)
        // The end of the warmup is the configured lr exactly, the end of the decay min_lr exactly,
        // for every warmup length (3e-4 · 105 / 105 rounds to 0.00030000000000000003).
        for warmup in 1...400 {
            let exact = LearningRateSchedule(peak: 3e-4, minimum: 3e-5, warmupSteps: warmup, decaySteps: warmup + 50)
            XCTAssertEqual(exact.rate(at: warmup), 3e-4, "warmup_steps \(warmup)")
            XCTAssertEqual(exact.rate(at: warmup + 50), 3e-5, "warmup_steps \(warmup)")
        }
        var config = TrainingConfig()
        config.optim.lr = 2e-3
        config.train.maxSteps = 300
        XCTAssertEqual(
            LearningRateSchedule(config),
            LearningRateSchedule(peak: 2e-3, minimum: 2e-4, warmupSteps: 100, decaySteps: 300))
    }

    /// Two AdamW steps on a matrix (decayed) and a norm weight (not decayed), against values
    /// worked out by hand from docs/spec/model.md's formulas.
    func testAdamWAgainstHandComputedSteps() {
        let matrix = Tensor(shape: [1, 2], values: [1, -2], requiresGrad: true)
        let norm = Tensor(shape: [1], values: [1], requiresGrad: true)
        let parameters = [
            NamedParameter(name: "w", tensor: matrix, layer: nil, initialization: .normal(std: 1)),
            NamedParameter(name: "n", tensor: norm, layer: nil, initialization: .ones),
        ]
        var config = OptimizerConfig()
        config.beta1 = 0.9
        config.beta2 = 0.95
        config.eps = 1e-8
        config.weightDecay = 0.1
        let optimizer = AdamW(parameters: parameters, config: config)
        matrix.grad = Tensor(shape: [1, 2], values: [0.5, 0.25])
        norm.grad = Tensor(shape: [1], values: [-1])
        optimizer.step(learningRate: 0.1, gradientScale: 1)
        // step 1: m̂ = g, v̂ = g² ⇒ update = lr · g/|g| = ±0.1; decay first: p·(1 − 0.01)
        assertValues(matrix.values, [1 * 0.99 - 0.1, -2 * 0.99 - 0.1])
        assertValues(norm.values, [1 + 0.1])
        matrix.grad = Tensor(shape: [1, 2], values: [0.5, 0.25])
        norm.grad = Tensor(shape: [1], values: [-1])
        optimizer.step(learningRate: 0.1, gradientScale: 0.5)  // clipped: g·0.5
        // step 2 for w[0]: g = 0.25; m = 0.9·0.05 + 0.1·0.25 = 0.07; v = 0.95·0.0125 + 0.05·0.0625 = 0.015
        // m̂ = 0.07/0.19, v̂ = 0.015/0.0975; update = 0.1 · m̂/√v̂
        let m = 0.07 / 0.19, v = 0.015 / 0.0975
        let expected0 = (1 * 0.99 - 0.1) * 0.99 - 0.1 * m / (v.squareRoot() + 1e-8)
        XCTAssertEqual(Double(matrix.values[0]), expected0, accuracy: 1e-6)
        XCTAssertEqual(optimizer.stepCount, 2)
    }

    /// Independent weight decay (Wortsman et al. 2023): p ← p·(1 − lr(s)/lr·wd), not scaled by the
    /// peak. Peak 0.1, step rate 0.05, wd 1e-4: factor 1 − 0.5·1e-4 = 0.99995 (coupled would give
    /// 1 − 0.05·1e-4 = 0.999995). Step 1's Adam update is lr·sign(g) = ±0.05.
    func testIndependentWeightDecayFollowsTheScheduleNotThePeak() {
        let matrix = Tensor(shape: [1, 2], values: [2, -4], requiresGrad: true)
        var config = OptimizerConfig()
        config.lr = 0.1
        config.weightDecay = 1e-4
        config.weightDecayMode = .independent
        let optimizer = AdamW(
            parameters: [NamedParameter(name: "w", tensor: matrix, layer: nil, initialization: .normal(std: 1))],
            config: config)
        XCTAssertEqual(Double(optimizer.decayFactor(learningRate: 0.05)), 0.99995, accuracy: 1e-7)  // Float32
        matrix.grad = Tensor(shape: [1, 2], values: [1, -1])
        optimizer.step(learningRate: 0.05, gradientScale: 1)
        assertValues(matrix.values, [2 * 0.99995 - 0.05, -4 * 0.99995 + 0.05])
        config.weightDecayMode = .coupled
        let coupled = AdamW(
            parameters: [NamedParameter(name: "w", tensor: matrix, layer: nil, initialization: .normal(std: 1))],
            config: config)
        XCTAssertEqual(Double(coupled.decayFactor(learningRate: 0.05)), 0.999995, accuracy: 1e-7)
    }

    /// `decay_norm_weights` (Qwen3-Next) decays 1-D norm weights too: wd 0.1 at lr 0.1 (coupled)
    /// gives 1·0.99 + 0.1 = 1.09 after a step with gradient −1; without it 1 + 0.1 = 1.1. A bias
    /// (`attention_bias`) is never decayed.
    func testDecayNormWeightsDecaysNormWeights() {
        let cases: [(NamedParameter.Initialization, Bool, Double)] = [
            (.ones, true, 1 * 0.99 + 0.1), (.ones, false, 1 + 0.1),
            (.bias, true, 1 + 0.1), (.bias, false, 1 + 0.1),  // a bias (attention_bias) never decays
        ]
        for (initialization, decayNorms, expected) in cases {
            let norm = Tensor(shape: [1], values: [1], requiresGrad: true)
            var config = OptimizerConfig()
            config.weightDecay = 0.1
            config.decayNormWeights = decayNorms
            let optimizer = AdamW(
                parameters: [NamedParameter(name: "n", tensor: norm, layer: nil, initialization: initialization)],
                config: config)
            norm.grad = Tensor(shape: [1], values: [-1])
            optimizer.step(learningRate: 0.1, gradientScale: 1)
            assertValues(norm.values, [expected])
        }
    }

    /// The config keys: defaults as before (coupled, norms not decayed), values read and written.
    func testWeightDecayKeys() throws {
        let defaults = TrainingConfig()
        XCTAssertEqual(defaults.optim.weightDecayMode, .coupled)
        XCTAssertFalse(defaults.optim.decayNormWeights)
        let config = try ConfigLoader.parse(
            "[optim]\nweight_decay_mode = \"independent\"\ndecay_norm_weights = true\n", source: "test.toml")
        XCTAssertEqual(config.optim.weightDecayMode, .independent)
        XCTAssertTrue(config.optim.decayNormWeights)
        XCTAssertThrowsError(
            try ConfigLoader.parse("[optim]\nweight_decay_mode = \"decoupled\"\n", source: "test.toml")
        ) { error in
            XCTAssertTrue("\(error)".contains("weight_decay_mode"), "\(error)")
        }
    }

    /// Non-embedding parameters of docs/spec/model.md's layout by hand: d = 8, 2 layers, 2 heads (Dh 4),
    /// qk_norm head, swiglu F = round_up(8·8/3, 32) = 32, tied. Per layer: q, k, v, o 4·64 = 256;
    /// q_norm, k_norm 4 + 4 = 8; two block norms 16; MLP 3·32·8 = 768: 1048. Two layers 2096,
    /// final norm 8: 2104. The embedding (V·8) is not counted.
    func testNonEmbeddingParameterCount() throws {
        var model = ModelConfig()
        model.dModel = 8
        model.nLayer = 2
        model.nHead = 2
        model.vocabSize = 11
        model.blockSize = 4
        let parameters = try TransformerModel(config: model).parameters
        XCTAssertEqual(parameters.nonEmbeddingScalarCount, 2104)
        XCTAssertEqual(parameters.scalarCount, 2104 + 11 * 8)
        model.tieEmbeddings = false
        model.position = .learned
        let untied = try TransformerModel(config: model).parameters
        XCTAssertEqual(untied.nonEmbeddingScalarCount, 2104, "head and learned positions are embeddings too")
        XCTAssertEqual(untied.scalarCount, 2104 + 2 * 11 * 8 + 4 * 8)
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
