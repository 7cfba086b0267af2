import Formats
import Foundation
import HuggingFace
import Training
import Transformer
import XCTest

/// Export and import of the mixture-of-experts classes that hold QKLab's dense layouts: GLM-4.5
/// (`Glm4MoeForCausalLM`, every layer dense), MiniMax-M2 (`MiniMaxM2ForCausalLM`, one expert) and
/// Sarvam 30B (`sarvam_moe`, served by `Glm4MoeForCausalLM`).
extension ExportEndToEndTests {
    /// The three presets' switches on the smoke model, with the class each exports as.
    static let expertClasses: [([String], String, HuggingFaceArchitecture?, HuggingFaceArchitecture)] = [
        (glm45, "glm45", nil, .glm4Moe), (miniMaxM2, "minimax-m2", nil, .miniMaxM2),
        (sarvam, "sarvam", .sarvamMoe, .sarvamMoe),
    ]

    /// Names and shapes as written out by hand (`expectedTensors`), and the values: the
    /// checkpoint's, MiniMax-M2's expert 0 being gate (w1), up (w3) and down (w2) after a zero
    /// router row and a zero correction bias.
    func testExpertClassesExportNamesShapesAndValues() throws {
        for (overrides, name, preferred, architecture) in Self.expertClasses {
            let (trained, folder) = try exportedRun(overrides, name: name, as: preferred)
            XCTAssertEqual(try configJSON(folder)["architectures"] as? [String], [architecture.className])
            XCTAssertEqual(try configJSON(folder)["model_type"] as? String, architecture.modelType)
            let header = try safetensorsHeader(folder).filter { $0.key != "__metadata__" }
            XCTAssertEqual(
                header.mapValues { $0["shape"] as! [Int] }, expectedTensors(architecture, tied: true), name)
            let checkpoint = try SafeTensors.read(trained.checkpoint.appendingPathComponent("model.safetensors"))
                .tensors
            let exported = Dictionary(
                uniqueKeysWithValues: try SafeTensors.read(folder.appendingPathComponent("model.safetensors")).tensors
                    .map { ($0.name, $0.values) })
            for tensor in checkpoint {
                var stored = tensor.name
                if architecture == .miniMaxM2, tensor.name.contains(".mlp.") {
                    let released = ["gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"]
                    let projection = tensor.name.split(separator: ".")[4]
                    stored = tensor.name.replacingOccurrences(
                        of: "mlp.\(projection)", with: "block_sparse_moe.experts.0.\(released[String(projection)]!)")
                }
                XCTAssertEqual(exported[stored], tensor.values, "\(name): \(stored)")
            }
            if architecture == .miniMaxM2 {
                for layer in 0..<2 {
                    let block = "model.layers.\(layer).block_sparse_moe"
                    XCTAssertEqual(exported["\(block).gate.weight"], [Float](repeating: 0, count: 32))
                    XCTAssertEqual(exported["\(block).e_score_correction_bias"], [0])
                }
            }
        }
    }

    /// The fields whose class defaults differ from QKLab's, written explicitly.
    func testExpertClassesConfigJSON() throws {
        let glm = try configJSON(try exportedRun(Self.glm45, name: "glm-json", as: nil).folder)
        XCTAssertEqual(glm["use_qk_norm"] as? Bool, true, "Glm4MoeConfig's default is false")
        XCTAssertEqual(glm["first_k_dense_replace"] as? Int, 2, "every layer dense")
        XCTAssertEqual(glm["num_nextn_predict_layers"] as? Int, 0)
        XCTAssertEqual(glm["head_dim"] as? Int, 16)
        XCTAssertEqual(glm["rms_norm_eps"] as? Double, 1e-6, "Glm4MoeConfig's default is 1e-5")
        XCTAssertEqual(glm["tie_word_embeddings"] as? Bool, true)
        XCTAssertEqual(glm["attention_bias"] as? Bool, true)
        XCTAssertEqual((glm["rope_parameters"] as? [String: Any])?["partial_rotary_factor"] as? Double, 0.5)

        let minimax = try configJSON(try exportedRun(Self.miniMaxM2, name: "minimax-json", as: nil).folder)
        XCTAssertEqual(minimax["num_local_experts"] as? Int, 1)
        XCTAssertEqual(minimax["num_experts_per_tok"] as? Int, 1)
        XCTAssertEqual(minimax["head_dim"] as? Int, 16, "MiniMaxM2Config's default is 128")
        XCTAssertEqual(minimax["rotary_dim"] as? Int, 8, "the released checkpoints' key")
        let rope = try XCTUnwrap(minimax["rope_parameters"] as? [String: Any])
        XCTAssertEqual(rope["rope_theta"] as? Double, 10000, "MiniMaxM2Config's default is 5e6")
        XCTAssertEqual(rope["partial_rotary_factor"] as? Double, 0.5)
        for key in ["bos_token_id", "eos_token_id"] { XCTAssertTrue(minimax[key] is NSNull, "\(key): 200034/200020") }
        XCTAssertEqual(minimax["attention_bias"] as? Bool, false)

        let sarvam = try configJSON(try exportedRun(Self.sarvam, name: "sarvam-json", as: .sarvamMoe).folder)
        XCTAssertEqual(sarvam["use_qk_norm"] as? Bool, true)
        XCTAssertEqual(sarvam["first_k_dense_replace"] as? Int, 2)
        XCTAssertEqual((sarvam["rope_parameters"] as? [String: Any])?["rope_theta"] as? Double, 8e6)
        XCTAssertEqual((sarvam["rope_parameters"] as? [String: Any])?["partial_rotary_factor"] as? Double, 1)

        // GLM-4.5-Air's attention: no QK-Norm (use_qk_norm false), partial RoPE, no bias.
        let air = try configJSON(
            try exportedRun(["model.qk_norm=off", "model.rope_fraction=0.5"], name: "glm-air-json", as: nil).folder)
        XCTAssertEqual(air["model_type"] as? String, "glm4_moe")
        XCTAssertEqual(air["use_qk_norm"] as? Bool, false)
        XCTAssertEqual(air["attention_bias"] as? Bool, false)
    }

    /// Export → `--init-from`: the same weights bit for bit and the same logits, for each class,
    /// GLM without QK-Norm, and MiniMax-M2 in transformers' in-memory naming as well
    /// (`save_pretrained` writes back the naming it loaded).
    func testExpertClassesRoundTripThroughInitFrom() throws {
        var cases = Self.expertClasses.map { ($0.0, $0.1, $0.2, false) }
        cases += [(["model.qk_norm=off", "model.rope_fraction=0.5"], "glm-air", nil, false)]
        cases += [(Self.miniMaxM2, "minimax-fused", nil, true)]
        for (overrides, name, preferred, fused) in cases {
            let (trained, folder) = try exportedRun(overrides, name: name, as: preferred)
            if fused { try rewriteWeights(in: folder, Self.fuseExperts) }
            let imported = try Trainer(
                config: try smokeConfig(overrides + ["model.seed=7"]),
                folder: RunFolder(scratch.appendingPathComponent("\(name)-imported")), configSource: "test",
                initialWeights: HuggingFaceImport.initialWeights(folder))
            XCTAssertEqual(
                imported.model.parameters.map(\.tensor.values), trained.model.parameters.map(\.tensor.values),
                "\(name): weights bit for bit")
            let tokens = Array(try trained.tokenizer.encode("In the beginning God created").prefix(32))
            XCTAssertEqual(
                try SequenceLogits(model: imported.model, tokens: tokens).logits,
                try SequenceLogits(model: trained.model, tokens: tokens).logits, "\(name): logits")
        }
    }

    /// MiniMax-M2's released tensors of one layer in transformers' in-memory naming: the router
    /// and correction bias under `mlp.`, `gate_up_proj [1, 2F, d] = [w1 ; w3]`, `down_proj [1, d, F]`.
    static func fuseExperts(_ tensors: inout [NamedTensor]) {
        var fused: [NamedTensor] = []
        var experts: [String: [String: NamedTensor]] = [:]
        for tensor in tensors {
            guard let range = tensor.name.range(of: ".block_sparse_moe.") else {
                fused.append(tensor)
                continue
            }
            let layer = String(tensor.name[..<range.lowerBound]), part = String(tensor.name[range.upperBound...])
            if part.hasPrefix("experts.0.") {
                experts[layer, default: [:]][String(part.split(separator: ".")[2])] = tensor
            } else {
                fused.append(NamedTensor(name: "\(layer).mlp.\(part)", shape: tensor.shape, values: tensor.values))
            }
        }
        for (layer, parts) in experts {
            let (w1, w3, w2) = (parts["w1"]!, parts["w3"]!, parts["w2"]!)
            fused.append(
                NamedTensor(
                    name: "\(layer).mlp.experts.gate_up_proj", shape: [1, 2 * w1.shape[0], w1.shape[1]],
                    values: w1.values + w3.values))
            fused.append(NamedTensor(name: "\(layer).mlp.experts.down_proj", shape: [1] + w2.shape, values: w2.values))
        }
        tensors = fused
    }

    /// What QKLab cannot hold is refused in one line naming it: MoE layers, more than one expert,
    /// a live router row, an expert other than the first, biases QKLab does not have.
    func testExpertClassImportsRefuseWhatQKLabCannotCompute() throws {
        let (_, glm) = try exportedRun(Self.glm45, name: "glm-source", as: nil)
        let (_, minimax) = try exportedRun(Self.miniMaxM2, name: "minimax-source", as: nil)
        let (_, sarvam) = try exportedRun(Self.sarvam, name: "sarvam-source", as: .sarvamMoe)
        let (_, qwen) = try exportedRun(Self.qwen3, name: "qwen-source", as: nil)
        func assertRefused(
            _ message: String, from source: URL, overrides: [String], file: StaticString = #filePath,
            line: UInt = #line, change: (URL) throws -> Void
        ) throws {
            try assertInitFromRefused(
                message, copying: source, overrides: overrides, change: change, file: file, line: line)
        }
        try assertRefused(
            "first_k_dense_replace is 1 for 2 layers, so layers 1 and up are MoE", from: glm, overrides: Self.glm45
        ) {
            try self.rewriteConfig(in: $0) { $0["first_k_dense_replace"] = 1 }
        }
        try assertRefused("first_k_dense_replace is missing (default 1)", from: sarvam, overrides: Self.sarvam) {
            try self.rewriteConfig(in: $0) { $0["first_k_dense_replace"] = nil }
        }
        try assertRefused("num_local_experts is 2 and num_experts_per_tok 1", from: minimax, overrides: Self.miniMaxM2)
        {
            try self.rewriteConfig(in: $0) { $0["num_local_experts"] = 2 }
        }
        try assertRefused(
            "num_local_experts is 256 and num_experts_per_tok 8", from: minimax, overrides: Self.miniMaxM2
        ) {
            try self.rewriteConfig(in: $0) { ($0["num_local_experts"], $0["num_experts_per_tok"]) = (nil, nil) }
        }
        try assertRefused(
            "model.layers.1.block_sparse_moe.gate.weight (the router) is not zero", from: minimax,
            overrides: Self.miniMaxM2
        ) {
            try self.rewriteWeights(in: $0) { tensors in
                tensors[tensors.firstIndex { $0.name == "model.layers.1.block_sparse_moe.gate.weight" }!].values[3] =
                    0.1
            }
        }
        try assertRefused(
            "model.layers.0.block_sparse_moe.experts.1.w1.weight belongs to an expert QKLab does not have",
            from: minimax, overrides: Self.miniMaxM2
        ) {
            try self.rewriteWeights(in: $0) { tensors in
                var second = tensors.first { $0.name == "model.layers.0.block_sparse_moe.experts.0.w1.weight" }!
                second.name = "model.layers.0.block_sparse_moe.experts.1.w1.weight"
                tensors.append(second)
            }
        }
        try assertRefused(
            "attention_bias is true; Qwen3ForCausalLM's would put a bias on o_proj too", from: qwen,
            overrides: Self.qwen3
        ) {
            try self.rewriteConfig(in: $0) { $0["attention_bias"] = true }
        }
        try assertRefused(
            "attention_bias is true but the run's [model] has attention_bias = false (start it with --set model.attention_bias=true)",
            from: glm, overrides: ["model.rope_fraction=0.5"]
        ) { _ in }
        try assertRefused("unexpected tensor model.layers.0.self_attn.o_proj.bias", from: glm, overrides: Self.glm45) {
            try self.rewriteWeights(in: $0) { tensors in
                tensors.append(
                    NamedTensor(
                        name: "model.layers.0.self_attn.o_proj.bias", shape: [32],
                        values: .init(repeating: 0, count: 32)))
            }
        }
        try assertRefused("mlp_bias is true; QKLab's MLPs have no biases", from: glm, overrides: Self.glm45) {
            try self.rewriteConfig(in: $0) { $0["mlp_bias"] = true }
        }
        try assertRefused(
            "use_qk_norm is off but the run's [model] has qk_norm = head (start it with --set model.qk_norm=off)",
            from: glm, overrides: Self.glm45
        ) {
            try self.rewriteConfig(in: $0) { $0["use_qk_norm"] = nil }  // Glm4MoeConfig's default: false
        }
        try assertRefused(
            "use_qk_norm is false; QKLab's sarvam_moe layout has QK-Norm per head", from: sarvam, overrides: Self.sarvam
        ) {
            try self.rewriteConfig(in: $0) { $0["use_qk_norm"] = false }
        }
    }

    /// `--class` names: the class, or `sarvam_moe` for Sarvam (which shares GLM's class).
    func testExpertClassNames() throws {
        XCTAssertEqual(try HuggingFaceArchitecture(named: "Glm4MoeForCausalLM"), .glm4Moe)
        XCTAssertEqual(try HuggingFaceArchitecture(named: "sarvam_moe"), .sarvamMoe)
        XCTAssertEqual(try HuggingFaceArchitecture(named: "MiniMaxM2ForCausalLM"), .miniMaxM2)
        var glm = Self.layout(.glm4Moe)
        XCTAssertEqual(try HuggingFaceArchitecture(layout: glm), .glm4Moe, "GLM's class, not Sarvam's, by default")
        glm.attentionBias = false
        glm.ropeFraction = 1
        XCTAssertEqual(try HuggingFaceArchitecture(layout: glm), .qwen3, "Qwen3's layout stays Qwen3's")
        XCTAssertEqual(try HuggingFaceArchitecture(layout: glm, preferred: .sarvamMoe), .sarvamMoe)
        assertThrows(
            try HuggingFaceArchitecture(layout: Self.layout(.miniMaxM2), preferred: .sarvamMoe),
            containing: "sarvam_moe needs qk_norm = \"head\"; the run has qk_norm = \"full\"")
    }
}
