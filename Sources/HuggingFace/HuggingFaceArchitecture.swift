import Transformer

/// The Hugging Face classes a QKLab layout can be (docs/spec/model.md, "Hugging Face layouts"). All use
/// RoPE; they differ in where the norms sit, the norm gain's form, the MLP, partial RoPE and the
/// attention variants they hold (sliding-window layers: OLMo 3, Gemma 2 and 3, the local layers
/// with their own RoPE base in OLMo 3 and Gemma 3; soft-caps: Gemma 2 and 3):
///
///     qwen3       pre,      qk head, plain,  swiglu                         Qwen3ForCausalLM
///     llama       pre,      qk off,  plain,  swiglu                         LlamaForCausalLM
///     olmo2       post,     qk full, plain,  swiglu                         Olmo2ForCausalLM
///     olmo3       post,     qk full, plain,  swiglu                         Olmo3ForCausalLM
///     gemma3      sandwich, qk head, offset, geglu or swiglu, embed_scale   Gemma3ForCausalLM (text)
///     qwen3Next   pre,      qk head, offset, swiglu, any rope_fraction      Qwen3NextForCausalLM (dense)
///     gemma2      sandwich, qk off,  offset, geglu or swiglu, embed_scale   Gemma2ForCausalLM
///     glm4Moe     pre,      qk head or off, plain, swiglu, any rope_fraction, any attention_bias
///                                                                           Glm4MoeForCausalLM (dense layers)
///     miniMaxM2   pre,      qk full, plain,  swiglu, any rope_fraction      MiniMaxM2ForCausalLM (one expert)
///     sarvamMoe   pre,      qk head, plain,  swiglu, any rope_fraction, any attention_bias
///                                                                           Glm4MoeForCausalLM (`sarvam_moe`)
///
/// Without sliding windows OLMo 2 and OLMo 3 compute the same network here (every OLMo 3 layer
/// then written as full attention): such a layout exports as OLMo 2 unless OLMo 3 is asked for;
/// with them, as OLMo 3. Sarvam 30B's `sarvam_moe` is served by `Glm4MoeForCausalLM`
/// (transformers' `modeling_auto`), so its layouts are GLM's with QK-Norm; a layout exports as
/// Sarvam only when asked for. GLM-4.5 and Sarvam are written with every layer dense
/// (`ExpertClassFields`), MiniMax-M2 with one expert (`SingleExpert`).
public enum HuggingFaceArchitecture: String, CaseIterable, Sendable {
    case qwen3, llama, olmo2, olmo3
    case gemma3 = "gemma3_text"
    case qwen3Next = "qwen3_next"
    case gemma2
    case glm4Moe = "glm4_moe"
    case miniMaxM2 = "minimax_m2"
    case sarvamMoe = "sarvam_moe"

    /// The `model_type` of `config.json`.
    public var modelType: String { rawValue }

    /// The class named in `config.json`'s `architectures`.
    public var className: String {
        switch self {
        case .qwen3: return "Qwen3ForCausalLM"
        case .llama: return "LlamaForCausalLM"
        case .olmo2: return "Olmo2ForCausalLM"
        case .olmo3: return "Olmo3ForCausalLM"
        case .gemma3: return "Gemma3ForCausalLM"
        case .qwen3Next: return "Qwen3NextForCausalLM"
        case .gemma2: return "Gemma2ForCausalLM"
        case .glm4Moe, .sarvamMoe: return "Glm4MoeForCausalLM"
        case .miniMaxM2: return "MiniMaxM2ForCausalLM"
        }
    }

    /// The name `--class` takes and messages use: the class, or the `model_type` where two
    /// share a class (`sarvam_moe`).
    public var name: String { self == .sarvamMoe ? modelType : className }

    /// The QK-Norm scopes the class computes: GLM-4.5's `use_qk_norm` switches it off.
    var qkNorms: [ModelConfig.QKNorm] {
        switch self {
        case .qwen3, .gemma3, .qwen3Next, .sarvamMoe: return [.head]
        case .llama, .gemma2: return [.off]
        case .olmo2, .olmo3, .miniMaxM2: return [.full]
        case .glm4Moe: return [.head, .off]
        }
    }

    /// Whether the class has `attention_bias` (q, k and v biases, o_proj without).
    var allowsAttentionBias: Bool { [.glm4Moe, .sarvamMoe].contains(self) }

    /// Whether the class rotates any fraction of each head (`partial_rotary_factor`).
    var allowsAnyRopeFraction: Bool { [.qwen3Next, .glm4Moe, .miniMaxM2, .sarvamMoe].contains(self) }

    /// Gemma 2 and 3: their activation is `hidden_activation`, their scores' scale `query_pre_attn_scalar`.
    var isGemma: Bool { self == .gemma2 || self == .gemma3 }

    /// Whether the class has sliding-window layers (`sliding_window`, `layer_types`).
    var holdsSlidingWindows: Bool { [.olmo3, .gemma3, .gemma2].contains(self) }

    /// Whether its local layers have a RoPE base of their own (`rope_parameters` per attention type).
    var holdsLocalRopeTheta: Bool { [.olmo3, .gemma3].contains(self) }

    /// Whether it soft-caps the attention and output logits (`attn_logit_softcapping`,
    /// `final_logit_softcapping`).
    var holdsSoftcaps: Bool { [.gemma2, .gemma3].contains(self) }

    /// One `[model]` switch of the class's network: its key, the values the class computes
    /// (nil: any), and the model's value as written in a config. An attention variant the class
    /// lacks (`isLayout` false: off is its only value) is not part of the layout's description.
    struct Requirement {
        let key: String
        let allowed: [String]?
        var isLayout = true
        let value: (ModelConfig) -> String
    }

    /// Every switch that decides whether a layout is this class's network.
    var requirements: [Requirement] {
        let (blockNorm, normWeight, mlps, embedScale):
            (
                ModelConfig.BlockNorm, ModelConfig.NormWeight, [ModelConfig.MLP], Bool
            )
        switch self {
        case .qwen3, .llama, .glm4Moe, .miniMaxM2, .sarvamMoe:
            (blockNorm, normWeight, mlps, embedScale) = (.pre, .plain, [.swiglu], false)
        case .olmo2, .olmo3:
            (blockNorm, normWeight, mlps, embedScale) = (.post, .plain, [.swiglu], false)
        case .gemma3, .gemma2:
            (blockNorm, normWeight, mlps, embedScale) = (.sandwich, .offset, [.geglu, .swiglu], true)
        case .qwen3Next:
            (blockNorm, normWeight, mlps, embedScale) = (.pre, .offset, [.swiglu], false)
        }
        func quoted(_ text: String) -> String { "\"\(text)\"" }
        return [
            Requirement(key: "block_norm", allowed: [quoted(blockNorm.rawValue)]) { quoted($0.blockNorm.rawValue) },
            Requirement(key: "qk_norm", allowed: qkNorms.map { quoted($0.rawValue) }) { quoted($0.qkNorm.rawValue) },
            Requirement(key: "norm_weight", allowed: [quoted(normWeight.rawValue)]) { quoted($0.normWeight.rawValue) },
            Requirement(key: "mlp", allowed: mlps.map { quoted($0.rawValue) }) { quoted($0.mlp.rawValue) },
            Requirement(key: "position", allowed: [quoted("rope")]) { quoted($0.position.rawValue) },
            Requirement(key: "embed_scale", allowed: ["\(embedScale)"]) { "\($0.embedScale)" },
            Requirement(key: "rope_fraction", allowed: allowsAnyRopeFraction ? nil : ["1.0"]) { "\($0.ropeFraction)" },
            Requirement(key: "attention_bias", allowed: allowsAttentionBias ? nil : ["false"]) {
                "\($0.attentionBias)"
            },
            Requirement(key: "sliding_window", allowed: holdsSlidingWindows ? nil : ["0"], isLayout: false) {
                "\($0.slidingWindow)"
            },
            Requirement(key: "attn_softcap", allowed: holdsSoftcaps ? nil : ["0.0"], isLayout: false) {
                "\($0.attnSoftcap)"
            },
            Requirement(key: "final_softcap", allowed: holdsSoftcaps ? nil : ["0.0"], isLayout: false) {
                "\($0.finalSoftcap)"
            },
        ]
    }

    /// The switches of `model` this class does not compute, as `key = value` phrases with what
    /// the class needs (empty: the class holds `model`'s network).
    func mismatches(_ model: ModelConfig) -> [(key: String, phrase: String)] {
        requirements.compactMap { requirement in
            let value = requirement.value(model)
            guard let allowed = requirement.allowed, !allowed.contains(value) else { return nil }
            return (requirement.key, "\(requirement.key) = \(allowed.joined(separator: " or "))")
        }
    }

    /// The class's layout as `--set` overrides, e.g. `--set model.block_norm=pre --set model.qk_norm=head`
    /// (the first allowed value of each switch).
    var layoutOverrides: String {
        requirements.filter(\.isLayout).compactMap { requirement in
            requirement.allowed.map {
                "--set model.\(requirement.key)=\($0[0].replacingOccurrences(of: "\"", with: ""))"
            }
        }.joined(separator: " ")
    }

    /// The class's layout as config keys, for messages: `block_norm = "pre", qk_norm = "head", …`.
    var layoutDescription: String {
        requirements.filter(\.isLayout).compactMap { requirement in
            requirement.allowed.map { "\(requirement.key) = \($0.joined(separator: " or "))" }
        }
        .joined(separator: ", ")
    }

    /// The class of `model`'s layout: `preferred` when given (it must hold the layout), else the
    /// first that does (never `sarvam_moe`, which GLM-4.5's class serves too). Throws, naming the
    /// switch that prevents it, for the layouts Hugging Face has no class for.
    public init(layout model: ModelConfig, preferred: HuggingFaceArchitecture? = nil) throws {
        if model.qkNormGain > 0 {  // Wortsman et al. 2023's κ experiment: no class has a constant QK gain
            throw HuggingFaceError(
                "qk_norm_gain = \(model.qkNormGain) (a fixed QK-Norm gain) has no Hugging Face equivalent")
        }
        if model.attentionScale != .inverseSqrtHeadDim {  // the classes here scale scores by head_dim^-0.5
            throw HuggingFaceError(
                "attention_scale = \"\(model.attentionScale.rawValue)\" has no Hugging Face equivalent here (every class scales by 1/√head_dim)"
            )
        }
        if let preferred {
            let missing = preferred.mismatches(model)
            guard missing.isEmpty else {
                throw HuggingFaceError(
                    "\(preferred.name) needs \(missing.map(\.phrase).joined(separator: ", ")); "
                        + "the run has \(missing.map { key, _ in Self.current(key, model) }.joined(separator: ", "))")
            }
            self = preferred
            return
        }
        if let match = Self.allCases.first(where: { $0 != .sarvamMoe && $0.mismatches(model).isEmpty }) {
            self = match
            return
        }
        if model.position != .rope {
            throw HuggingFaceError(
                "position = \"\(model.position.rawValue)\" has no Hugging Face equivalent (every class here uses rope)")
        }
        if model.mlp == .gelu {
            throw HuggingFaceError(
                "mlp = \"gelu\" has no Hugging Face equivalent (their GELU variant is a gated GeGLU: use geglu, or swiglu)"
            )
        }
        // The closest class with the same block layout (every block_norm has one), by switches that differ.
        let closest = Self.allCases.filter {
            $0 != .sarvamMoe && $0.mismatches(model).allSatisfy { $0.key != "block_norm" }
        }
        .min { $0.mismatches(model).count < $1.mismatches(model).count }!
        let missing = closest.mismatches(model)
        throw HuggingFaceError(
            "\(Self.current(missing[0].key, model)) with block_norm = \"\(model.blockNorm.rawValue)\" has no Hugging Face equivalent "
                + "(the closest class, \(closest.className), needs \(missing.map(\.phrase).joined(separator: ", ")))")
    }

    /// The class named `name`: its class name (`Olmo3ForCausalLM`) or `model_type` (`olmo3`,
    /// `sarvam_moe`); `Glm4MoeForCausalLM` is GLM-4.5's `glm4_moe`.
    public init(named name: String) throws {
        guard let match = Self.allCases.first(where: { $0.className == name || $0.modelType == name }) else {
            throw HuggingFaceError(
                "unknown Hugging Face class \"\(name)\"; QKLab exports \(Self.allCases.map(\.name).joined(separator: ", "))"
            )
        }
        self = match
    }

    /// `key = value` for `model`'s value of switch `key`.
    static func current(_ key: String, _ model: ModelConfig) -> String {
        "\(key) = \(Self.qwen3.requirements.first { $0.key == key }!.value(model))"
    }
}

/// An export or import that cannot be done, as one line saying why.
public struct HuggingFaceError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
