import Foundation
import Transformer

/// The `config.json` fields of the mixture-of-experts classes that hold QKLab's dense layouts
/// (`transformers` 5.25), beyond those every class shares (`HuggingFaceConfig`):
///
/// - GLM-4.5 (`Glm4MoeForCausalLM`, `glm4_moe`) and Sarvam 30B (`sarvam_moe`, served by the same
///   class): `Glm4MoeDecoderLayer` builds a dense `Glm4MoeMLP` for `layer_idx <
///   first_k_dense_replace` and a routed MoE block (router, experts, shared expert) after, so
///   `first_k_dense_replace` = `num_hidden_layers` makes every layer QKLab's SwiGLU (the default,
///   1, would make the later layers MoE with random routers and experts, loaded with only a
///   printed report). `use_qk_norm` builds `q_norm`/`k_norm` of `[head_dim]` (`Glm4MoeAttention`;
///   its default is false for GLM, true for Sarvam). `num_nextn_predict_layers` 0: no
///   multi-token-prediction module.
/// - MiniMax-M2 (`MiniMaxM2ForCausalLM`, `minimax_m2`): every layer is a `MiniMaxM2SparseMoeBlock`;
///   with one expert and top-1 routing it is the dense SwiGLU exactly (`SingleExpert`), in
///   evaluation (`router_jitter_noise`, default 0.0, is applied in training only).
///   `rotary_dim` is the released checkpoints' name of the rotated width, which
///   `MiniMaxM2Config.convert_rope_params_to_dict` turns into `partial_rotary_factor` when
///   `rope_parameters` does not give one.
///
/// An import refuses what QKLab cannot compute in one line: MoE layers (`first_k_dense_replace`
/// below `num_hidden_layers`), more than one expert or routing to more than one.
struct ExpertClassFields: Codable, Equatable {
    var useQKNorm: Bool?
    var firstKDenseReplace: Int?
    var numNextnPredictLayers: Int?
    var numLocalExperts: Int?
    var numExpertsPerTok: Int?
    var rotaryDim: Int?

    enum CodingKeys: String, CodingKey {
        case useQKNorm = "use_qk_norm"
        case firstKDenseReplace = "first_k_dense_replace"
        case numNextnPredictLayers = "num_nextn_predict_layers"
        case numLocalExperts = "num_local_experts"
        case numExpertsPerTok = "num_experts_per_tok"
        case rotaryDim = "rotary_dim"
    }

    /// The fields an export of `config` writes; nil for the classes without experts.
    init?(_ config: HuggingFaceConfig) {
        switch config.architecture {
        case .glm4Moe, .sarvamMoe:
            useQKNorm = config.qkNorm != .off
            firstKDenseReplace = config.numHiddenLayers
            numNextnPredictLayers = 0
        case .miniMaxM2:
            (numLocalExperts, numExpertsPerTok) = (1, 1)
            rotaryDim = Int(Double(config.headDim) * config.partialRotaryFactor)
        default:
            return nil
        }
    }

    /// The fields of a `config.json` (`json`, named `source` in errors) of `architecture` with
    /// `layers` layers; nil for the classes without experts. Throws for layouts with routed experts.
    init?(json: Data, architecture: HuggingFaceArchitecture, layers: Int, source: String) throws {
        guard [.glm4Moe, .sarvamMoe, .miniMaxM2].contains(architecture) else { return nil }
        do {
            self = try JSONDecoder().decode(Self.self, from: json)
        } catch let error as DecodingError {
            throw HuggingFaceError("\(source): not a usable config.json: \(HuggingFaceConfig.describe(error))")
        }
        try refuseExperts(of: architecture, layers: layers, source: source)
    }

    /// QK-Norm as the file has it (GLM's `use_qk_norm`, default false; Sarvam's, default true);
    /// nil for MiniMax-M2, whose QK-Norm is always over the whole projection.
    func qkNorm(of architecture: HuggingFaceArchitecture) -> ModelConfig.QKNorm? {
        switch architecture {
        case .glm4Moe: return useQKNorm == true ? .head : .off
        case .sarvamMoe: return .head  // use_qk_norm false is refused
        default: return nil
        }
    }

    /// Throws, naming the key, when a layer would route among experts.
    private func refuseExperts(of architecture: HuggingFaceArchitecture, layers: Int, source: String) throws {
        if architecture == .miniMaxM2 {
            let experts = numLocalExperts ?? 256, perToken = numExpertsPerTok ?? 8  // MiniMaxM2Config's defaults
            guard experts == 1 && perToken == 1 else {
                throw HuggingFaceError(
                    "\(source): num_local_experts is \(experts) and num_experts_per_tok \(perToken); QKLab's MLP is "
                        + "MiniMax-M2's block with one expert and top-1 routing only")
            }
            return
        }
        if architecture == .sarvamMoe && useQKNorm == false {
            throw HuggingFaceError("\(source): use_qk_norm is false; QKLab's sarvam_moe layout has QK-Norm per head")
        }
        let dense = firstKDenseReplace ?? 1  // Glm4MoeConfig's and SarvamMoEConfig's default
        if dense < layers {
            throw HuggingFaceError(
                "\(source): first_k_dense_replace is \(firstKDenseReplace.map(String.init) ?? "missing (default 1)") for "
                    + "\(layers) layers, so layers \(dense) and up are MoE; QKLab's layers are dense (first_k_dense_replace = num_hidden_layers)"
            )
        }
    }
}
