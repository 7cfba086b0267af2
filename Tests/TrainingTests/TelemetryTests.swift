import Autograd
import Formats
import Foundation
import TestSupport
import Training
import Transformer
import XCTest

/// The trainer's stability telemetry: hand-computable pieces (bigram loss, update ratio) and where
/// it is recorded (logged steps only, TensorBoard, the non-finite report).
final class TelemetryTests: ScratchTestCase {
    /// Training split a b a b (ids 0 1 0 1), V = 2: n(a→b) = 2, n(b→a) = 1, n(a) = 2, n(b) = 1.
    /// Validation a b a: p(b|a) = (2+1)/(2+2) = 3/4 and p(a|b) = (1+1)/(1+2) = 2/3, so the loss is
    /// −(ln 3/4 + ln 2/3)/2 = (0.2876821 + 0.4054651) / 2 = 0.3465736.
    func testBigramLossByHand() {
        let loss = BigramLoss.of(train: [0, 1, 0, 1], validation: [0, 1, 0], vocabularySize: 2)
        XCTAssertEqual(loss, -(log(0.75) + log(2.0 / 3.0)) / 2, accuracy: 1e-12)
        XCTAssertEqual(loss, 0.3465736, accuracy: 1e-7)
        // An unseen transition gets the add-one mass 1/(n(a)+V): b→b never occurs, p = 1/3.
        XCTAssertEqual(
            BigramLoss.of(train: [0, 1, 0, 1], validation: [1, 1], vocabularySize: 2), log(3.0), accuracy: 1e-12)
        XCTAssertTrue(BigramLoss.of(train: [0, 1], validation: [0], vocabularySize: 2).isNaN)
    }

    /// One AdamW step from zero moments moves each element by lr · g/(|g| + eps) ≈ lr · sign(g)
    /// (bias correction makes m̂ = g, v̂ = g²). A norm weight (no decay) θ = (3, 4), ‖θ‖ = 5, with
    /// g = (1, −2) moves by lr·(−1, 1): the ratio is lr·√2 / 5. Parameters outside the layers
    /// (embeddings) do not count.
    func testUpdateRatioOfAKnownAdamWStep() {
        let norm = Tensor(shape: [2], values: [3, 4], requiresGrad: true)
        norm.grad = Tensor(shape: [2], values: [1, -2])
        let embedding = Tensor(shape: [1, 2], values: [1, 1], requiresGrad: true)
        embedding.grad = Tensor(shape: [1, 2], values: [5, 5])
        let parameters = [
            NamedParameter(name: "embed", tensor: embedding, layer: nil, initialization: .normal(std: 1)),
            NamedParameter(name: "norm", tensor: norm, layer: 0, initialization: .ones),
        ]
        var config = OptimizerConfig()
        config.eps = 1e-8
        let optimizer = AdamW(parameters: parameters, config: config)
        let meter = UpdateRatioMeter(parameters: parameters, layerCount: 1)
        meter.snapshot()
        optimizer.step(learningRate: 0.01, gradientScale: 1)
        // Float32 weights: 3 − 0.01 and 4 + 0.01 round to within 2.4e-7 of their values, so the
        // update's norm is right to about 3e-7, the ratio to 1e-7.
        XCTAssertEqual(meter.ratios()[0], 0.01 * 2.0.squareRoot() / 5, accuracy: 1e-7)
    }

    func smokeRun(_ overrides: [String], in name: String) throws -> RunFolder {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var config = try ConfigLoader.load(
            repository.appendingPathComponent("configs/smoke.toml"), overrides: overrides)
        config.data.path = repository.appendingPathComponent("data/smoke.txt").path
        let folder = RunFolder(scratch.appendingPathComponent(name))
        let trainer = try Trainer(config: config, folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        _ = try? trainer.run()
        return folder
    }

    static let layerKeys =
        [
            "attn_entropy", "attn_entropy_min", "q_rms", "k_rms", "update_ratio", "attn_logit_max_q_norm",
            "attn_logit_max_k_norm", "block_output_rms",
        ]
        + ["grad_rms", "update_rms", "param_rms"].flatMap { prefix in
            ["q_proj", "k_proj", "mlp_in", "down_proj"].map { "\(prefix)_\($0)" }
        }

    /// Logged steps (1, 5, 10, 12) carry every telemetry key, per layer where docs/metrics.md says so;
    /// the bigram loss comes first (step 0); TensorBoard has one scalar per layer.
    func testTelemetryOnLoggedSteps() throws {
        let folder = try smokeRun(["train.max_steps=12", "train.log_interval=5", "train.eval_interval=0"], in: "run")
        let lines = try MetricsReader.read(folder.metrics)
        XCTAssertEqual(lines.first?["step"] as? Int, 0)
        let bigram = try XCTUnwrap((lines.first?["bigram_loss"] as? NSNumber)?.doubleValue)
        XCTAssertGreaterThan(bigram, 1)
        let training = lines.filter { $0["loss"] != nil }
        XCTAssertEqual(training.map { $0["step"] as! Int }, [1, 5, 10, 12])
        for line in training {
            for key in Self.layerKeys {
                let values = try XCTUnwrap(line[key] as? [NSNumber], key)
                XCTAssertEqual(values.count, 2, key)
                XCTAssertTrue(values.allSatisfy { $0.doubleValue.isFinite && $0.doubleValue > 0 }, "\(key) \(values)")
            }
            try assertLogitMaxIsItsPairs(line, scale: 1 / 4)  // d_model 32, 2 heads: Dh = 16
            let entropy = (line["attn_entropy"] as! [NSNumber]).map(\.doubleValue)
            let entropyMin = (line["attn_entropy_min"] as! [NSNumber]).map(\.doubleValue)
            XCTAssertTrue(
                zip(entropy, entropyMin).allSatisfy { $1 <= $0 + 1e-6 && $0 <= 1 }, "\(entropy) \(entropyMin)")
            XCTAssertNotNil((line["output_logit_max"] as? NSNumber)?.doubleValue)
            XCTAssertNotNil((line["output_lse_mean"] as? NSNumber)?.doubleValue)
            let logitMean = try XCTUnwrap((line["output_logit_mean"] as? NSNumber)?.doubleValue)
            let logitMax = (line["output_logit_max"] as! NSNumber).doubleValue
            XCTAssertLessThanOrEqual(abs(logitMean), logitMax)
        }
        let eventFile = try XCTUnwrap(
            FileManager.default.contentsOfDirectory(atPath: folder.url.path).first {
                $0.hasPrefix("events.out.tfevents")
            })
        let events = try TensorBoardReader.read(folder.url.appendingPathComponent(eventFile))
        let tags = Set(events.flatMap(\.scalars.keys))
        for tag in [
            "attn_entropy/0", "attn_entropy/1", "attn_entropy_min/1", "q_rms/0", "k_rms/1", "update_ratio/0",
            "attn_logit_max_cos/0", "attn_logit_max_q_norm/1", "attn_logit_max_k_norm/0", "block_output_rms/1",
            "grad_rms_q_proj/0", "update_rms_mlp_in/1", "param_rms_down_proj/1",
            "output_logit_max", "output_logit_mean", "output_lse_mean",
        ] {
            XCTAssertTrue(tags.contains(tag), "missing TensorBoard tag \(tag)")
        }
    }

    /// A metrics line's `attn_logit_max` is s·‖q‖·‖k‖·|cos| of its pair, per layer, up to the
    /// float rounding of the line's numbers; the cosine lies in [−1, 1].
    func assertLogitMaxIsItsPairs(_ line: [String: Any], scale: Double) throws {
        func values(_ key: String) throws -> [Double] {
            try XCTUnwrap(line[key] as? [NSNumber], key).map(\.doubleValue)
        }
        let (logitMax, cosine) = (try values("attn_logit_max"), try values("attn_logit_max_cos"))
        let (queryNorm, keyNorm) = (try values("attn_logit_max_q_norm"), try values("attn_logit_max_k_norm"))
        XCTAssertEqual(cosine.count, 2)
        for layer in 0..<2 {
            XCTAssertLessThanOrEqual(abs(cosine[layer]), 1)
            XCTAssertEqual(
                scale * queryNorm[layer] * keyNorm[layer] * abs(cosine[layer]), logitMax[layer],
                accuracy: 1e-5 * logitMax[layer], "layer \(layer)")
        }
    }

    /// With `attn_softcap`, logged steps carry `attn_logit_max_capped` per layer: below the cap,
    /// and c·tanh(x/c) of the logit before it (`attn_logit_max`, logged on the same step and batch);
    /// without a cap the key is absent.
    func testCappedAttentionLogitOnLoggedSteps() throws {
        let cap = 2.0
        let capped = try smokeRun(
            ["train.max_steps=3", "train.eval_interval=0", "model.attn_softcap=\(cap)"], in: "capped")
        for line in try MetricsReader.read(capped.metrics) where line["loss"] != nil {
            let after = try XCTUnwrap(line["attn_logit_max_capped"] as? [NSNumber]).map(\.doubleValue)
            let before = try XCTUnwrap(line["attn_logit_max"] as? [NSNumber]).map(\.doubleValue)
            XCTAssertEqual(after.count, 2)
            for (a, b) in zip(after, before) {
                XCTAssertLessThan(a, cap)
                XCTAssertEqual(a, cap * Foundation.tanh(b / cap), accuracy: 1e-5)
            }
        }
        let plain = try smokeRun(["train.max_steps=2", "train.eval_interval=0"], in: "plain")
        for line in try MetricsReader.read(plain.metrics) { XCTAssertNil(line["attn_logit_max_capped"]) }
    }

    /// A non-finite step comes with its diagnosis: `nonfinite.json` holds the failing step's
    /// telemetry, measured on its batch and weights although the step was not a logged one.
    func testNonFiniteReportCarriesTelemetry() throws {
        let folder = try smokeRun(
            ["optim.lr=1e30", "optim.warmup_steps=0", "optim.grad_clip=0", "train.log_interval=1000"], in: "nan")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.nonFiniteReport)) as! [String: Any]
        let last = try XCTUnwrap((report["steps"] as? [[String: Any]])?.last)
        for key in ["attn_entropy", "attn_entropy_min", "q_rms", "k_rms", "attn_logit_max_cos", "block_output_rms"] {
            XCTAssertEqual((last[key] as? [Any])?.count, 2, key)
        }
        XCTAssertTrue(last.keys.contains("output_logit_max"))
        XCTAssertTrue(last["update_ratio"] == nil || last["update_ratio"] is NSNull, "no update was applied")
    }
}
