import Formats
import Foundation
import HuggingFace
import Training
import Transformer
import XCTest

/// Export and import of the family layouts: Gemma 3, OLMo 3 and the dense Qwen3-Next form.
extension ExportEndToEndTests {
    /// Trains a run with `overrides` and exports it as `preferred` (or the layout's class).
    func exportedRun(_ overrides: [String], name: String, as preferred: HuggingFaceArchitecture?) throws -> (
        trained: TrainedModel, folder: URL
    ) {
        let trained = try trainedModel(overrides, name: name)
        let folder = scratch.appendingPathComponent("\(name)-hf")
        try HuggingFaceExport.write(trained, to: folder, preferred: preferred)
        return (trained, folder)
    }

    func testFamilyLayoutsExportNamesShapesAndValues() throws {
        for (overrides, architecture) in [
            (Self.gemma3, HuggingFaceArchitecture.gemma3), (Self.olmo2, .olmo3), (Self.qwen3Next, .qwen3Next),
        ] {
            let (trained, folder) = try exportedRun(
                overrides, name: architecture.modelType, as: architecture == .olmo3 ? .olmo3 : nil)
            XCTAssertEqual(try configJSON(folder)["architectures"] as? [String], [architecture.className])
            let tensors = try safetensorsHeader(folder).filter { $0.key != "__metadata__" }
            XCTAssertEqual(
                tensors.mapValues { $0["shape"] as! [Int] }, expectedTensors(architecture, tied: true),
                "\(architecture)")
            let checkpoint = try SafeTensors.read(trained.checkpoint.appendingPathComponent("model.safetensors"))
                .tensors
            let exported = try SafeTensors.read(folder.appendingPathComponent("model.safetensors")).tensors
            guard architecture == .qwen3Next else {
                XCTAssertEqual(
                    exported, checkpoint, "\(architecture): the checkpoint's values (offset weights as they are)")
                continue
            }
            // Qwen3-Next: per head [query ; zero gate] rows in q_proj, o_proj doubled, the rest as is.
            for (ours, theirs) in zip(checkpoint, exported) {
                if ours.name.hasSuffix("q_proj.weight") {
                    let headRows = 16 * 32
                    for head in 0..<2 {
                        XCTAssertEqual(
                            Array(theirs.values[(2 * head * headRows)..<((2 * head + 1) * headRows)]),
                            Array(ours.values[(head * headRows)..<((head + 1) * headRows)]),
                            "\(ours.name) head \(head) query")
                        XCTAssertTrue(
                            theirs.values[((2 * head + 1) * headRows)..<((2 * head + 2) * headRows)].allSatisfy {
                                $0 == 0
                            }, "gate rows zero")
                    }
                } else if ours.name.hasSuffix("o_proj.weight") {
                    XCTAssertEqual(theirs.values, ours.values.map { 2 * $0 }, ours.name)
                } else {
                    XCTAssertEqual(theirs, ours)
                }
            }
        }
    }

    /// The config traps of docs/spec/model.md's table, written explicitly.
    func testFamilyConfigJSON() throws {
        let gemma = try configJSON(try exportedRun(Self.gemma3, name: "gemma-json").folder)
        XCTAssertEqual(gemma["model_type"] as? String, "gemma3_text")
        XCTAssertEqual(gemma["head_dim"] as? Int, 16, "explicit: Gemma 3's default is 256")
        XCTAssertEqual(gemma["query_pre_attn_scalar"] as? Int, 16)
        XCTAssertTrue(
            gemma["query_pre_attn_scalar"] is Int
                && !(gemma["query_pre_attn_scalar"] is Double && "\(gemma["query_pre_attn_scalar"]!)".contains(".")))
        XCTAssertEqual(gemma["sliding_window"] as? Int, 32, "an integer: null fails")
        XCTAssertEqual(gemma["layer_types"] as? [String], ["full_attention", "full_attention"])
        XCTAssertEqual(gemma["hidden_activation"] as? String, "gelu_pytorch_tanh")
        XCTAssertNil(gemma["hidden_act"])
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] { XCTAssertTrue(gemma[key] is NSNull, key) }
        let rope = try XCTUnwrap(gemma["rope_parameters"] as? [String: [String: Any]])
        for type in ["full_attention", "sliding_attention"] {
            XCTAssertEqual(rope[type]?["rope_theta"] as? Double, 10000, type)
            XCTAssertEqual(rope[type]?["rope_type"] as? String, "default", type)
        }
        XCTAssertEqual(
            try configJSON(try exportedRun(Self.gemma3 + ["model.mlp=swiglu"], name: "gemma-silu").folder)[
                "hidden_activation"] as? String, "silu")

        let olmo3 = try configJSON(try exportedRun(Self.olmo2, name: "olmo3-json", as: .olmo3).folder)
        XCTAssertEqual(olmo3["model_type"] as? String, "olmo3")
        XCTAssertEqual(olmo3["sliding_window"] as? Int, 32)
        XCTAssertEqual(olmo3["layer_types"] as? [String], ["full_attention", "full_attention"])
        XCTAssertNotNil((olmo3["rope_parameters"] as? [String: Any])?["sliding_attention"])
        XCTAssertEqual(olmo3["rms_norm_eps"] as? Double, 1e-6)

        let next = try configJSON(try exportedRun(Self.qwen3Next, name: "next-json").folder)
        XCTAssertEqual(next["model_type"] as? String, "qwen3_next")
        XCTAssertEqual(next["num_experts"] as? Int, 0)
        XCTAssertEqual(next["layer_types"] as? [String], ["full_attention", "full_attention"])
        XCTAssertEqual((next["rope_parameters"] as? [String: Any])?["partial_rotary_factor"] as? Double, 0.25)
        XCTAssertEqual(next["head_dim"] as? Int, 16)
    }

    /// What an export writes reads back to the same config, so an earlier export is recognised
    /// (`export-hf` replaces only its own files).
    func testEveryClassConfigReadsBackAsWritten() throws {
        for architecture in HuggingFaceArchitecture.allCases {
            var model = Self.layout(architecture)
            model.vocabSize = 61
            let data = try HuggingFaceConfig(model: model, preferred: architecture).jsonData()
            let read = try HuggingFaceConfig(json: data, source: "config.json")
            XCTAssertEqual(read.architecture, architecture)
            XCTAssertEqual(try read.jsonData(), data, "\(architecture)")
        }
    }

    func testFamilyRoundTripExportInitFromGivesIdenticalLogits() throws {
        let cases: [([String], String, HuggingFaceArchitecture?)] = [
            (Self.gemma3, "gemma3", nil), (Self.gemma3 + ["model.mlp=swiglu"], "gemma3-silu", nil),
            (Self.olmo2, "olmo3", .olmo3), (Self.qwen3Next, "qwen3-next", nil),
            (Self.gemma3 + Self.window + Self.softcaps + ["model.rope_local_theta=100"], "gemma3-window", nil),
            (Self.olmo2 + Self.window, "olmo3-window", nil), (Self.gemma2 + Self.window + Self.softcaps, "gemma2", nil),
        ]
        for (overrides, name, preferred) in cases {
            let (trained, folder) = try exportedRun(overrides, name: name, as: preferred)
            let run = RunFolder(scratch.appendingPathComponent("\(name)-imported"))
            let imported = try Trainer(
                config: try smokeConfig(overrides + ["model.seed=7"]), folder: run, configSource: "test",
                initialWeights: HuggingFaceImport.initialWeights(folder))
            let tokens = Array(
                try trained.tokenizer.encode("In the beginning God created the heaven").prefix(
                    trained.config.model.blockSize))
            XCTAssertEqual(
                try SequenceLogits(model: imported.model, tokens: tokens).logits,
                try SequenceLogits(model: trained.model, tokens: tokens).logits,
                "\(name): logits differ")
            XCTAssertEqual(
                imported.model.parameters.map(\.tensor.values), trained.model.parameters.map(\.tensor.values),
                "\(name): weights bit for bit")
        }
    }

    /// The attention variants in `config.json`: Gemma 2's soft-caps, query scale and alternating
    /// layers; Gemma 3's local RoPE base under `sliding_attention`; OLMo 3's three to one; null caps
    /// and block_size for a window where there are none.
    func testAttentionVariantsInConfigJSON() throws {
        func json(_ edit: (inout ModelConfig) -> Void, _ architecture: HuggingFaceArchitecture) throws -> [String: Any]
        {
            var model = Self.layout(architecture)
            edit(&model)
            let data = try HuggingFaceConfig(model: model, preferred: architecture).jsonData()
            return try JSONSerialization.jsonObject(with: data) as! [String: Any]
        }
        let gemma2 = try json(
            { ($0.nLayer, $0.slidingWindow, $0.globalEvery, $0.attnSoftcap, $0.finalSoftcap) = (4, 16, 2, 50, 30) },
            .gemma2)
        XCTAssertEqual(gemma2["architectures"] as? [String], ["Gemma2ForCausalLM"])
        XCTAssertEqual(gemma2["model_type"] as? String, "gemma2")
        XCTAssertEqual(gemma2["attn_logit_softcapping"] as? Double, 50)
        XCTAssertEqual(gemma2["final_logit_softcapping"] as? Double, 30)
        var capped = Self.layout(.gemma2)
        (capped.attnSoftcap, capped.finalSoftcap) = (50, 30)
        let text = String(decoding: try HuggingFaceConfig(model: capped).jsonData(), as: UTF8.self)
        XCTAssertTrue(  // Gemma2Config refuses an integer in these float fields
            text.contains("\"attn_logit_softcapping\" : 50.0,\n")
                && text.contains("\"final_logit_softcapping\" : 30.0,\n"), text)
        XCTAssertEqual(gemma2["query_pre_attn_scalar"] as? Int, 32)
        XCTAssertEqual(gemma2["hidden_activation"] as? String, "gelu_pytorch_tanh")
        XCTAssertEqual(gemma2["sliding_window"] as? Int, 16)
        XCTAssertEqual(
            gemma2["layer_types"] as? [String],
            ["sliding_attention", "full_attention", "sliding_attention", "full_attention"])
        let gemma3 = try json(
            { ($0.nLayer, $0.slidingWindow, $0.globalEvery, $0.ropeTheta, $0.ropeLocalTheta) = (6, 16, 6, 1e6, 1e4) },
            .gemma3)
        XCTAssertEqual(
            gemma3["layer_types"] as? [String], Array(repeating: "sliding_attention", count: 5) + ["full_attention"])
        let rope = gemma3["rope_parameters"] as! [String: [String: Any]]
        XCTAssertEqual(rope["full_attention"]?["rope_theta"] as? Double, 1e6)
        XCTAssertEqual(rope["sliding_attention"]?["rope_theta"] as? Double, 1e4)
        XCTAssertTrue(gemma3["attn_logit_softcapping"] is NSNull)
        let plain = try json({ _ in }, .gemma3)
        XCTAssertEqual(plain["sliding_window"] as? Int, 64)
        XCTAssertEqual(plain["layer_types"] as? [String], Array(repeating: "full_attention", count: 4))
    }

    func testFamilyLayoutsWithoutAClassAreRefusedNamingTheSwitch() throws {
        func refusal(_ edit: (inout ModelConfig) -> Void) -> String {
            var model = ModelConfig()
            edit(&model)
            do {
                _ = try HuggingFaceConfig(model: model)
                return "accepted"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(
            refusal { $0.blockNorm = .sandwich },
            "norm_weight = \"plain\" with block_norm = \"sandwich\" has no Hugging Face equivalent "
                + "(the closest class, Gemma3ForCausalLM, needs norm_weight = \"offset\", embed_scale = true)")
        XCTAssertEqual(
            refusal { ($0.normWeight, $0.embedScale) = (.offset, true) },
            "embed_scale = true with block_norm = \"pre\" has no Hugging Face equivalent (the closest class, Qwen3NextForCausalLM, needs embed_scale = false)"
        )
        XCTAssertEqual(refusal { $0.ropeFraction = 0.5 }, "accepted", "GLM-4.5's layout")
        XCTAssertEqual(
            refusal { ($0.qkNorm, $0.attentionBias) = (.full, true) },
            "qk_norm = \"full\" with block_norm = \"pre\" has no Hugging Face equivalent (the closest class, Glm4MoeForCausalLM, needs qk_norm = \"head\" or \"off\")"
        )
        XCTAssertEqual(
            refusal {
                ($0.blockNorm, $0.normWeight, $0.embedScale, $0.attentionBias) = (.sandwich, .offset, true, true)
            },
            "attention_bias = true with block_norm = \"sandwich\" has no Hugging Face equivalent (the closest class, Gemma3ForCausalLM, needs attention_bias = false)"
        )
        XCTAssertEqual(
            refusal { $0.mlp = .geglu },
            "mlp = \"geglu\" with block_norm = \"pre\" has no Hugging Face equivalent (the closest class, Qwen3ForCausalLM, needs mlp = \"swiglu\")"
        )
        XCTAssertEqual(
            refusal { ($0.blockNorm, $0.normWeight, $0.embedScale, $0.ropeFraction) = (.sandwich, .offset, true, 0.5) },
            "rope_fraction = 0.5 with block_norm = \"sandwich\" has no Hugging Face equivalent (the closest class, Gemma3ForCausalLM, needs rope_fraction = 1.0)"
        )
        XCTAssertEqual(
            refusal { ($0.blockNorm, $0.qkNorm, $0.normWeight) = (.post, .full, .offset) },
            "norm_weight = \"offset\" with block_norm = \"post\" has no Hugging Face equivalent (the closest class, Olmo2ForCausalLM, needs norm_weight = \"plain\")"
        )
        XCTAssertEqual(refusal { _ in }, "accepted")
        assertThrows(
            try HuggingFaceConfig(model: ModelConfig(), preferred: .olmo3),
            containing:
                "Olmo3ForCausalLM needs block_norm = \"post\", qk_norm = \"full\"; the run has block_norm = \"pre\", qk_norm = \"head\""
        )
        assertThrows(
            try HuggingFaceArchitecture(named: "MistralForCausalLM"),
            containing: "unknown Hugging Face class \"MistralForCausalLM\"")
        XCTAssertEqual(try HuggingFaceArchitecture(named: "Gemma2ForCausalLM"), .gemma2)
        // attention variants a class lacks, and a layout with windows choosing the class that has them
        XCTAssertEqual(
            refusal { ($0.slidingWindow, $0.globalEvery, $0.nLayer) = (16, 2, 4) },
            "sliding_window = 16 with block_norm = \"pre\" has no Hugging Face equivalent (the closest class, Qwen3ForCausalLM, needs sliding_window = 0)"
        )
        XCTAssertEqual(
            refusal { $0.attnSoftcap = 50 },
            "attn_softcap = 50.0 with block_norm = \"pre\" has no Hugging Face equivalent (the closest class, Qwen3ForCausalLM, needs attn_softcap = 0.0)"
        )
        var olmo = ModelConfig()
        (olmo.blockNorm, olmo.qkNorm, olmo.slidingWindow, olmo.globalEvery) = (.post, .full, 16, 4)
        XCTAssertEqual(try HuggingFaceConfig(model: olmo).architecture, .olmo3)
        XCTAssertEqual(
            try HuggingFaceConfig(model: olmo).layerTypes,
            ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"])
        var gemma2 = Self.layout(.gemma2)
        (gemma2.slidingWindow, gemma2.globalEvery, gemma2.ropeLocalTheta) = (16, 2, 100)
        assertThrows(
            try HuggingFaceConfig(model: gemma2),
            containing: "Gemma2ForCausalLM has one RoPE base: rope_local_theta (100.0) must equal rope_theta (10000.0)")
        XCTAssertEqual(try HuggingFaceArchitecture(named: "Olmo3ForCausalLM"), .olmo3)
        XCTAssertEqual(try HuggingFaceArchitecture(named: "qwen3_next"), .qwen3Next)
    }

    /// Folders whose network QKLab cannot compute: a live output gate, sliding or linear layers,
    /// experts, a query scale other than 1/sqrt(head_dim), soft-capping.
    func testFamilyImportsRefuseWhatQKLabCannotCompute() throws {
        let (_, next) = try exportedRun(Self.qwen3Next, name: "next-source")
        let (_, gemma) = try exportedRun(Self.gemma3, name: "gemma-source")
        func assertRefused(
            _ message: String, from source: URL, overrides: [String], change: (URL) throws -> Void,
            file: StaticString = #filePath, line: UInt = #line
        ) throws {
            try assertInitFromRefused(
                message, copying: source, overrides: overrides, change: change, file: file, line: line)
        }
        try assertRefused("has a nonzero attention output gate (head 1)", from: next, overrides: Self.qwen3Next) {
            folder in
            try self.rewriteWeights(in: folder) { tensors in
                let index = tensors.firstIndex { $0.name == "model.layers.0.self_attn.q_proj.weight" }!
                tensors[index].values[(3 * 16 + 1) * 32] = 0.5
            }
        }
        try assertRefused("num_experts is missing (default 512)", from: next, overrides: Self.qwen3Next) {
            try self.rewriteConfig(in: $0) { $0["num_experts"] = nil }
        }
        try assertRefused("layer_types has \"linear_attention\"", from: next, overrides: Self.qwen3Next) {
            try self.rewriteConfig(in: $0) { $0["layer_types"] = ["full_attention", "linear_attention"] }
        }
        try assertRefused(
            "partial_rotary_factor is 0.5 but the run's [model] has rope_fraction = 0.25", from: next,
            overrides: Self.qwen3Next
        ) {
            try self.rewriteConfig(in: $0) {
                $0["rope_parameters"] = ["rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5]
            }
        }
        try assertRefused(
            "layer_types is missing (Gemma3ForCausalLM's default mixes in sliding-window layers)", from: gemma,
            overrides: Self.gemma3
        ) {
            try self.rewriteConfig(in: $0) { $0["layer_types"] = nil }
        }
        try assertRefused("query_pre_attn_scalar 256.0 differs from head_dim 16", from: gemma, overrides: Self.gemma3) {
            try self.rewriteConfig(in: $0) { $0["query_pre_attn_scalar"] = 256 }
        }
        try assertRefused(
            "final_logit_softcapping is 30.0 but the run's [model] has final_softcap = 0.0", from: gemma,
            overrides: Self.gemma3
        ) {
            try self.rewriteConfig(in: $0) { $0["final_logit_softcapping"] = 30.0 }
        }
        try assertRefused(
            "layer_types [\"sliding_attention\", \"sliding_attention\"] has no full_attention layer", from: gemma,
            overrides: Self.gemma3
        ) {
            try self.rewriteConfig(in: $0) { $0["layer_types"] = ["sliding_attention", "sliding_attention"] }
        }
        try assertRefused(
            "sliding_window is 8 but the run's [model] has sliding_window = 0 (start it with --set model.sliding_window=8)",
            from: gemma, overrides: Self.gemma3
        ) {
            try self.rewriteConfig(in: $0) {
                $0["layer_types"] = ["sliding_attention", "full_attention"]
                $0["sliding_window"] = 8
            }
        }
        try assertRefused(
            "hidden_activation is geglu but the run's [model] has mlp = swiglu (start it with --set model.mlp=geglu)",
            from: gemma, overrides: Self.gemma3 + ["model.mlp=swiglu"]
        ) { _ in }
        try assertRefused(
            "model_type \"gemma3_text\" is the layout block_norm = \"sandwich\", qk_norm = \"head\", norm_weight = \"offset\"",
            from: gemma, overrides: Self.qwen3
        ) { _ in }
    }
}
