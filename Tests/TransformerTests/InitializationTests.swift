import Autograd
import Foundation
import Transformer
import XCTest

/// `init = "fan_in"` (Wortsman et al. 2023 §2.1): every matrix a truncated normal of standard
/// deviation 1/√fan-in, the embeddings N(0, 1/√d); and `"normal"`, model.md's N(0, 0.02).
final class InitializationTests: XCTestCase {
    /// d = 256, one layer, untied: every matrix large enough for its measured std to be within a
    /// fraction of a percent of the true one (std of an estimate ≈ 1/√(2n)).
    func wideConfig(mlp: ModelConfig.MLP, position: ModelConfig.Position = .rope) -> ModelConfig {
        var config = ModelConfig()
        (config.vocabSize, config.blockSize, config.dModel, config.nLayer, config.nHead) = (65, 64, 256, 1, 4)
        (config.mlp, config.position, config.tieEmbeddings, config.initialization) = (mlp, position, false, .fanIn)
        return config
    }

    func standardDeviation(_ tensor: Tensor) -> (std: Double, mean: Double, largest: Double) {
        let values = tensor.values.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        return (variance.squareRoot(), mean, values.map(abs).max()!)
    }

    /// The truncated normal's constant is the standard deviation of a standard normal on (−2, 2):
    /// 1 − 2·2·φ(2)/(Φ(2) − Φ(−2)) under the root.
    func testTruncatedNormalConstant() {
        let density = exp(-2.0) / (2 * Double.pi).squareRoot()  // φ(2)
        let mass = erf(2 / 2.0.squareRoot())  // Φ(2) − Φ(−2)
        XCTAssertEqual((1 - 4 * density / mass).squareRoot(), SeededRandom.truncatedNormalStd, accuracy: 1e-15)
    }

    /// At d = 256 every matrix's measured std is within 2% of 1/√fan-in (the truncated normal's
    /// own std: the samples are rescaled so that it is exactly that), no sample beyond the ±2σ
    /// truncation of the underlying normal (σ = std/0.8796); the embeddings are N(0, 1/√d),
    /// untruncated (samples beyond 2σ exist).
    func testFanInStandardDeviations() throws {
        for (mlp, position) in [(ModelConfig.MLP.gelu, ModelConfig.Position.learned), (.swiglu, .rope)] {
            let model = try TransformerModel(config: wideConfig(mlp: mlp, position: position))
            var seen: Set<String> = []
            for parameter in model.parameters where parameter.tensor.shape.count == 2 {
                let name = parameter.name, fanIn = parameter.tensor.shape[1]
                let target = 1 / Double(fanIn).squareRoot()
                let measured = standardDeviation(parameter.tensor)
                XCTAssertEqual(measured.std / target, 1, accuracy: 0.02, "\(name): std \(measured.std), 1/√\(fanIn)")
                XCTAssertEqual(measured.mean, 0, accuracy: 4 * target / Double(parameter.tensor.count).squareRoot())
                if name.hasPrefix("model.embed_") {
                    XCTAssertEqual(parameter.initialization, .normal(std: Float(target)), name)
                    XCTAssertEqual(fanIn, 256)
                    XCTAssertGreaterThan(measured.largest, 2.4 * target, "\(name) is not truncated")
                } else {
                    XCTAssertEqual(parameter.initialization, .truncatedNormal(std: Float(target)), name)
                    XCTAssertLessThan(measured.largest, 2 * target / SeededRandom.truncatedNormalStd, name)
                }
                seen.insert(name.split(separator: ".").dropLast().last.map(String.init) ?? name)
            }
            let matrices = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "lm_head", "embed_tokens"]
            XCTAssertTrue(seen.isSuperset(of: matrices), "\(mlp): \(seen)")
            XCTAssertTrue(seen.contains("gate_proj") == mlp.isGated)
            XCTAssertTrue(seen.contains("embed_positions") == (position == .learned))
        }
    }

    /// `fan_in` is a pure function of the seed, like `normal`; `normal` is model.md's N(0, 0.02)
    /// with the residual outputs at 0.02/√(2L) and nothing truncated.
    func testSeededAndNormalUnchanged() throws {
        var config = tinyConfig(tie: false)
        config.initialization = .fanIn
        let a = try TransformerModel(config: config), b = try TransformerModel(config: config)
        XCTAssertEqual(a.parameterBuffer.values, b.parameterBuffer.values)
        config.seed += 1
        XCTAssertNotEqual(a.parameterBuffer.values, try TransformerModel(config: config).parameterBuffer.values)
        let normal = try TransformerModel(config: tinyConfig(tie: false))
        let residual = Float(0.02 / 2.0)  // 0.02/√(2·2)
        for parameter in normal.parameters where parameter.tensor.shape.count == 2 {
            let isResidual = parameter.name.contains("o_proj") || parameter.name.contains("down_proj")
            XCTAssertEqual(parameter.initialization, .normal(std: isResidual ? residual : 0.02), parameter.name)
        }
    }
}
