import Formats
import Foundation
import Transformer

/// The fields of a Hugging Face `config.json` that decide the network (the classes of
/// `HuggingFaceArchitecture`, `transformers` 5.x).
///
/// Written by an export with every field explicit, since the classes' defaults differ from
/// QKLab's (Qwen3 and MiniMax-M2 `head_dim` 128, Gemma 3 and Qwen3-Next `head_dim` 256, OLMo 2/3
/// and GLM-4.5 `rms_norm_eps` 1e-5, `tie_word_embeddings` false except Gemma 3, sliding-window or
/// linear-attention layers in OLMo 3, Gemma 3 and Qwen3-Next, mixture-of-experts MLPs in
/// Qwen3-Next, GLM-4.5, Sarvam and MiniMax-M2 (`ExpertClassFields`), RoPE base 5e6 in MiniMax-M2
/// and 8e6 in Sarvam, partial RoPE 0.5 in GLM-4.5); read on import with those same class defaults
/// for the fields a file leaves out.
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
    /// (0 when a file read leaves it out). OLMo 3 and Gemma 3 also get it as `sliding_window`.
    public var maxPositionEmbeddings: Int
    public var ropeTheta: Double
    /// `partial_rotary_factor` (QKLab's `rope_fraction`), 1 except in Qwen3-Next.
    public var partialRotaryFactor: Double
    public var rmsNormEps: Double
    public var tieWordEmbeddings: Bool
    /// The gated MLP's activation: `swiglu` (`silu`) or, in Gemma 2 and 3, `geglu` (`gelu_pytorch_tanh`).
    public var mlp: ModelConfig.MLP
    /// `sliding_window` of the `sliding_attention` layers (0: every layer `full_attention`).
    public var slidingWindow: Int
    /// QKLab's `global_every` k: `layer_types` has `full_attention` at the layers i with (i + 1) a
    /// multiple of k, `sliding_attention` elsewhere (1 without a window).
    public var globalEvery: Int
    /// The sliding layers' RoPE base (`rope_parameters.sliding_attention.rope_theta`; `rope_theta`
    /// without a window).
    public var ropeLocalTheta: Double
    /// `attn_logit_softcapping` and `final_logit_softcapping` (0: none, null in the file).
    public var attnLogitSoftcapping: Double, finalLogitSoftcapping: Double
    /// QK-Norm's scope: the class's own, or GLM-4.5's `use_qk_norm` (`head` or `off`).
    public var qkNorm: ModelConfig.QKNorm
    /// `attention_bias`: q, k and v biases (GLM-4.5 and Sarvam only).
    public var attentionBias: Bool

    /// The config of `model`'s layout, as `preferred` when given (e.g. OLMo 3 rather than OLMo 2);
    /// throws, naming the switch, for layouts with no class. (Shapes the class's `transformers`
    /// config refuses are `transformersRefusal`.)
    public init(model: ModelConfig, preferred: HuggingFaceArchitecture? = nil) throws {
        architecture = try HuggingFaceArchitecture(layout: model, preferred: preferred)
        vocabSize = model.vocabSize
        hiddenSize = model.dModel
        intermediateSize = model.feedForward
        numHiddenLayers = model.nLayer
        numAttentionHeads = model.nHead
        numKeyValueHeads = model.kvHeads
        headDim = model.headDimension
        maxPositionEmbeddings = model.blockSize
        ropeTheta = Self.decimal(model.ropeTheta)
        partialRotaryFactor = Self.decimal(model.ropeFraction)
        rmsNormEps = Self.decimal(model.normEps)
        tieWordEmbeddings = model.tieEmbeddings
        mlp = model.mlp
        qkNorm = model.qkNorm
        attentionBias = model.attentionBias
        slidingWindow = model.slidingWindow
        globalEvery = model.slidingWindow > 0 ? model.globalEvery : 1
        ropeLocalTheta = model.slidingWindow > 0 ? Self.decimal(model.localRopeTheta) : ropeTheta
        attnLogitSoftcapping = Self.decimal(model.attnSoftcap)
        finalLogitSoftcapping = Self.decimal(model.finalSoftcap)
        if ropeLocalTheta != ropeTheta && !architecture.holdsLocalRopeTheta {
            throw HuggingFaceError(
                "\(architecture.className) has one RoPE base: rope_local_theta (\(model.localRopeTheta)) must equal rope_theta (\(model.ropeTheta))"
            )
        }
    }

    /// `layer_types`: `sliding_attention` for the local layers, `full_attention` for the others.
    public var layerTypes: [String] {
        (0..<numHiddenLayers).map {
            slidingWindow > 0 && ($0 + 1) % globalEvery != 0 ? "sliding_attention" : "full_attention"
        }
    }

    /// The first rule of `transformers` that this config breaks for its class, naming the rule
    /// and the `[model]` keys; nil when `from_pretrained` accepts it. The rules, from the
    /// `transformers` 5.x sources, over the fields an export writes:
    ///
    /// - `LlamaConfig.validate_architecture`: `hidden_size % num_attention_heads == 0`, whatever
    ///   `head_dim` says. Qwen3Config and Olmo2Config have no such rule (their attention uses
    ///   `head_dim` as given; OLMo 2's config has no `head_dim` field, but keeps the one the
    ///   file gives and its attention reads it).
    /// - `PreTrainedConfig.validate_rope`, every class: an odd `head_dim` above 4 is refused.
    /// - The attention of every class repeats each key/value head `num_attention_heads //
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
            return
                "transformers requires num_key_value_heads to divide num_attention_heads (n_kv_head = \(numKeyValueHeads), n_head = \(numAttentionHeads))"
        }
        return nil
    }

    /// A Float as the Double of its shortest decimal form (1e-6, not 9.99999997e-7), so the file
    /// reads as written in the config; both round to the same Float.
    static func decimal(_ value: Float) -> Double { Double("\(value)")! }

    /// `config.json` as pretty-printed JSON with sorted keys. The soft-caps keep a decimal point
    /// (`30.0`, where JSONEncoder writes a whole Double as `30`): transformers' Gemma2Config
    /// refuses an integer in a `float | None` field.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(self), as: UTF8.self)
        let floats = #/("(?:attn|final)_logit_softcapping" : )(-?[0-9]+)(,?\n)/#
        return Data(text.replacing(floats) { "\($0.output.1)\($0.output.2).0\($0.output.3)" }.utf8)
    }
}

// MARK: - Writing

extension HuggingFaceConfig: Encodable {
    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters"
        case partialRotaryFactor = "partial_rotary_factor"
        case rmsNormEps = "rms_norm_eps"
        case tieWordEmbeddings = "tie_word_embeddings"
        case hiddenAct = "hidden_act"
        case hiddenActivation = "hidden_activation"
        case attentionBias = "attention_bias"
        case mlpBias = "mlp_bias"
        case attentionDropout = "attention_dropout"
        case useSlidingWindow = "use_sliding_window"
        case slidingWindow = "sliding_window"
        case layerTypes = "layer_types"
        case queryPreAttnScalar = "query_pre_attn_scalar"
        case finalLogitSoftcapping = "final_logit_softcapping"
        case attnLogitSoftcapping = "attn_logit_softcapping"
        case numExperts = "num_experts"
        case decoderSparseStep = "decoder_sparse_step"
        case mlpOnlyLayers = "mlp_only_layers"
        case torchDtype = "torch_dtype"
        case dtype
        case padTokenId = "pad_token_id"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    enum RopeKeys: String, CodingKey {
        case ropeType = "rope_type"
        case ropeTheta = "rope_theta"
        case partialRotaryFactor = "partial_rotary_factor"
        case fullAttention = "full_attention"
        case slidingAttention = "sliding_attention"
    }

    /// Whether the class has per-layer attention types (`layer_types`): OLMo 3, Gemma 2 and 3 and
    /// Qwen3-Next, whose defaults mix in sliding-window or linear-attention layers.
    var hasLayerTypes: Bool { [.olmo3, .gemma3, .gemma2, .qwen3Next].contains(architecture) }

    /// Whether `rope_parameters` is nested per attention type (OLMo 3, Gemma 3).
    var hasNestedRope: Bool { [.olmo3, .gemma3].contains(architecture) }

    /// Gemma 2 and 3 name their activation `hidden_activation`, the others `hidden_act`.
    var activationKey: CodingKeys { architecture.isGemma ? .hiddenActivation : .hiddenAct }

    /// The activation's name in `transformers`.
    var activationName: String { mlp == .geglu ? "gelu_pytorch_tanh" : "silu" }

    /// Every field explicit. `rope_theta` goes both at the top (older readers) and in
    /// `rope_parameters` (where `transformers` 5 reads it; per attention type for OLMo 3 and
    /// Gemma 3, the local base under `sliding_attention`), and the weights' type both as
    /// `torch_dtype` and as its `transformers` 5 name `dtype`; the token ids are null because a
    /// character vocabulary has no special tokens (OLMo 2's defaults point outside it).
    /// `layer_types` names each layer's attention; `sliding_window` is an integer for the classes
    /// that read one (block_size without a window: null fails in OLMo 3 and Gemma 3). Gemma 2 and 3
    /// get `query_pre_attn_scalar` = head_dim (scores scaled by 1/√Dh, as QKLab's) and the
    /// soft-caps (null: none); Qwen3-Next has no experts (`num_experts` 0: a dense MLP in every
    /// layer).
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
        func encodeRope(_ container: inout KeyedEncodingContainer<RopeKeys>, theta: Double) throws {
            try container.encode("default", forKey: .ropeType)
            try container.encode(theta, forKey: .ropeTheta)
            if architecture.allowsAnyRopeFraction {
                try container.encode(partialRotaryFactor, forKey: .partialRotaryFactor)
            }
        }
        if hasNestedRope {
            for (key, theta) in [(RopeKeys.fullAttention, ropeTheta), (.slidingAttention, ropeLocalTheta)] {
                var nested = rope.nestedContainer(keyedBy: RopeKeys.self, forKey: key)
                try encodeRope(&nested, theta: theta)
            }
        } else {
            try encodeRope(&rope, theta: ropeTheta)
        }
        if architecture.allowsAnyRopeFraction { try c.encode(partialRotaryFactor, forKey: .partialRotaryFactor) }
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(activationName, forKey: activationKey)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(false, forKey: .mlpBias)
        try c.encode(0.0, forKey: .attentionDropout)
        if architecture == .qwen3 { try c.encode(false, forKey: .useSlidingWindow) }
        if hasLayerTypes { try c.encode(layerTypes, forKey: .layerTypes) }
        if architecture.holdsSlidingWindows {
            try c.encode(slidingWindow > 0 ? slidingWindow : maxPositionEmbeddings, forKey: .slidingWindow)
        }
        if architecture.isGemma {
            try c.encode(headDim, forKey: .queryPreAttnScalar)  // an integer: the scores' scale is its −½ power
            for (cap, key) in [
                (finalLogitSoftcapping, CodingKeys.finalLogitSoftcapping),
                (attnLogitSoftcapping, .attnLogitSoftcapping),
            ] {
                if cap > 0 { try c.encode(cap, forKey: key) } else { try c.encodeNil(forKey: key) }
            }
        }
        if architecture == .qwen3Next {
            try c.encode(0, forKey: .numExperts)
            try c.encode(1, forKey: .decoderSparseStep)
            try c.encode([Int](), forKey: .mlpOnlyLayers)
        }
        try c.encode("float32", forKey: .torchDtype)
        try c.encode("float32", forKey: .dtype)
        try c.encodeNil(forKey: .padTokenId)
        try c.encodeNil(forKey: .bosTokenId)
        try c.encodeNil(forKey: .eosTokenId)
        try ExpertClassFields(self)?.encode(to: encoder)
    }
}

// MARK: - Reading

extension HuggingFaceConfig {
    /// Reads a `config.json` (`source` names it in errors). Fields left out take the class's
    /// default, as `transformers` would; features QKLab does not have (biases, another
    /// activation, scaled RoPE, a layer pattern other than every k-th layer global, sliding
    /// windows or soft-caps in a class without them) are refused.
    public init(json: Data, source: String) throws {
        let fields: StoredFields
        do {
            fields = try JSONDecoder().decode(StoredFields.self, from: json)
        } catch let error as DecodingError {
            throw HuggingFaceError("\(source): not a usable config.json: \(Self.describe(error))")
        }
        guard let modelType = fields.modelType, let architecture = HuggingFaceArchitecture(rawValue: modelType) else {
            let supported = HuggingFaceArchitecture.allCases.map { "\"\($0.modelType)\"" }.joined(separator: ", ")
            throw HuggingFaceError(
                "\(source): model_type \(fields.modelType.map { "\"\($0)\"" } ?? "missing"); QKLab reads \(supported)")
        }
        try fields.refuseUnsupportedFeatures(of: architecture, source: source)
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
        switch architecture {  // the classes' defaults
        case .qwen3, .miniMaxM2: headDim = fields.headDim ?? 128
        case .gemma3, .gemma2, .qwen3Next: headDim = fields.headDim ?? 256
        case .sarvamMoe: headDim = fields.headDim ?? 64
        case .llama, .olmo2, .olmo3, .glm4Moe: headDim = fields.headDim ?? hiddenSize / max(numAttentionHeads, 1)
        }
        let expertFields = try ExpertClassFields(
            json: json, architecture: architecture, layers: numHiddenLayers, source: source)
        maxPositionEmbeddings = fields.maxPositionEmbeddings ?? 0
        let rope = fields.ropeParameters?.fullAttention ?? fields.ropeParameters?.flat ?? fields.ropeScaling?.flat
        let defaultTheta: Double =
            switch architecture {
            case .olmo3: 500_000
            case .gemma3: 1_000_000
            case .miniMaxM2: 5_000_000
            case .sarvamMoe: 8_000_000
            default: 10000
            }
        ropeTheta = rope?.ropeTheta ?? fields.ropeTheta ?? defaultTheta
        (slidingWindow, globalEvery) = try fields.layerPattern(
            of: architecture, layers: numHiddenLayers, source: source)
        ropeLocalTheta =
            slidingWindow == 0
            ? ropeTheta
            : fields.ropeParameters?.slidingAttention?.ropeTheta ?? (architecture == .gemma3 ? 10000 : ropeTheta)
        let present = Set((try? JSONSerialization.jsonObject(with: json) as? [String: Any])?.keys.map { $0 } ?? [])
        func cap(_ value: Double?, _ key: CodingKeys, gemma2Default: Double) -> Double {
            value ?? (architecture == .gemma2 && !present.contains(key.rawValue) ? gemma2Default : 0)
        }
        attnLogitSoftcapping = cap(fields.attnLogitSoftcapping, .attnLogitSoftcapping, gemma2Default: 50)
        finalLogitSoftcapping = cap(fields.finalLogitSoftcapping, .finalLogitSoftcapping, gemma2Default: 30)
        let width = Double(headDim)
        let defaultFraction =
            switch architecture {
            case .qwen3Next: 0.25
            case .glm4Moe: 0.5
            case .miniMaxM2: expertFields?.rotaryDim.map { Double($0) / width } ?? 1
            default: 1.0
            }
        partialRotaryFactor = rope?.partialRotaryFactor ?? fields.partialRotaryFactor ?? defaultFraction
        rmsNormEps = fields.rmsNormEps ?? ([.olmo2, .olmo3, .glm4Moe].contains(architecture) ? 1e-5 : 1e-6)
        qkNorm = expertFields?.qkNorm(of: architecture) ?? architecture.qkNorms[0]
        attentionBias = architecture.allowsAttentionBias && fields.attentionBias == true
        tieWordEmbeddings = fields.tieWordEmbeddings ?? architecture.isGemma
        let gemma = architecture.isGemma
        let activation =
            (gemma ? fields.hiddenActivation : fields.hiddenAct) ?? (gemma ? "gelu_pytorch_tanh" : "silu")
        switch activation {
        case "silu": mlp = .swiglu
        case "gelu_pytorch_tanh" where gemma: mlp = .geglu
        default:
            let key = gemma ? "hidden_activation" : "hidden_act"
            throw HuggingFaceError(
                "\(source): \(key) \"\(activation)\"; QKLab's gated MLPs use silu\(gemma ? " or gelu_pytorch_tanh" : "")"
            )
        }
        if !architecture.allowsAnyRopeFraction && partialRotaryFactor != 1 {
            throw HuggingFaceError(
                "\(source): partial_rotary_factor \(partialRotaryFactor); QKLab's \(architecture.className) layout rotates whole heads"
            )
        }
        if gemma, let scalar = fields.queryPreAttnScalar, scalar != Double(headDim) {
            throw HuggingFaceError(
                "\(source): query_pre_attn_scalar \(scalar) differs from head_dim \(headDim); QKLab scales scores by 1/sqrt(head_dim)"
            )
        }
        if gemma && fields.queryPreAttnScalar == nil && headDim != 256 {
            throw HuggingFaceError(
                "\(source): query_pre_attn_scalar is missing (\(architecture.className)'s default 256 differs from head_dim \(headDim))"
            )
        }
    }

    /// A decoding error as a short phrase naming the key.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
            .dataCorrupted(let context):
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
        var ropeTheta, partialRotaryFactor: Double?
        /// `rope_parameters` (`transformers` 5; flat, or per attention type) or its older name `rope_scaling`.
        var ropeParameters, ropeScaling: StoredRope?
        var rmsNormEps: Double?
        var tieWordEmbeddings: Bool?
        var hiddenAct, hiddenActivation: String?
        var attentionBias, mlpBias, useSlidingWindow: Bool?
        var layerTypes: [String]?
        var queryPreAttnScalar, finalLogitSoftcapping, attnLogitSoftcapping: Double?
        var slidingWindow, numExperts: Int?

        enum CodingKeys: String, CodingKey {
            case modelType = "model_type"
            case vocabSize = "vocab_size"
            case hiddenSize = "hidden_size"
            case intermediateSize = "intermediate_size"
            case numHiddenLayers = "num_hidden_layers"
            case numAttentionHeads = "num_attention_heads"
            case numKeyValueHeads = "num_key_value_heads"
            case headDim = "head_dim"
            case maxPositionEmbeddings = "max_position_embeddings"
            case ropeTheta = "rope_theta"
            case partialRotaryFactor = "partial_rotary_factor"
            case ropeParameters = "rope_parameters"
            case ropeScaling = "rope_scaling"
            case rmsNormEps = "rms_norm_eps"
            case tieWordEmbeddings = "tie_word_embeddings"
            case hiddenAct = "hidden_act"
            case hiddenActivation = "hidden_activation"
            case attentionBias = "attention_bias"
            case mlpBias = "mlp_bias"
            case useSlidingWindow = "use_sliding_window"
            case layerTypes = "layer_types"
            case queryPreAttnScalar = "query_pre_attn_scalar"
            case finalLogitSoftcapping = "final_logit_softcapping"
            case attnLogitSoftcapping = "attn_logit_softcapping"
            case slidingWindow = "sliding_window"
            case numExperts = "num_experts"
        }

        /// One RoPE setting.
        struct FlatRope: Decodable {
            var ropeType, type: String?
            var ropeTheta, partialRotaryFactor: Double?

            enum CodingKeys: String, CodingKey {
                case ropeType = "rope_type"
                case type
                case ropeTheta = "rope_theta"
                case partialRotaryFactor = "partial_rotary_factor"
            }

            var kind: String { ropeType ?? type ?? "default" }
        }

        /// A flat RoPE setting, or one per attention type (`full_attention`, `sliding_attention`).
        struct StoredRope: Decodable {
            var flat: FlatRope?
            var fullAttention, slidingAttention: FlatRope?

            enum CodingKeys: String, CodingKey {
                case fullAttention = "full_attention"
                case slidingAttention = "sliding_attention"
            }

            init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                fullAttention = try c.decodeIfPresent(FlatRope.self, forKey: .fullAttention)
                slidingAttention = try c.decodeIfPresent(FlatRope.self, forKey: .slidingAttention)
                flat = fullAttention == nil && slidingAttention == nil ? try FlatRope(from: decoder) : nil
            }

            var settings: [FlatRope] { [flat, fullAttention, slidingAttention].compactMap { $0 } }
        }

        /// Refuses what QKLab does not have: MLP biases, an o_proj bias, scaled RoPE, Qwen3's sliding
        /// windows, layers other than full and sliding attention, experts, soft-capping in a class without it.
        func refuseUnsupportedFeatures(of architecture: HuggingFaceArchitecture, source: String) throws {
            if mlpBias == true {
                throw HuggingFaceError("\(source): mlp_bias is true; QKLab's MLPs have no biases")
            }
            // MiniMax-M2's projections are bias-free whatever the file says (its config has no such field).
            if attentionBias == true && !architecture.allowsAttentionBias && architecture != .miniMaxM2 {
                throw HuggingFaceError(
                    "\(source): attention_bias is true; \(architecture.name)'s would put a bias on o_proj too, which QKLab does not have"
                )
            }
            for rope in [ropeParameters, ropeScaling].compactMap({ $0 }).flatMap(\.settings)
            where rope.kind != "default" {
                throw HuggingFaceError("\(source): rope_type \"\(rope.kind)\"; QKLab implements only the default RoPE")
            }
            if useSlidingWindow == true {
                throw HuggingFaceError("\(source): use_sliding_window is true; QKLab attends to the whole context")
            }
            if [.olmo3, .gemma3, .gemma2, .qwen3Next].contains(architecture) {
                guard let layerTypes else {
                    throw HuggingFaceError(
                        "\(source): layer_types is missing (\(architecture.className)'s default mixes in "
                            + "\(architecture == .qwen3Next ? "linear-attention" : "sliding-window") layers); write it out"
                    )
                }
                let kinds =
                    architecture.holdsSlidingWindows ? ["full_attention", "sliding_attention"] : ["full_attention"]
                if let other = layerTypes.first(where: { !kinds.contains($0) }) {
                    throw HuggingFaceError(
                        "\(source): layer_types has \"\(other)\"; QKLab's \(architecture.className) layers are \(kinds.joined(separator: " or "))"
                    )
                }
            }
            if architecture == .qwen3Next && numExperts != 0 {
                throw HuggingFaceError(
                    "\(source): num_experts is \(numExperts.map(String.init) ?? "missing (default 512)"); QKLab's Qwen3-Next layout is dense (num_experts 0)"
                )
            }
            if !architecture.holdsSoftcaps, let cap = finalLogitSoftcapping ?? attnLogitSoftcapping {
                throw HuggingFaceError(
                    "\(source): logit soft-capping (\(cap)); QKLab caps logits in the Gemma 2 and 3 classes only")
            }
        }

        /// `sliding_window` and QKLab's `global_every` from `layer_types` (0 and 1 when every layer
        /// is `full_attention`); refuses a pattern other than every k-th layer full, one without a
        /// full layer, and a window it cannot read.
        func layerPattern(of architecture: HuggingFaceArchitecture, layers: Int, source: String) throws -> (Int, Int) {
            guard architecture.holdsSlidingWindows, let layerTypes,
                let firstFull = layerTypes.firstIndex(of: "full_attention"),
                layerTypes.contains("sliding_attention")
            else {
                if let layerTypes, !layerTypes.contains("full_attention") {
                    throw HuggingFaceError(
                        "\(source): layer_types \(layerTypes) has no full_attention layer; QKLab keeps one global layer in every global_every"
                    )
                }
                return (0, 1)
            }
            let every = firstFull + 1
            guard layerTypes.count == layers,
                layerTypes.indices.allSatisfy({ (layerTypes[$0] == "full_attention") == (($0 + 1) % every == 0) })
            else {
                throw HuggingFaceError(
                    "\(source): layer_types \(layerTypes) is not every \(every)th of \(layers) layers full_attention, the pattern QKLab's global_every holds"
                )
            }
            guard let slidingWindow, slidingWindow >= 1 else {
                throw HuggingFaceError("\(source): sliding_window is missing or below 1 with sliding_attention layers")
            }
            return (slidingWindow, every)
        }
    }

    /// The first way this config does not describe `model`'s network, as one line with the
    /// `--set` that would make the run fit; nil when it fits. The vocabulary is checked apart
    /// (it comes from the corpus) and `max_position_embeddings` not at all (RoPE has no table).
    func mismatch(with model: ModelConfig, source: String) throws -> String? {
        let missing = architecture.mismatches(model)
        if !missing.isEmpty {
            return
                "\(source): model_type \"\(architecture.modelType)\" is the layout \(architecture.layoutDescription); "
                + "the run has \(missing.map { HuggingFaceArchitecture.current($0.key, model) }.joined(separator: ", ")) "
                + "(start it with \(architecture.layoutOverrides))"
        }
        let expected = try HuggingFaceConfig(model: model, preferred: architecture)
        for (found, wanted) in zip(networkFields, expected.networkFields) where found.value != wanted.value {
            return
                "\(source): \(found.key) is \(found.value) but the run's [model] has \(found.modelKey) = \(wanted.value) "
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
            ("partial_rotary_factor", "rope_fraction", "\(Float(partialRotaryFactor))"),
            (activationKey.rawValue, "mlp", mlp.rawValue),
            ("sliding_window", "sliding_window", "\(slidingWindow)"),
            ("layer_types", "global_every", "\(globalEvery)"),
            ("rope_parameters.sliding_attention.rope_theta", "rope_local_theta", "\(Float(ropeLocalTheta))"),
            ("attn_logit_softcapping", "attn_softcap", "\(Float(attnLogitSoftcapping))"),
            ("final_logit_softcapping", "final_softcap", "\(Float(finalLogitSoftcapping))"),
            ("use_qk_norm", "qk_norm", qkNorm.rawValue),
            ("attention_bias", "attention_bias", "\(attentionBias)"),
        ]
    }
}
