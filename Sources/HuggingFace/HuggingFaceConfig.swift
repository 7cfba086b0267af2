import Formats
import Foundation
import Transformer

/// The fields of a Hugging Face `config.json` that decide the network (Qwen3, Llama and OLMo 2
/// classes, `transformers` 5.x).
///
/// Written by an export with every field explicit, since the classes' defaults differ from
/// QKLab's (Qwen3 `head_dim` 128, OLMo 2 `rms_norm_eps` 1e-5, `tie_word_embeddings` false);
/// read on import with those same class defaults for the fields a file leaves out.
public struct HuggingFaceConfig: Equatable, Sendable {
    public var architecture: HuggingFaceArchitecture
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    /// RoPE has no position table: this only records the context the model was trained on
    /// (0 when a file read leaves it out).
    public var maxPositionEmbeddings: Int
    public var ropeTheta: Double
    public var rmsNormEps: Double
    public var tieWordEmbeddings: Bool

    /// The config of `model`'s layout; throws, naming the switch, for layouts with no class.
    /// (Shapes the class's `transformers` config refuses are `transformersRefusal`.)
    public init(model: ModelConfig) throws {
        architecture = try HuggingFaceArchitecture(layout: model)
        vocabSize = model.vocabSize
        hiddenSize = model.dModel
        intermediateSize = model.feedForward
        numHiddenLayers = model.nLayer
        numAttentionHeads = model.nHead
        numKeyValueHeads = model.kvHeads
        headDim = model.headDimension
        maxPositionEmbeddings = model.blockSize
        ropeTheta = Self.decimal(model.ropeTheta)
        rmsNormEps = Self.decimal(model.normEps)
        tieWordEmbeddings = model.tieEmbeddings
    }

    /// The first rule of `transformers` that this config breaks for its class, naming the rule
    /// and the `[model]` keys; nil when `from_pretrained` accepts it. The rules, from the
    /// `transformers` 5.x sources, over the fields an export writes:
    ///
    /// - `LlamaConfig.validate_architecture`: `hidden_size % num_attention_heads == 0`, whatever
    ///   `head_dim` says. Qwen3Config and Olmo2Config have no such rule (their attention uses
    ///   `head_dim` as given; OLMo 2's config has no `head_dim` field, but keeps the one the
    ///   file gives and its attention reads it).
    /// - `PreTrainedConfig.validate_rope`, all three: an odd `head_dim` above 4 is refused.
    /// - The attention of all three repeats each key/value head `num_attention_heads //
    ///   num_key_value_heads` times, so `num_key_value_heads` must divide `num_attention_heads`.
    ///
    /// QKLab's own config rules already imply the last two (rope needs an even head_dim, and
    /// n_kv_head must divide n_head); they are checked here too so that the list is whole. An
    /// export checks them all before writing anything; an import does not (a folder written by
    /// an older `transformers`, which did not check the first rule, still describes a network).
    public var transformersRefusal: String? {
        if architecture == .llama && hiddenSize % numAttentionHeads != 0 {
            return "transformers' LlamaConfig requires hidden_size % num_attention_heads == 0 (whatever head_dim), "
                + "and d_model = \(hiddenSize) is not a multiple of n_head = \(numAttentionHeads); choose an n_head that divides d_model "
                + "(Qwen3 and OLMo 2 have no such rule, but their layouts have QK-Norm)"
        }
        if headDim > 4 && headDim % 2 != 0 {
            return "transformers requires an even head_dim for RoPE (got head_dim = \(headDim))"
        }
        if numKeyValueHeads < 1 || numAttentionHeads % numKeyValueHeads != 0 {
            return "transformers requires num_key_value_heads to divide num_attention_heads (n_kv_head = \(numKeyValueHeads), n_head = \(numAttentionHeads))"
        }
        return nil
    }

    /// A Float as the Double of its shortest decimal form (1e-6, not 9.99999997e-7), so the file
    /// reads as written in the config; both round to the same Float.
    static func decimal(_ value: Float) -> Double { Double("\(value)")! }

    /// `config.json` as pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

// MARK: - Writing

extension HuggingFaceConfig: Encodable {
    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads", headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings", ropeTheta = "rope_theta", ropeParameters = "rope_parameters"
        case rmsNormEps = "rms_norm_eps", tieWordEmbeddings = "tie_word_embeddings"
        case hiddenAct = "hidden_act", attentionBias = "attention_bias", mlpBias = "mlp_bias", attentionDropout = "attention_dropout"
        case useSlidingWindow = "use_sliding_window", torchDtype = "torch_dtype", dtype
        case padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
    }

    enum RopeKeys: String, CodingKey { case ropeType = "rope_type", ropeTheta = "rope_theta" }

    /// Every field explicit. `rope_theta` goes both at the top (older readers) and in
    /// `rope_parameters` (where `transformers` 5 reads it), and the weights' type both as
    /// `torch_dtype` and as its `transformers` 5 name `dtype`; the token ids are null because a
    /// character vocabulary has no special tokens (OLMo 2's defaults point outside it).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode([architecture.className], forKey: .architectures)
        try c.encode(architecture.modelType, forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        var rope = c.nestedContainer(keyedBy: RopeKeys.self, forKey: .ropeParameters)
        try rope.encode("default", forKey: .ropeType)
        try rope.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode("silu", forKey: .hiddenAct)
        try c.encode(false, forKey: .attentionBias)
        try c.encode(false, forKey: .mlpBias)
        try c.encode(0.0, forKey: .attentionDropout)
        if architecture == .qwen3 { try c.encode(false, forKey: .useSlidingWindow) }
        try c.encode("float32", forKey: .torchDtype)
        try c.encode("float32", forKey: .dtype)
        try c.encodeNil(forKey: .padTokenId)
        try c.encodeNil(forKey: .bosTokenId)
        try c.encodeNil(forKey: .eosTokenId)
    }
}

// MARK: - Reading

extension HuggingFaceConfig {
    /// Reads a `config.json` (`source` names it in errors). Fields left out take the class's
    /// default, as `transformers` would; features QKLab does not have (biases, another
    /// activation, scaled RoPE, sliding windows) are refused.
    public init(json: Data, source: String) throws {
        let fields: StoredFields
        do {
            fields = try JSONDecoder().decode(StoredFields.self, from: json)
        } catch let error as DecodingError {
            throw HuggingFaceError("\(source): not a usable config.json: \(Self.describe(error))")
        }
        guard let modelType = fields.modelType, let architecture = HuggingFaceArchitecture(rawValue: modelType) else {
            let supported = HuggingFaceArchitecture.allCases.map { "\"\($0.modelType)\"" }.joined(separator: ", ")
            throw HuggingFaceError("\(source): model_type \(fields.modelType.map { "\"\($0)\"" } ?? "missing"); QKLab reads \(supported)")
        }
        try fields.refuseUnsupportedFeatures(source: source)
        func required(_ value: Int?, _ key: String) throws -> Int {
            guard let value else { throw HuggingFaceError("\(source): \(key) is missing") }
            return value
        }
        self.architecture = architecture
        vocabSize = try required(fields.vocabSize, "vocab_size")
        hiddenSize = try required(fields.hiddenSize, "hidden_size")
        intermediateSize = try required(fields.intermediateSize, "intermediate_size")
        numHiddenLayers = try required(fields.numHiddenLayers, "num_hidden_layers")
        numAttentionHeads = try required(fields.numAttentionHeads, "num_attention_heads")
        numKeyValueHeads = fields.numKeyValueHeads ?? numAttentionHeads
        headDim = fields.headDim ?? (architecture == .qwen3 ? 128 : hiddenSize / max(numAttentionHeads, 1))
        maxPositionEmbeddings = fields.maxPositionEmbeddings ?? 0
        ropeTheta = fields.ropeParameters?.ropeTheta ?? fields.ropeScaling?.ropeTheta ?? fields.ropeTheta ?? 10000
        rmsNormEps = fields.rmsNormEps ?? (architecture == .olmo2 ? 1e-5 : 1e-6)
        tieWordEmbeddings = fields.tieWordEmbeddings ?? false
    }

    /// A decoding error as a short phrase naming the key.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "\(path): ") + context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    /// The keys of a `config.json` that QKLab reads (snake_case in the file).
    struct StoredFields: Decodable {
        var modelType: String?
        var vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads: Int?
        var numKeyValueHeads, headDim, maxPositionEmbeddings: Int?
        var ropeTheta: Double?
        /// `rope_parameters` (`transformers` 5) or its older name `rope_scaling`.
        var ropeParameters, ropeScaling: StoredRope?
        var rmsNormEps: Double?
        var tieWordEmbeddings: Bool?
        var hiddenAct: String?
        var attentionBias, mlpBias, useSlidingWindow: Bool?

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
            case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
            case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", maxPositionEmbeddings = "max_position_embeddings"
            case ropeTheta = "rope_theta", ropeParameters = "rope_parameters", ropeScaling = "rope_scaling", rmsNormEps = "rms_norm_eps"
            case tieWordEmbeddings = "tie_word_embeddings", hiddenAct = "hidden_act", attentionBias = "attention_bias"
            case mlpBias = "mlp_bias", useSlidingWindow = "use_sliding_window"
        }

        struct StoredRope: Decodable {
            var ropeType, type: String?
            var ropeTheta: Double?

            enum CodingKeys: String, CodingKey { case ropeType = "rope_type", type, ropeTheta = "rope_theta" }
        }

        func refuseUnsupportedFeatures(source: String) throws {
            if let hiddenAct, hiddenAct != "silu" {
                throw HuggingFaceError("\(source): hidden_act \"\(hiddenAct)\"; QKLab's SwiGLU uses silu")
            }
            if attentionBias == true || mlpBias == true {
                throw HuggingFaceError("\(source): \(attentionBias == true ? "attention_bias" : "mlp_bias") is true; QKLab layers have no biases")
            }
            for rope in [ropeParameters, ropeScaling].compactMap({ $0 }) {
                let kind = rope.ropeType ?? rope.type ?? "default"
                if kind != "default" {
                    throw HuggingFaceError("\(source): rope_type \"\(kind)\"; QKLab implements only the default RoPE")
                }
            }
            if useSlidingWindow == true {
                throw HuggingFaceError("\(source): use_sliding_window is true; QKLab attends to the whole context")
            }
        }
    }

    /// The first way this config does not describe `model`'s network, as one line with the
    /// `--set` that would make the run fit; nil when it fits. The vocabulary is checked apart
    /// (it comes from the corpus) and `max_position_embeddings` not at all (RoPE has no table).
    func mismatch(with model: ModelConfig, source: String) throws -> String? {
        let expected = try HuggingFaceConfig(model: model)
        if architecture != expected.architecture {
            return "\(source): model_type \"\(architecture.modelType)\" is the layout \(architecture.layoutDescription); "
                + "the run has \(expected.architecture.layoutDescription) (start it with --set model.block_norm=\(architecture.blockNorm.rawValue) --set model.qk_norm=\(architecture.qkNorm.rawValue))"
        }
        for (found, wanted) in zip(networkFields, expected.networkFields) where found.value != wanted.value {
            return "\(source): \(found.key) is \(found.value) but the run's [model] has \(found.modelKey) = \(wanted.value) "
                + "(start it with --set model.\(found.modelKey)=\(found.value))"
        }
        return nil
    }

    /// The fields that decide the network besides layout and vocabulary: (config.json key,
    /// [model] key, value as text). Reals are compared as the Float QKLab computes with.
    var networkFields: [(key: String, modelKey: String, value: String)] {
        [
            ("hidden_size", "d_model", "\(hiddenSize)"),
            ("num_hidden_layers", "n_layer", "\(numHiddenLayers)"),
            ("num_attention_heads", "n_head", "\(numAttentionHeads)"),
            ("num_key_value_heads", "n_kv_head", "\(numKeyValueHeads)"),
            ("head_dim", "head_dim", "\(headDim)"),
            ("intermediate_size", "d_ff", "\(intermediateSize)"),
            ("rope_theta", "rope_theta", "\(Float(ropeTheta))"),
            ("rms_norm_eps", "norm_eps", "\(Float(rmsNormEps))"),
            ("tie_word_embeddings", "tie_embeddings", "\(tieWordEmbeddings)"),
        ]
    }
}
