import Autograd
import Formats
import Foundation
import TestSupport
@testable import Training
import Transformer
import XCTest

/// The per-matrix telemetry (`grad_rms_*`, `update_rms_*`, `param_rms_*`) against the same numbers
/// computed directly from a measured step's gradients and weights.
final class MatrixTelemetryTests: SmokeRunTestCase {
    func trainer(_ overrides: [String], in name: String) throws -> Trainer {
        try Trainer(config: try smokeConfig(overrides), folder: folder(name), configSource: "test")
    }

    static func rms(_ values: [Float]) -> Double {
        (values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(values.count)).squareRoot()
    }

    /// One measured step: each tracked matrix's gradient RMS is √(mean g²) of its gradient (left in
    /// place after the step), its update RMS √(mean Δθ²)/lr and its parameter RMS √(mean θ²) before.
    func testMatrixRMSMatchesDirectComputation() throws {
        let trainer = try trainer(["optim.warmup_steps=0", "optim.grad_clip=1e-3"], in: "run")
        let names = ["self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj", "mlp.down_proj"]
        func tensor(_ layer: Int, _ name: String) -> Tensor {
            trainer.model.parameters.first { $0.name == "model.layers.\(layer).\(name).weight" }!.tensor
        }
        let before = (0..<2).map { layer in names.map { tensor(layer, $0).values } }
        let record = trainer.trainStep(measuring: true)
        let matrices = try XCTUnwrap(record.telemetry?.matrices)
        let updateRMS = try XCTUnwrap(matrices.updateRMS), parameterRMS = try XCTUnwrap(matrices.parameterRMS)
        XCTAssertEqual(matrices.keyedValues.count, 12)
        for layer in 0..<2 {
            for (matrix, name) in names.enumerated() {
                let weight = tensor(layer, name)
                let gradient = Self.rms(try XCTUnwrap(weight.grad).values)
                let update = Self.rms(zip(weight.values, before[layer][matrix]).map { $0 - $1 })
                XCTAssertEqual(matrices.gradientRMS[matrix][layer], gradient, accuracy: 1e-6 * gradient, name)
                XCTAssertEqual(
                    updateRMS[matrix][layer], update / record.learningRate,
                    accuracy: 1e-5 * update / record.learningRate,
                    name)
                let parameter = Self.rms(before[layer][matrix])
                XCTAssertEqual(parameterRMS[matrix][layer], parameter, accuracy: 1e-6 * parameter, name)
            }
        }
        // Clipping (to 1e-3 here) scales the update, never the logged gradient RMS.
        XCTAssertGreaterThan(record.gradientNorm, 1e-3)
        XCTAssertNil(trainer.trainStep(measuring: false).telemetry)
    }

    /// A GELU MLP has no gate: its first matrix is `up_proj`.
    func testTheFirstMLPMatrixOfAGELUModelIsUpProj() throws {
        let trainer = try trainer(["model.mlp=gelu"], in: "gelu")
        let tracked = TrackedMatrices(parameters: trainer.model.parameters, layerCount: 2)
        XCTAssertEqual(
            tracked.indices[2].map { trainer.model.parameters[$0].name },
            ["model.layers.0.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"])
    }

    /// The numbers one process sends another decode to the telemetry that was written, output
    /// sums (`output_logit_mean`'s among them) included.
    func testMeasuredTelemetryRoundTripsThroughTheExchangedNumbers() throws {
        let model = try trainer([], in: "numbers").model
        let tokens: [Int32] = [1, 5, 2, 2, 6, 0, 3, 4, 1, 5]
        let shard = DataParallel(model: model, shards: 1).lossAndGradients(
            tokens: tokens, targets: tokens.reversed(), batch: 2, length: 5, measuring: true)
        let (layers, heads) = (model.config.nLayer, model.config.nHead)
        var numbers = [Double](repeating: .nan, count: ShardedLoss.numberCount(layers: layers, heads: heads))
        numbers.withUnsafeMutableBufferPointer { shard.write(into: $0, heads: heads) }
        let decoded = ShardedLoss(numbers: numbers[...], layers: layers, heads: heads)
        XCTAssertEqual(decoded.telemetry, shard.telemetry)
        XCTAssertNotEqual(try XCTUnwrap(decoded.telemetry).output.logitSum, 0)
    }
}
