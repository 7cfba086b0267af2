import Autograd
import Transformer
import XCTest

final class ModelConfigTests: XCTestCase {
    func testParameterNamesShapesAndCounts() throws {
        // Qwen3-like, tied: d=8, H=2, Hkv=1, Dh=4, F=12, V=7
        let qwen = try TransformerModel(config: tinyConfig(kvHeads: 1))
        XCTAssertEqual(
            qwen.parameters.map(\.name).prefix(10),
            [
                "model.embed_tokens.weight",
                "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
                "model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.k_norm.weight",
                "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
                "model.layers.0.mlp.gate_proj.weight",
            ])
        XCTAssertEqual(qwen.parameters.last?.name, "model.norm.weight")
        XCTAssertNil(qwen.parameter(named: "lm_head.weight"), "a tied head is not a separate parameter")
        XCTAssertEqual(qwen.parameter(named: "model.layers.1.self_attn.k_proj.weight")?.tensor.shape, [4, 8])
        XCTAssertEqual(qwen.parameter(named: "model.layers.1.self_attn.q_norm.weight")?.tensor.shape, [4])
        XCTAssertEqual(qwen.parameter(named: "model.layers.1.mlp.down_proj.weight")?.tensor.shape, [8, 12])
        // per layer: q 64 + k 32 + v 32 + o 64 + norms 4+4+8+8 + mlp 3·96 = 504; + embed 56 + final 8
        XCTAssertEqual(qwen.parameters.scalarCount, 56 + 2 * 504 + 8)

        // OLMo-2-like: post norms, full-scope QK-Norm, untied
        let olmo = try TransformerModel(config: tinyConfig(blockNorm: .post, qkNorm: .full, tie: false))
        XCTAssertNil(olmo.parameter(named: "model.layers.0.input_layernorm.weight"))
        XCTAssertEqual(olmo.parameter(named: "model.layers.0.post_feedforward_layernorm.weight")?.tensor.shape, [8])
        XCTAssertEqual(olmo.parameter(named: "model.layers.0.self_attn.q_norm.weight")?.tensor.shape, [8])
        XCTAssertEqual(olmo.parameter(named: "lm_head.weight")?.tensor.shape, [7, 8])

        // Llama-like: no QK-Norm; learned positions add a [block_size, d] table; GELU has no gate
        let plain = try TransformerModel(config: tinyConfig(qkNorm: .off, position: .learned, mlp: .gelu))
        XCTAssertFalse(plain.parameters.contains { $0.name.contains("q_norm") || $0.name.contains("gate_proj") })
        XCTAssertEqual(plain.parameter(named: "model.embed_positions.weight")?.tensor.shape, [6, 8])
    }

    /// The benchmark configs (V=65, tied, SwiGLU, QK-Norm per head).
    func testBenchmarkConfigParameterCounts() throws {
        var small = ModelConfig()  // S: d=128, L=4, H=4, T=64
        small.vocabSize = 65
        XCTAssertEqual(small.feedForward, 352)
        // per layer 4·128² + 3·128·352 + 32+32 (qk norms) + 2·128 = 201_024
        XCTAssertEqual(try TransformerModel(config: small).parameters.scalarCount, 65 * 128 + 4 * 201_024 + 128)
        var medium = small  // M: d=384, L=6, H=6, T=256
        medium.dModel = 384
        medium.nLayer = 6
        medium.nHead = 6
        medium.blockSize = 256
        XCTAssertEqual(medium.feedForward, 1024)
        XCTAssertEqual(
            try TransformerModel(config: medium).parameters.scalarCount,
            65 * 384 + 6 * (4 * 384 * 384 + 3 * 384 * 1024 + 64 + 64 + 2 * 384) + 384)
    }

    func testValidationMessages() {
        func message(_ edit: (inout ModelConfig) -> Void) -> String? {
            var config = ModelConfig()
            edit(&config)
            do {
                try config.validate()
                return nil
            } catch { return "\(error)" }
        }
        XCTAssertNil(message { _ in })
        XCTAssertEqual(message { $0.nHead = 6 }, "n_head (6) must divide d_model (128) when head_dim is not set")
        XCTAssertEqual(
            message {
                $0.nHead = 6
                $0.headDim = 21
            }, "rope needs an even head_dim (got 21)")
        XCTAssertNil(
            message {
                $0.nHead = 6
                $0.headDim = 21
                $0.position = .learned
            })
        XCTAssertEqual(message { $0.nKVHead = 3 }, "n_kv_head (3) must divide n_head (4)")
        XCTAssertEqual(message { $0.nLayer = 0 }, "n_layer must be at least 1 (got 0)")
        XCTAssertEqual(message { $0.normEps = 0 }, "norm_eps must be positive (got 0.0)")
        XCTAssertEqual(message { $0.attnSoftcap = -1 }, "attn_softcap must be ≥ 0, 0 for no cap (got -1.0)")
        XCTAssertEqual(message { $0.finalSoftcap = -30 }, "final_softcap must be ≥ 0, 0 for no cap (got -30.0)")
        XCTAssertEqual(
            message { $0.slidingWindow = 65 }, "sliding_window (65) exceeds block_size (64): no sequence is that long")
        XCTAssertEqual(
            message {
                $0.slidingWindow = 16
                $0.globalEvery = 5
            },
            "global_every (5) names no global layer among n_layer = 4 (layer i is global when i + 1 is a multiple of it)"
        )
        XCTAssertNil(
            message {
                $0.slidingWindow = 64
                $0.globalEvery = 4
                $0.ropeLocalTheta = 1e4
            })
        XCTAssertEqual(message { $0.globalEvery = 0 }, "global_every must be at least 1 (got 0)")
        XCTAssertEqual(message { $0.ropeLocalTheta = 0 }, "rope_local_theta must be positive (got 0.0)")
    }

    /// Which layers are local, and that the window, its pattern and the local RoPE base reach
    /// exactly those: a window of T, or a pattern with every layer global, changes no bit; a
    /// narrower window and a local RoPE base change the logits.
    func testSlidingWindowReachesTheLocalLayersOnly() throws {
        var config = tinyConfig()
        config.nLayer = 4
        (config.slidingWindow, config.globalEvery) = (2, 2)
        XCTAssertEqual((0..<4).map(config.isGlobalLayer), [false, true, false, true])
        XCTAssertEqual(config.attentionVariant(layer: 0), AttentionVariant(window: 2))
        XCTAssertEqual(config.attentionVariant(layer: 3), AttentionVariant(window: 0))
        config.globalEvery = 3
        XCTAssertEqual((0..<4).map(config.isGlobalLayer), [false, false, true, false])
        func logits(_ edit: (inout ModelConfig) -> Void) throws -> [Float] {
            var edited = tinyConfig()
            edited.nLayer = 4
            edit(&edited)
            let model = try TransformerModel(config: edited)
            randomizeForGradientCheck(model, seed: 4)
            return Tape.withoutGradients { model.forward(tokens: tinyTokens, batch: 2, length: 5).logits.values }
        }
        let full = try logits { _ in }
        XCTAssertEqual(try logits { $0.slidingWindow = 6 }, full)
        XCTAssertEqual(try logits { ($0.slidingWindow, $0.globalEvery, $0.ropeLocalTheta) = (2, 1, 100) }, full)
        let windowed = try logits { ($0.slidingWindow, $0.globalEvery) = (2, 2) }
        XCTAssertNotEqual(windowed, full)
        XCTAssertNotEqual(try logits { ($0.slidingWindow, $0.globalEvery, $0.ropeLocalTheta) = (2, 2, 100) }, windowed)
        XCTAssertNotEqual(try logits { $0.attnSoftcap = 1 }, full)
        let capped = try logits { $0.finalSoftcap = 1 }
        XCTAssertEqual(capped.map { abs($0) }.max()!, 1, accuracy: 0.5)
        XCTAssertLessThan(capped.map { abs($0) }.max()!, 1)
    }

    func testCodableUsesModelMdKeysAndDefaults() throws {
        let json = #"{"d_model": 64, "qk_norm": "full", "n_kv_head": 2}"#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        XCTAssertEqual(config.dModel, 64)
        XCTAssertEqual(config.qkNorm, .full)
        XCTAssertEqual(config.kvHeads, 2)
        XCTAssertEqual(config.nLayer, 4)
        XCTAssertEqual(config.headDimension, 16)
        XCTAssertEqual(config.resolved.headDim, 16)
        XCTAssertTrue(ModelConfig.keys.contains("tie_embeddings"))
    }
}
