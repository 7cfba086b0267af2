import Transformer

/// The three Hugging Face classes a QKLab layout can be (model.md, "Hugging Face layouts"). All
/// use RoPE and SwiGLU; they differ in where the norms sit:
///
///     qwen3   block_norm = pre,  qk_norm = head   Qwen3ForCausalLM
///     llama   block_norm = pre,  qk_norm = off    LlamaForCausalLM
///     olmo2   block_norm = post, qk_norm = full   Olmo2ForCausalLM
public enum HuggingFaceArchitecture: String, CaseIterable, Sendable {
    case qwen3, llama, olmo2

    /// The `model_type` of `config.json`.
    public var modelType: String { rawValue }

    /// The class named in `config.json`'s `architectures`.
    public var className: String {
        switch self {
        case .qwen3: return "Qwen3ForCausalLM"
        case .llama: return "LlamaForCausalLM"
        case .olmo2: return "Olmo2ForCausalLM"
        }
    }

    /// Where this class puts its norms.
    public var blockNorm: ModelConfig.BlockNorm { self == .olmo2 ? .post : .pre }
    public var qkNorm: ModelConfig.QKNorm {
        switch self {
        case .qwen3: return .head
        case .llama: return .off
        case .olmo2: return .full
        }
    }

    /// The layout as config keys, for messages: `block_norm = "pre", qk_norm = "head"`.
    var layoutDescription: String {
        "block_norm = \"\(blockNorm.rawValue)\", qk_norm = \"\(qkNorm.rawValue)\""
    }

    /// The class of `model`'s layout; throws, naming the switch that prevents it, for the layouts
    /// Hugging Face has no class for.
    public init(layout model: ModelConfig) throws {
        if model.position != .rope {
            throw HuggingFaceError("position = \"\(model.position.rawValue)\" has no Hugging Face equivalent (Qwen3, Llama and OLMo 2 use rope)")
        }
        if model.mlp != .swiglu {
            throw HuggingFaceError("mlp = \"\(model.mlp.rawValue)\" has no Hugging Face equivalent (their GELU variant is a gated GeGLU; use swiglu)")
        }
        guard let match = Self.allCases.first(where: { $0.blockNorm == model.blockNorm && $0.qkNorm == model.qkNorm }) else {
            throw HuggingFaceError("qk_norm = \"\(model.qkNorm.rawValue)\" with block_norm = \"\(model.blockNorm.rawValue)\" has no Hugging Face equivalent "
                                   + "(supported: \(Self.allCases.map { "\($0.layoutDescription) (\($0.className))" }.joined(separator: "; ")))")
        }
        self = match
    }
}

/// An export or import that cannot be done, as one line saying why.
public struct HuggingFaceError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
