import Formats
import Foundation
import Training
import Transformer
import XCTest

/// The family presets (`configs/families/*.toml`, docs/families.md) and training,
/// checkpoints and resume on the family layouts.
final class FamilyPresetEndToEndTests: SmokeRunTestCase {
    /// The table of docs/families.md: preset → (block_norm, qk_norm, norm_weight, mlp, embed_scale, rope_fraction).
    static let table:
        [String: (ModelConfig.BlockNorm, ModelConfig.QKNorm, ModelConfig.NormWeight, ModelConfig.MLP, Bool, Float)] = [
            "llama": (.pre, .off, .plain, .swiglu, false, 1),
            "qwen3": (.pre, .head, .plain, .swiglu, false, 1),
            "olmo2": (.post, .full, .plain, .swiglu, false, 1),
            "olmo3": (.post, .full, .plain, .swiglu, false, 1),
            "gemma3": (.sandwich, .head, .offset, .geglu, true, 1),
            "gemma2": (.sandwich, .off, .offset, .geglu, true, 1),
            "qwen3-next": (.pre, .head, .offset, .swiglu, false, 0.25),
            "glm45": (.pre, .head, .plain, .swiglu, false, 0.5),
            "minimax-m2": (.pre, .full, .plain, .swiglu, false, 0.5),
            "sarvam": (.pre, .head, .plain, .swiglu, false, 1),
        ]

    /// The attention variants of the presets that have them: (sliding_window, global_every,
    /// rope_theta, local RoPE base, attn_softcap, final_softcap); the others have none.
    static let attentionTable: [String: (Int, Int, Float, Float, Float, Float)] = [
        "gemma3": (16, 6, 1e6, 1e4, 0, 0),
        "olmo3": (16, 4, 1e4, 1e4, 0, 0),
        "gemma2": (16, 2, 1e4, 1e4, 50, 30),
    ]

    /// The presets' switches beyond the tables: GLM-4.5's q/k/v biases, Sarvam's RoPE base.
    static let attentionBias: Set<String> = ["glm45"]
    static let ropeTheta: [String: Float] = ["sarvam": 8e6]

    /// Every preset has the family's switches and model S's sizes (Gemma 3 six layers, for its
    /// five local to one global), and trains 3 steps on the smoke corpus (finite losses, a checkpoint).
    func testEveryPresetLoadsAndTrains() throws {
        let folder = Self.repository.appendingPathComponent("configs/families")
        let presets = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".toml") }
            .sorted()
        XCTAssertEqual(
            Set(presets.map { String($0.dropLast(5)) }), Set(Self.table.keys),
            "one preset per row of docs/families.md's table")
        for preset in presets {
            let name = String(preset.dropLast(5))
            var config = try ConfigLoader.load(
                folder.appendingPathComponent(preset),
                overrides: [
                    "train.max_steps=3", "train.eval_interval=0", "train.log_interval=1", "optim.warmup_steps=1",
                ])
            XCTAssertEqual(config.data.path, "data/tinyshakespeare.txt", name)
            config.data.path = Self.repository.appendingPathComponent("data/smoke.txt").path
            let m = config.model
            let expected = try XCTUnwrap(Self.table[name])
            XCTAssertTrue(
                m.blockNorm == expected.0 && m.qkNorm == expected.1 && m.normWeight == expected.2 && m.mlp == expected.3
                    && m.embedScale == expected.4 && m.ropeFraction == expected.5, "\(name): \(m)")
            XCTAssertEqual([m.dModel, m.nLayer, m.nHead, m.blockSize], [128, name == "gemma3" ? 6 : 4, 4, 64], name)
            let theta = Self.ropeTheta[name] ?? 1e4
            let attention = Self.attentionTable[name] ?? (0, 1, theta, theta, 0, 0)
            XCTAssertTrue(
                m.slidingWindow == attention.0 && m.globalEvery == attention.1 && m.ropeTheta == attention.2
                    && m.localRopeTheta == attention.3 && m.attnSoftcap == attention.4 && m.finalSoftcap == attention.5,
                "\(name): \(m)")
            XCTAssertEqual(m.attentionBias, Self.attentionBias.contains(name), name)
            let run = try train(config, in: name)
            let losses = try series(run, "loss")
            XCTAssertEqual(losses.keys.sorted(), [1, 2, 3], name)
            XCTAssertTrue(losses.values.allSatisfy(\.isFinite), name)
            XCTAssertNotNil(run.latestCheckpoint(), name)
        }
    }

    /// 40 steps straight vs 20 + resume 20 on Gemma-3-style, Qwen3-Next-style and GLM-4.5-style
    /// layouts (offset norms, sandwich, GeGLU, embed_scale, partial RoPE, attention biases): the
    /// same numbers in every metrics line
    /// and the same weights, bit for bit.
    func testResumeIsBitIdenticalOnFamilyLayouts() throws {
        let layouts = [
            (
                "gemma3",
                ["model.block_norm=sandwich", "model.norm_weight=offset", "model.mlp=geglu", "model.embed_scale=true"]
            ),
            ("qwen3-next", ["model.norm_weight=offset", "model.rope_fraction=0.25"]),
            ("glm45", ["model.attention_bias=true", "model.rope_fraction=0.5", "optim.decay_norm_weights=true"]),
        ]
        for (name, layout) in layouts {
            let common =
                layout + [
                    "train.max_steps=40", "optim.decay_steps=40", "train.eval_interval=10", "train.log_interval=1",
                ]
            let straight = try train(try smokeConfig(common), in: "\(name)-straight")
            let interrupted = try train(try smokeConfig(common + ["train.max_steps=20"]), in: "\(name)-interrupted")
            try resume(interrupted, ["train.max_steps=40"])
            XCTAssertEqual(try series(straight, "loss").count, 40, name)
            XCTAssertEqual(try numbers(straight), try numbers(interrupted), "\(name): metrics differ after resume")
            XCTAssertEqual(
                try finalWeights(straight), try finalWeights(interrupted), "\(name): weights differ after resume")
        }
    }

    /// With attention biases the telemetry is logged and the biases train (they are in the
    /// checkpoint, moved from their zero start).
    func testAttentionBiasTrainsWithTelemetry() throws {
        let run = try train(
            try smokeConfig([
                "model.attention_bias=true", "optim.decay_norm_weights=true", "train.max_steps=2",
                "train.eval_interval=0",
            ]), in: "bias-telemetry")
        for key in ["attn_entropy", "q_rms", "k_rms", "update_ratio", "output_logit_max"] {
            XCTAssertFalse(try series(run, key).isEmpty, key)
        }
        let checkpoint = try XCTUnwrap(run.latestCheckpoint()).appendingPathComponent("model.safetensors")
        let biases = try SafeTensors.read(checkpoint).tensors.filter { $0.name.hasSuffix("_proj.bias") }
        XCTAssertEqual(biases.count, 2 * 3, "q, k, v biases in both layers")
        XCTAssertTrue(biases.allSatisfy { $0.values.contains { $0 != 0 } }, "the biases moved from zero")
    }

    /// The telemetry keys are logged on the family layouts too.
    func testTelemetryOnAGemmaLayout() throws {
        let run = try train(
            try smokeConfig([
                "model.block_norm=sandwich", "model.norm_weight=offset", "model.mlp=geglu", "model.embed_scale=true",
                "train.max_steps=2", "train.eval_interval=0",
            ]), in: "gemma-telemetry")
        for key in [
            "attn_entropy", "attn_entropy_min", "q_rms", "k_rms", "update_ratio", "output_logit_max", "output_lse_mean",
        ] {
            XCTAssertFalse(try series(run, key).isEmpty, key)
        }
    }
}
