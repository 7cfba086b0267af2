import Formats
import Foundation
import HuggingFace
import Training
import Transformer
import XCTest

/// Hugging Face export (`qklab export-hf`) and import (`qklab train --init-from`) on tiny runs
/// of the smoke corpus. Python's side of the contract is checked by scripts/hf_check.py.
final class ExportEndToEndTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var scratch: URL!

    /// The layouts that have a Hugging Face class, as `--set` overrides.
    static let qwen3 = ["model.block_norm=pre", "model.qk_norm=head"]
    static let llama = ["model.block_norm=pre", "model.qk_norm=off", "model.tie_embeddings=false"]
    static let olmo2 = ["model.block_norm=post", "model.qk_norm=full"]
    static let gemma3 = [
        "model.block_norm=sandwich", "model.qk_norm=head", "model.norm_weight=offset", "model.mlp=geglu",
        "model.embed_scale=true",
    ]
    static let qwen3Next = [
        "model.block_norm=pre", "model.qk_norm=head", "model.norm_weight=offset", "model.rope_fraction=0.25",
    ]
    static let gemma2 = [
        "model.block_norm=sandwich", "model.qk_norm=off", "model.norm_weight=offset", "model.mlp=geglu",
        "model.embed_scale=true",
    ]
    /// Attention variants on top of a layout: sliding-window layers (layer 0 local, 1 global, of
    /// the smoke model's two) and the soft-caps.
    static let window = ["model.sliding_window=8", "model.global_every=2"]
    static let softcaps = ["model.attn_softcap=5", "model.final_softcap=3"]
    static let glm45 = ["model.rope_fraction=0.5", "model.attention_bias=true"]
    static let miniMaxM2 = ["model.qk_norm=full", "model.rope_fraction=0.5"]
    static let sarvam = ["model.rope_theta=8e6"]

    /// `[model]` with `architecture`'s layout (OLMo 3's is OLMo 2's).
    static func layout(_ architecture: HuggingFaceArchitecture) -> ModelConfig {
        var model = ModelConfig()
        switch architecture {
        case .qwen3: break
        case .llama: model.qkNorm = .off
        case .olmo2, .olmo3: (model.blockNorm, model.qkNorm) = (.post, .full)
        case .gemma3:
            (model.blockNorm, model.normWeight, model.mlp, model.embedScale) = (.sandwich, .offset, .geglu, true)
        case .qwen3Next: (model.normWeight, model.ropeFraction) = (.offset, 0.25)
        case .gemma2:
            (model.blockNorm, model.qkNorm, model.normWeight, model.mlp, model.embedScale) = (
                .sandwich, .off, .offset, .geglu, true
            )
        case .glm4Moe: (model.ropeFraction, model.attentionBias) = (0.5, true)
        case .miniMaxM2: (model.qkNorm, model.ropeFraction) = (.full, 0.5)
        case .sarvamMoe: model.ropeTheta = 8e6
        }
        return model
    }

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qklab-export-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: - Helpers

    /// The smoke config (3 steps, no evaluation) with the corpus path made absolute, plus `overrides`.
    func smokeConfig(_ overrides: [String]) throws -> TrainingConfig {
        let quick = ["train.max_steps=3", "train.eval_interval=0", "train.log_interval=0", "optim.warmup_steps=1"]
        var config = try ConfigLoader.load(
            Self.repository.appendingPathComponent("configs/smoke.toml"), overrides: quick + overrides)
        config.data.path = Self.repository.appendingPathComponent("data/smoke.txt").path
        return config
    }

    /// A run of a few steps in `scratch/name`, loaded back from its checkpoint.
    func trainedModel(_ overrides: [String], name: String) throws -> TrainedModel {
        let folder = RunFolder(scratch.appendingPathComponent(name))
        let trainer = try Trainer(config: try smokeConfig(overrides), folder: folder, configSource: "test")
        trainer.progress = ConsoleProgress(isTerminal: false, quiet: true)
        try trainer.run()
        return try TrainedModel(path: folder.url.path)
    }

    /// Trains a run with `overrides` and exports it to `scratch/name-hf`.
    func exportedRun(_ overrides: [String], name: String) throws -> (trained: TrainedModel, folder: URL) {
        let trained = try trainedModel(overrides, name: name)
        let folder = scratch.appendingPathComponent("\(name)-hf")
        try HuggingFaceExport.write(trained, to: folder)
        return (trained, folder)
    }

    func configJSON(_ folder: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json")))
            as! [String: Any]
    }

    /// The JSON header of a safetensors file, parsed independently of `SafeTensors`.
    func safetensorsHeader(_ folder: URL) throws -> [String: [String: Any]] {
        let bytes = try Data(contentsOf: folder.appendingPathComponent("model.safetensors"))
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as! [String: [String: Any]]
    }

    /// docs/spec/model.md's names and shapes, written out by hand, for a 2-layer smoke model
    /// (V = 61, d = 32, H = Hkv = 2, Dh = 16, F = 96).
    func expectedTensors(_ architecture: HuggingFaceArchitecture, tied: Bool) -> [String: [Int]] {
        var expected: [String: [Int]] = ["model.embed_tokens.weight": [61, 32], "model.norm.weight": [32]]
        if !tied { expected["lm_head.weight"] = [61, 32] }
        for layer in 0..<2 {
            let prefix = "model.layers.\(layer)"
            for projection in ["q_proj", "k_proj", "v_proj", "o_proj"] {
                expected["\(prefix).self_attn.\(projection).weight"] = [32, 32]
            }
            for projection in ["gate_proj", "up_proj"] { expected["\(prefix).mlp.\(projection).weight"] = [96, 32] }
            expected["\(prefix).mlp.down_proj.weight"] = [32, 96]
            expected["\(prefix).post_attention_layernorm.weight"] = [32]
            switch architecture {
            case .qwen3, .qwen3Next, .gemma3, .glm4Moe, .sarvamMoe:
                expected["\(prefix).input_layernorm.weight"] = [32]
                expected["\(prefix).self_attn.q_norm.weight"] = [16]
                expected["\(prefix).self_attn.k_norm.weight"] = [16]
            case .llama, .gemma2:
                expected["\(prefix).input_layernorm.weight"] = [32]
            case .olmo2, .olmo3:
                expected["\(prefix).post_feedforward_layernorm.weight"] = [32]
                expected["\(prefix).self_attn.q_norm.weight"] = [32]
                expected["\(prefix).self_attn.k_norm.weight"] = [32]
            case .miniMaxM2:  // one expert, in the released checkpoints' names
                expected["\(prefix).input_layernorm.weight"] = [32]
                expected["\(prefix).self_attn.q_norm.weight"] = [32]
                expected["\(prefix).self_attn.k_norm.weight"] = [32]
                for projection in ["gate_proj", "up_proj", "down_proj"] {
                    expected["\(prefix).mlp.\(projection).weight"] = nil
                }
                let block = "\(prefix).block_sparse_moe"
                expected["\(block).gate.weight"] = [1, 32]
                expected["\(block).e_score_correction_bias"] = [1]
                (expected["\(block).experts.0.w1.weight"], expected["\(block).experts.0.w3.weight"]) = (
                    [96, 32], [96, 32]
                )
                expected["\(block).experts.0.w2.weight"] = [32, 96]
            }
            if architecture == .glm4Moe {  // the glm45 preset's q, k, v biases
                for projection in ["q_proj", "k_proj", "v_proj"] {
                    expected["\(prefix).self_attn.\(projection).bias"] = [32]
                }
            }
            if [.gemma2, .gemma3].contains(architecture) {
                expected["\(prefix).pre_feedforward_layernorm.weight"] = [32]
                expected["\(prefix).post_feedforward_layernorm.weight"] = [32]
            }
            // [query ; gate] per head
            if architecture == .qwen3Next { expected["\(prefix).self_attn.q_proj.weight"] = [64, 32] }
        }
        return expected
    }

    /// Rewrites the export's model.safetensors with `change` applied to its tensors.
    func rewriteWeights(in folder: URL, _ change: (inout [NamedTensor]) -> Void) throws {
        let url = folder.appendingPathComponent("model.safetensors")
        var tensors = try SafeTensors.read(url).tensors
        change(&tensors)
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: url)
    }

    /// Rewrites the export's config.json with `change` applied.
    func rewriteConfig(in folder: URL, _ change: (inout [String: Any]) -> Void) throws {
        var json = try configJSON(folder)
        change(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("config.json"))
    }

    /// A copy of the export `source`, changed by `change`, must be refused by a new run with
    /// `overrides` starting from it (`--init-from`), with an error containing `message`.
    func assertInitFromRefused(
        _ message: String, copying source: URL, overrides: [String], change: (URL) throws -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let attempt = UUID().uuidString
        let folder = scratch.appendingPathComponent("changed-\(attempt)")
        try FileManager.default.copyItem(at: source, to: folder)
        try change(folder)
        let run = RunFolder(scratch.appendingPathComponent("refused-\(attempt)"))
        assertThrows(
            try Trainer(
                config: try smokeConfig(overrides), folder: run, configSource: "test",
                initialWeights: HuggingFaceImport.initialWeights(folder)),
            containing: message, file: file, line: line)
    }

    func assertThrows(
        _ expression: @autoclosure () throws -> Any, containing text: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(text), "\"\($0)\" does not contain \"\(text)\"", file: file, line: line)
        }
    }

    // MARK: - Export

    func testSafetensorsNamesAndShapesForTheFirstThreeArchitectures() throws {
        for (overrides, architecture) in [
            (Self.qwen3, HuggingFaceArchitecture.qwen3), (Self.llama, .llama), (Self.olmo2, .olmo2),
        ] {
            let (trained, folder) = try exportedRun(overrides, name: architecture.modelType)
            let header = try safetensorsHeader(folder)
            XCTAssertEqual(
                header["__metadata__"] as? [String: String], ["format": "pt"], "transformers requires format pt")
            let tensors = header.filter { $0.key != "__metadata__" }
            XCTAssertEqual(
                tensors.mapValues { $0["shape"] as! [Int] },
                expectedTensors(architecture, tied: trained.config.model.tieEmbeddings), "\(architecture)")
            XCTAssertTrue(tensors.values.allSatisfy { $0["dtype"] as? String == "F32" })
            // The values are the checkpoint's, bit for bit.
            let checkpoint = try SafeTensors.read(trained.checkpoint.appendingPathComponent("model.safetensors"))
                .tensors
            XCTAssertEqual(try SafeTensors.read(folder.appendingPathComponent("model.safetensors")).tensors, checkpoint)
        }
    }

    func testTiedHeadIsWrittenOnce() throws {
        let tied = try safetensorsHeader(try exportedRun(Self.qwen3, name: "tied").folder)
        XCTAssertNil(tied["lm_head.weight"])
        XCTAssertEqual(tied.count, 1 + 2 * 11 + 2, "metadata, 11 tensors per layer, embedding and final norm")
        let untied = try safetensorsHeader(
            try exportedRun(Self.qwen3 + ["model.tie_embeddings=false"], name: "untied").folder)
        XCTAssertEqual(untied["lm_head.weight"]?["shape"] as? [Int], [61, 32])
        XCTAssertEqual(untied.count, tied.count + 1)
    }

    func testConfigJSONWritesEveryField() throws {
        let (trained, folder) = try exportedRun(
            Self.olmo2 + ["model.n_head=4", "model.n_kv_head=2", "model.head_dim=12", "model.rope_theta=5e5"],
            name: "gqa")
        let json = try configJSON(folder)
        XCTAssertEqual(json["architectures"] as? [String], ["Olmo2ForCausalLM"])
        XCTAssertEqual(json["model_type"] as? String, "olmo2")
        let integers: [String: Int] = [
            "vocab_size": trained.tokenizer.vocabularySize, "hidden_size": 32, "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12, "max_position_embeddings": 32,
        ]
        for (key, value) in integers { XCTAssertEqual(json[key] as? Int, value, key) }
        XCTAssertEqual(json["rope_theta"] as? Double, 5e5)
        let rope = json["rope_parameters"] as? [String: Any]
        XCTAssertEqual(rope?["rope_type"] as? String, "default")
        XCTAssertEqual(rope?["rope_theta"] as? Double, 5e5, "transformers 5 reads rope_theta here")
        XCTAssertEqual(json["rms_norm_eps"] as? Double, 1e-6, "written out: OLMo 2's default is 1e-5")
        for (key, value) in ["tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false] {
            XCTAssertEqual((json[key] as? NSNumber)?.boolValue, value, key)
        }
        for (key, value) in ["hidden_act": "silu", "torch_dtype": "float32", "dtype": "float32"] {
            XCTAssertEqual(json[key] as? String, value, key)
        }
        for key in ["pad_token_id", "bos_token_id", "eos_token_id"] {
            XCTAssertTrue(json[key] is NSNull, "\(key) must be null")
        }
        // The Qwen3 and Llama classes.
        XCTAssertEqual(
            try configJSON(try exportedRun(Self.qwen3, name: "qwen3").folder)["architectures"] as? [String],
            ["Qwen3ForCausalLM"])
        XCTAssertEqual(
            try configJSON(try exportedRun(Self.llama, name: "llama").folder)["model_type"] as? String, "llama")
        // vocab.json: the characters, id = index.
        let vocabulary = try JSONDecoder().decode(
            [String].self, from: Data(contentsOf: folder.appendingPathComponent("vocab.json")))
        XCTAssertEqual(vocabulary, trained.tokenizer.characters.map { String($0) })
    }

    /// The rules of transformers' config classes (5.x) over the three classes: LlamaConfig
    /// refuses hidden_size % num_attention_heads != 0 even with head_dim given; Qwen3Config and
    /// Olmo2Config take head_dim as given; all need an even head_dim above 4 (RoPE) and
    /// num_key_value_heads dividing num_attention_heads.
    func testTransformersRulesForEachClass() throws {
        func config(
            _ architecture: HuggingFaceArchitecture, d: Int, heads: Int, kvHeads: Int? = nil, headDim: Int? = nil
        ) throws -> HuggingFaceConfig {
            var model = Self.layout(architecture)
            (model.dModel, model.nHead, model.nKVHead, model.headDim) = (d, heads, kvHeads, headDim)
            return try HuggingFaceConfig(model: model, preferred: architecture)
        }
        // The shapes: d_model 32, 3 heads of 16.
        let llama = try config(.llama, d: 32, heads: 3, headDim: 16)
        XCTAssertEqual(
            llama.transformersRefusal,
            "transformers' LlamaConfig requires hidden_size % num_attention_heads == 0 (whatever head_dim), and d_model = 32 "
                + "is not a multiple of n_head = 3; choose an n_head that divides d_model (Qwen3 and OLMo 2 have no such rule, but their layouts have QK-Norm)"
        )
        XCTAssertNil(try config(.qwen3, d: 32, heads: 3, headDim: 16).transformersRefusal)
        XCTAssertNil(try config(.olmo2, d: 32, heads: 3, headDim: 16).transformersRefusal)
        // What Llama does accept: a head_dim other than d_model / n_head when n_head divides d_model,
        // the derived head_dim, grouped-query attention.
        XCTAssertNil(try config(.llama, d: 32, heads: 2, headDim: 8).transformersRefusal)
        XCTAssertNil(try config(.llama, d: 48, heads: 3).transformersRefusal)
        XCTAssertNil(try config(.llama, d: 32, heads: 4, kvHeads: 2).transformersRefusal)
        for architecture in HuggingFaceArchitecture.allCases {
            XCTAssertEqual(
                try config(architecture, d: 40, heads: 4, headDim: 5).transformersRefusal,
                "transformers requires an even head_dim for RoPE (got head_dim = 5)")
            XCTAssertEqual(
                try config(architecture, d: 32, heads: 4, kvHeads: 3).transformersRefusal,
                "transformers requires num_key_value_heads to divide num_attention_heads (n_kv_head = 3, n_head = 4)")
        }
    }

    /// An export of a shape the class refuses fails before writing anything, naming the rule;
    /// the same shapes export as Qwen3 and OLMo 2.
    func testExportRefusesWhatTheClassCannotHold() throws {
        let shapes = ["model.d_model=32", "model.n_head=3", "model.head_dim=16"]
        let trained = try trainedModel(Self.llama + shapes, name: "llama-3-heads")
        let folder = scratch.appendingPathComponent("llama-3-heads-hf")
        assertThrows(
            try HuggingFaceExport.write(trained, to: folder),
            containing:
                "LlamaForCausalLM cannot hold this model: transformers' LlamaConfig requires hidden_size % num_attention_heads == 0"
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing written")
        for (layout, name) in [(Self.qwen3, "qwen3-3-heads"), (Self.olmo2, "olmo2-3-heads")] {
            let json = try configJSON(try exportedRun(layout + shapes, name: name).folder)
            XCTAssertEqual(
                [json["hidden_size"] as? Int, json["num_attention_heads"] as? Int, json["head_dim"] as? Int],
                [32, 3, 16], name)
        }
    }

    func testUnsupportedLayoutsAreRefusedNamingTheSwitch() throws {
        let refusals: [([String], String)] = [
            (Self.qwen3 + ["model.position=learned"], "position = \"learned\" has no Hugging Face equivalent"),
            (Self.qwen3 + ["model.mlp=gelu"], "mlp = \"gelu\" has no Hugging Face equivalent"),
            (
                ["model.block_norm=sandwich", "model.qk_norm=full"],
                "qk_norm = \"full\" with block_norm = \"sandwich\" has no Hugging Face equivalent"
            ),
            (
                ["model.block_norm=post", "model.qk_norm=head"],
                "qk_norm = \"head\" with block_norm = \"post\" has no Hugging Face equivalent"
            ),
            (
                ["model.block_norm=post", "model.qk_norm=off"],
                "qk_norm = \"off\" with block_norm = \"post\" has no Hugging Face equivalent"
            ),
        ]
        for (index, (overrides, message)) in refusals.enumerated() {
            let trained = try trainedModel(overrides, name: "unsupported-\(index)")
            let folder = scratch.appendingPathComponent("unsupported-\(index)-hf")
            assertThrows(try HuggingFaceExport.write(trained, to: folder), containing: message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing is written")
        }
    }

    // MARK: - Import

    func testRoundTripExportInitFromGivesIdenticalLogits() throws {
        for (overrides, name) in [(Self.qwen3, "qwen3"), (Self.llama, "llama"), (Self.olmo2, "olmo2")] {
            let (trained, folder) = try exportedRun(overrides, name: name)
            let run = RunFolder(scratch.appendingPathComponent("\(name)-imported"))
            let imported = try Trainer(
                config: try smokeConfig(overrides + ["model.seed=7", "train.max_steps=1", "train.eval_interval=0"]),
                folder: run,
                configSource: "test", initialWeights: HuggingFaceImport.initialWeights(folder))
            let tokens = Array(
                try trained.tokenizer.encode("In the beginning God created the heaven").prefix(
                    trained.config.model.blockSize))
            let original = try SequenceLogits(model: trained.model, tokens: tokens).logits
            XCTAssertEqual(
                try SequenceLogits(model: imported.model, tokens: tokens).logits, original, "\(name): logits differ")
            imported.progress = ConsoleProgress(isTerminal: false, quiet: true)
            try imported.run()  // run.txt is written when the run begins
            XCTAssertTrue(try String(contentsOf: run.info, encoding: .utf8).contains("weights from \(folder.path)"))
        }
    }

    func testInitFromRefusesAFolderThatDoesNotFit() throws {
        let (_, exported) = try exportedRun(Self.qwen3, name: "source")
        func assertRefused(
            _ message: String, overrides: [String] = Self.qwen3, change: (URL) throws -> Void = { _ in },
            file: StaticString = #filePath, line: UInt = #line
        ) throws {
            try assertInitFromRefused(
                message, copying: exported, overrides: overrides, change: change, file: file, line: line)
        }
        try assertRefused(
            "model_type \"qwen3\" is the layout block_norm = \"pre\", qk_norm = \"head\"", overrides: Self.llama)
        try assertRefused(
            "hidden_size is 32 but the run's [model] has d_model = 64 (start it with --set model.d_model=32)",
            overrides: Self.qwen3 + ["model.d_model=64"])
        try assertRefused(
            "num_key_value_heads is 2 but the run's [model] has n_kv_head = 1",
            overrides: Self.qwen3 + ["model.n_kv_head=1"])
        try assertRefused(
            "intermediate_size is 96 but the run's [model] has d_ff = 64", overrides: Self.qwen3 + ["model.d_ff=64"])
        try assertRefused(
            "rms_norm_eps is 1e-06 but the run's [model] has norm_eps = 1e-05",
            overrides: Self.qwen3 + ["model.norm_eps=1e-5"])
        try assertRefused(
            "tie_word_embeddings is true but the run's [model] has tie_embeddings = false",
            overrides: Self.qwen3 + ["model.tie_embeddings=false"])
        try assertRefused(
            "the run's [model] position = \"learned\" has no Hugging Face equivalent",
            overrides: Self.qwen3 + ["model.position=learned"])
        try assertRefused("vocab_size is 62 but the corpus has 61 characters") {
            try self.rewriteConfig(in: $0) { $0["vocab_size"] = 62 }
        }
        try assertRefused("differs from the corpus vocabulary at id 1: \"!\" vs \" \"") { folder in
            var characters = try JSONDecoder().decode(
                [String].self, from: Data(contentsOf: folder.appendingPathComponent("vocab.json")))
            characters[1] = "!"
            try JSONEncoder().encode(characters).write(to: folder.appendingPathComponent("vocab.json"))
        }
        try assertRefused("missing tensor model.norm.weight") {
            try self.rewriteWeights(in: $0) { $0.removeAll { $0.name == "model.norm.weight" } }
        }
        try assertRefused("unexpected tensor lm_head.weight") { folder in
            try self.rewriteWeights(in: folder) {
                $0.append(NamedTensor(name: "lm_head.weight", shape: [61, 32], values: $0[0].values))
            }
        }
        try assertRefused("model.layers.1.self_attn.q_norm.weight has shape [32], the model needs [16]") { folder in
            try self.rewriteWeights(in: folder) { tensors in
                let index = tensors.firstIndex { $0.name == "model.layers.1.self_attn.q_norm.weight" }!
                tensors[index] = NamedTensor(
                    name: tensors[index].name, shape: [32], values: Array(repeating: 1, count: 32))
            }
        }
        try assertRefused("rope_type \"llama3\"") {
            try self.rewriteConfig(in: $0) { $0["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 10000] }
        }
        try assertRefused("has no config.json") {
            try FileManager.default.removeItem(at: $0.appendingPathComponent("config.json"))
        }
    }

    func testFailedImportLeavesTheModelUntouched() throws {
        let (trained, exported) = try exportedRun(Self.qwen3, name: "source")
        let other = try trainedModel(Self.qwen3 + ["model.seed=99"], name: "other")
        let before = other.model.parameters.map(\.tensor.values)
        try rewriteWeights(in: exported) { $0.removeLast() }
        XCTAssertThrowsError(try HuggingFaceImport.load(exported, into: other.model, vocabulary: trained.tokenizer))
        XCTAssertEqual(other.model.parameters.map(\.tensor.values), before, "a failed import must not copy anything")
    }

    /// A config.json as `transformers` writes it, with fields left out: the class defaults apply.
    func testReadingConfigJSONAppliesTheClassDefaults() throws {
        func read(_ fields: [String: Any]) throws -> HuggingFaceConfig {
            let sizes: [String: Any] = [
                "vocab_size": 61, "hidden_size": 32, "intermediate_size": 96, "num_hidden_layers": 2,
                "num_attention_heads": 2,
            ]
            return try HuggingFaceConfig(
                json: JSONSerialization.data(withJSONObject: sizes.merging(fields) { $1 }), source: "config.json")
        }
        let qwen3 = try read(["model_type": "qwen3"])
        XCTAssertEqual([qwen3.headDim, qwen3.numKeyValueHeads], [128, 2], "Qwen3's head_dim defaults to 128")
        XCTAssertEqual(qwen3.rmsNormEps, 1e-6)
        XCTAssertFalse(qwen3.tieWordEmbeddings)
        let olmo2 = try read(["model_type": "olmo2", "rope_theta": 5e5])
        XCTAssertEqual(olmo2.rmsNormEps, 1e-5, "OLMo 2's rms_norm_eps defaults to 1e-5")
        XCTAssertEqual(olmo2.headDim, 16)
        XCTAssertEqual(olmo2.ropeTheta, 5e5)
        XCTAssertEqual(
            try read(["model_type": "llama", "rope_theta": 1, "rope_parameters": ["rope_theta": 2.0]]).ropeTheta, 2,
            "rope_parameters first")
        assertThrows(
            try read(["model_type": "gpt2"]),
            containing: "model_type \"gpt2\"; QKLab reads \"qwen3\", \"llama\", \"olmo2\"")
        assertThrows(try read(["model_type": "llama", "hidden_act": "gelu"]), containing: "hidden_act \"gelu\"")
        assertThrows(try read(["model_type": "llama", "attention_bias": true]), containing: "attention_bias is true")
        assertThrows(
            try read(["model_type": "qwen3", "use_sliding_window": true]), containing: "use_sliding_window is true")
        assertThrows(
            try read(["model_type": "llama", "hidden_size": "32"]), containing: "not a usable config.json: hidden_size")
    }

    // MARK: - Logits

    func testSequenceLogitsJSONAndLimits() throws {
        let trained = try trainedModel(Self.qwen3, name: "logits")
        let logits = try SequenceLogits(model: trained.model, tokens: [1, 2, 3])
        let json = try JSONSerialization.jsonObject(with: Data(logits.json.utf8)) as! [String: Any]
        XCTAssertEqual(json["tokens"] as? [Int], [1, 2, 3])
        let rows = (json["logits"] as! [[NSNumber]]).map { $0.map(\.floatValue) }
        XCTAssertEqual(rows, logits.logits, "printed Floats read back exactly")
        XCTAssertEqual(rows.map(\.count), [61, 61, 61])
        assertThrows(try SequenceLogits(model: trained.model, tokens: []), containing: "between 1 and block_size = 32")
        assertThrows(
            try SequenceLogits(model: trained.model, tokens: Array(repeating: 0, count: 33)),
            containing: "between 1 and block_size = 32")
        assertThrows(
            try SequenceLogits(model: trained.model, tokens: [61]), containing: "token id 61 is outside the vocabulary")
    }
}
