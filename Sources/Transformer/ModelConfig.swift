import Autograd

/// Every switch of the model (`docs/spec/model.md`), with its defaults. Keys are docs/spec/model.md's snake_case names.
///
/// `n_kv_head`, `head_dim` and `d_ff` may be left out (nil): they then follow from the others
/// (`kvHeads`, `headDimension`, `feedForward`).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Pre-norm (GPT-2 / Llama / Qwen3), OLMo 2's post-norm on the sublayer outputs, or Gemma 3's
    /// sandwich (a norm before and after each sublayer).
    public enum BlockNorm: String, Codable, CaseIterable, Sendable { case pre, post, sandwich }
    /// QK-Norm: none, per head (one `[Dh]` weight each for q and k), or over the whole projection.
    public enum QKNorm: String, Codable, CaseIterable, Sendable { case off, head, full }
    /// Rotary embeddings or a learned position table.
    public enum Position: String, Codable, CaseIterable, Sendable { case rope, learned }
    /// Gated SiLU MLP, plain exact-GELU MLP, or Gemma's gated tanh-GELU MLP.
    public enum MLP: String, Codable, CaseIterable, Sendable { case swiglu, gelu, geglu }
    /// Every RMSNorm gain as `w` (init 1) or zero-centred as `1 + w` (init 0; Gemma 3, Qwen3-Next).
    public enum NormWeight: String, Codable, CaseIterable, Sendable { case plain, offset }
    /// How the weights start (`init`; see `ParameterBuilder.matrix`): model.md's N(0, 0.02) with
    /// the residual outputs at 0.02/√(2L), or Wortsman et al. 2023's (§2.1) truncated normal of std
    /// 1/√fan-in for every matrix, with embeddings N(0, 1/√d).
    public enum Initialization: String, Codable, CaseIterable, Sendable {
        case normal
        case fanIn = "fan_in"
    }
    /// The factor of the attention scores q·k: 1/√Dh (Vaswani et al.), or 1/Dh (µP, Yang et al.
    /// 2022; Wortsman et al. 2023 §3.2.4 change (ii), Fig. E.6).
    public enum AttentionScale: String, Codable, CaseIterable, Sendable {
        case inverseSqrtHeadDim = "inverse_sqrt_head_dim"
        case inverseHeadDim = "inverse_head_dim"
    }

    public var vocabSize = 65
    public var blockSize = 64
    public var dModel = 128
    public var nLayer = 4
    public var nHead = 4
    public var nKVHead: Int? = nil
    public var headDim: Int? = nil
    public var dFF: Int? = nil
    public var blockNorm = BlockNorm.pre
    public var qkNorm = QKNorm.head
    /// `qk_norm_gain` κ: 0, QK-Norm's gains are trained weights; κ > 0, a constant gain √κ per
    /// element instead, no parameter (Wortsman et al. 2023 §3.3, Fig. 10; see `fixedQKGain`).
    public var qkNormGain: Float = 0
    public var position = Position.rope
    public var ropeTheta: Float = 10000
    /// Partial RoPE: the fraction of each head's dims that rotate (Hugging Face's `partial_rotary_factor`).
    public var ropeFraction: Float = 1
    /// Biases on the q, k and v projections (`o_proj` stays bias-free), as in GLM-4.5
    /// (`Glm4MoeAttention`, `attention_bias`) and Qwen2; added before QK-Norm and RoPE.
    public var attentionBias = false
    public var mlp = MLP.swiglu
    public var normWeight = NormWeight.plain
    /// Gemma's `embed_tokens[idx] · Float32(sqrt(d))` (the tied output head stays unscaled).
    public var embedScale = false
    public var tieEmbeddings = true
    public var normEps: Float = 1e-6
    public var zLoss: Float = 0
    /// c of the attention logits' soft-cap `c·tanh(s/c)`, after the scores' scale and before the
    /// mask and softmax (Gemma 2's `attn_logit_softcapping`); 0: off.
    public var attnSoftcap: Float = 0
    /// c of the output logits' soft-cap, before the loss and sampling (Gemma 2's
    /// `final_logit_softcapping`); 0: off.
    public var finalSoftcap: Float = 0
    /// W of the local layers' sliding window: a query sees its W latest positions, itself
    /// included (transformers' `sliding_window`); 0: every layer global.
    public var slidingWindow = 0
    /// With a sliding window, layer i (0-based) is global when (i + 1) is a multiple of k, the
    /// others local: k = 2 is Gemma 2's alternation, 4 OLMo 3's, 6 Gemma 3's
    /// `sliding_window_pattern` (each the rule their configs' `layer_types` default follows).
    public var globalEvery = 1
    /// RoPE base of the local layers (Gemma 3's `rope_local_base_freq`); nil: `rope_theta`.
    public var ropeLocalTheta: Float? = nil
    /// `init`.
    public var initialization = Initialization.normal
    /// `attention_scale`.
    public var attentionScale = AttentionScale.inverseSqrtHeadDim
    /// `zero_init_query`: `q_proj` starts at zero (µParam (full), Wortsman et al. 2023 §3.2.4 (iii)).
    public var zeroInitQuery = false
    /// `head_init_base_width` D0 (0 = off): the untied head starts at standard deviation √D0/d,
    /// µParam (full)'s √base-fan-in/fan-in (Wortsman et al. 2023 §3.2.4 (i), Fig. E.5 (ii)).
    public var headInitBaseWidth = 0
    public var seed: UInt64 = 1337

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case vocabSize = "vocab_size"
        case blockSize = "block_size"
        case dModel = "d_model"
        case nLayer = "n_layer"
        case nHead = "n_head"
        case nKVHead = "n_kv_head"
        case headDim = "head_dim"
        case dFF = "d_ff"
        case blockNorm = "block_norm"
        case qkNorm = "qk_norm"
        case qkNormGain = "qk_norm_gain"
        case position
        case ropeTheta = "rope_theta"
        case ropeFraction = "rope_fraction"
        case attentionBias = "attention_bias"
        case mlp
        case normWeight = "norm_weight"
        case embedScale = "embed_scale"
        case tieEmbeddings = "tie_embeddings"
        case normEps = "norm_eps"
        case zLoss = "z_loss"
        case attnSoftcap = "attn_softcap"
        case finalSoftcap = "final_softcap"
        case slidingWindow = "sliding_window"
        case globalEvery = "global_every"
        case ropeLocalTheta = "rope_local_theta"
        case initialization = "init"
        case attentionScale = "attention_scale"
        case zeroInitQuery = "zero_init_query"
        case headInitBaseWidth = "head_init_base_width"
        case seed
    }

    /// The config's keys as written in files, in declaration order.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Missing keys take their defaults, so a file may set only a few.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ModelConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        blockSize = try c.decodeIfPresent(Int.self, forKey: .blockSize) ?? d.blockSize
        dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? d.dModel
        nLayer = try c.decodeIfPresent(Int.self, forKey: .nLayer) ?? d.nLayer
        nHead = try c.decodeIfPresent(Int.self, forKey: .nHead) ?? d.nHead
        nKVHead = try c.decodeIfPresent(Int.self, forKey: .nKVHead)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
        dFF = try c.decodeIfPresent(Int.self, forKey: .dFF)
        blockNorm = try c.decodeIfPresent(BlockNorm.self, forKey: .blockNorm) ?? d.blockNorm
        qkNorm = try c.decodeIfPresent(QKNorm.self, forKey: .qkNorm) ?? d.qkNorm
        qkNormGain = try c.decodeIfPresent(Float.self, forKey: .qkNormGain) ?? d.qkNormGain
        position = try c.decodeIfPresent(Position.self, forKey: .position) ?? d.position
        ropeTheta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? d.ropeTheta
        ropeFraction = try c.decodeIfPresent(Float.self, forKey: .ropeFraction) ?? d.ropeFraction
        attentionBias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? d.attentionBias
        mlp = try c.decodeIfPresent(MLP.self, forKey: .mlp) ?? d.mlp
        normWeight = try c.decodeIfPresent(NormWeight.self, forKey: .normWeight) ?? d.normWeight
        embedScale = try c.decodeIfPresent(Bool.self, forKey: .embedScale) ?? d.embedScale
        tieEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieEmbeddings) ?? d.tieEmbeddings
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? d.normEps
        zLoss = try c.decodeIfPresent(Float.self, forKey: .zLoss) ?? d.zLoss
        attnSoftcap = try c.decodeIfPresent(Float.self, forKey: .attnSoftcap) ?? d.attnSoftcap
        finalSoftcap = try c.decodeIfPresent(Float.self, forKey: .finalSoftcap) ?? d.finalSoftcap
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow) ?? d.slidingWindow
        globalEvery = try c.decodeIfPresent(Int.self, forKey: .globalEvery) ?? d.globalEvery
        ropeLocalTheta = try c.decodeIfPresent(Float.self, forKey: .ropeLocalTheta)
        initialization = try c.decodeIfPresent(Initialization.self, forKey: .initialization) ?? d.initialization
        attentionScale = try c.decodeIfPresent(AttentionScale.self, forKey: .attentionScale) ?? d.attentionScale
        zeroInitQuery = try c.decodeIfPresent(Bool.self, forKey: .zeroInitQuery) ?? d.zeroInitQuery
        headInitBaseWidth = try c.decodeIfPresent(Int.self, forKey: .headInitBaseWidth) ?? d.headInitBaseWidth
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    }

    /// `Hkv`: `n_kv_head`, or `n_head` when unset.
    public var kvHeads: Int { nKVHead ?? nHead }
    /// `Dh`: `head_dim`, or `d_model / n_head` when unset.
    public var headDimension: Int { headDim ?? dModel / max(nHead, 1) }
    /// `F`: `d_ff`, or round_up(8d/3, 32) for the gated MLPs and 4d for GELU when unset.
    public var feedForward: Int {
        if let dFF { return dFF }
        return mlp.isGated ? (8 * dModel / 3 + 31) / 32 * 32 : 4 * dModel
    }

    /// The attention scores' factor, `attention_scale`'s 1/√Dh or 1/Dh.
    public var attentionScoreScale: Float {
        switch attentionScale {
        case .inverseSqrtHeadDim: return 1 / Float(headDimension).squareRoot()
        case .inverseHeadDim: return 1 / Float(headDimension)
        }
    }

    /// `R`: the rotated dims of each head, `int(Dh · rope_fraction)`: Hugging Face's
    /// `int(head_dim * partial_rotary_factor)` in Double, from the fraction's shortest decimal (the
    /// value a config file and an export write: 0.7, not the Float's 0.699999988, so that
    /// Dh = 20 gives 14 in both).
    public var rotaryDimension: Int { Int(Double(headDimension) * Double(ropeFraction.description)!) }

    /// Whether layer `index` (0-based) attends to every earlier position: with no sliding window,
    /// every layer; with one, every `global_every`-th.
    public func isGlobalLayer(_ index: Int) -> Bool { slidingWindow == 0 || (index + 1) % globalEvery == 0 }

    /// The soft-cap and window of layer `index`'s attention.
    public func attentionVariant(layer index: Int) -> AttentionVariant {
        AttentionVariant(softcap: attnSoftcap, window: isGlobalLayer(index) ? 0 : slidingWindow)
    }

    /// The local layers' RoPE base: `rope_local_theta`, or `rope_theta` when unset.
    public var localRopeTheta: Float { ropeLocalTheta ?? ropeTheta }

    /// The block norms of a layer: 2 for pre and post, 4 for sandwich.
    var blockNormsPerLayer: Int { blockNorm == .sandwich ? 4 : 2 }

    /// The exact number of parameters (the length of the model's parameter buffer), in Double so
    /// that absurd configs cannot overflow it.
    public var parameterCount: Double {
        let (v, d, f, l) = (Double(vocabSize), Double(dModel), Double(feedForward), Double(nLayer))
        let (h, hkv, dh) = (Double(nHead), Double(kvHeads), Double(headDimension))
        let projections = d * dh * (h + 2 * hkv) + h * dh * d  // q, k, v, o
        let biases = attentionBias ? dh * (h + 2 * hkv) : 0  // q, k, v
        let qkNorms: Double
        switch qkNorm {
        case _ where qkNormGain > 0, .off: qkNorms = 0  // a fixed gain is no parameter
        case .head: qkNorms = 2 * dh
        case .full: qkNorms = (h + hkv) * dh
        }
        let mlpWeights = (mlp.isGated ? 3 : 2) * f * d
        let layer = projections + biases + qkNorms + Double(blockNormsPerLayer) * d + mlpWeights
        let positions = position == .learned ? Double(blockSize) * d : 0
        return v * d + positions + l * layer + d + (tieEmbeddings ? 0 : v * d)  // + final norm, head
    }

    /// The same config with every derived value written out (what a run folder records).
    public var resolved: ModelConfig {
        var copy = self
        copy.nKVHead = kvHeads
        copy.headDim = headDimension
        copy.dFF = feedForward
        if slidingWindow > 0 && position == .rope { copy.ropeLocalTheta = localRopeTheta }
        return copy
    }

    /// Checks every constraint, throwing the first violation as one readable line.
    public func validate() throws {
        func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
            if !condition { throw ModelConfigError(message: message()) }
        }
        for (key, value) in [
            ("vocab_size", vocabSize), ("block_size", blockSize), ("d_model", dModel),
            ("n_layer", nLayer), ("n_head", nHead),
        ] {
            try require(value >= 1, "\(key) must be at least 1 (got \(value))")
        }
        for (key, value) in [
            ("vocab_size", vocabSize), ("block_size", blockSize), ("d_model", dModel), ("n_head", nHead),
            ("head_dim", headDim ?? 1), ("d_ff", dFF ?? 1),
        ] {
            try require(value <= 1 << 16, "\(key) (\(value)) exceeds QKLab's limit of 65536")
        }
        try require(nLayer <= 1024, "n_layer (\(nLayer)) exceeds QKLab's limit of 1024")
        if let nKVHead {
            try require(nKVHead >= 1, "n_kv_head must be at least 1 (got \(nKVHead))")
            try require(nHead % nKVHead == 0, "n_kv_head (\(nKVHead)) must divide n_head (\(nHead))")
        }
        if let headDim {
            try require(headDim >= 1, "head_dim must be at least 1 (got \(headDim))")
        } else {
            try require(
                dModel % nHead == 0, "n_head (\(nHead)) must divide d_model (\(dModel)) when head_dim is not set")
        }
        if let dFF { try require(dFF >= 1, "d_ff must be at least 1 (got \(dFF))") }
        if position == .rope {
            try require(headDimension % 2 == 0, "rope needs an even head_dim (got \(headDimension))")
            try require(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta must be positive (got \(ropeTheta))")
            try require(ropeFraction > 0 && ropeFraction <= 1, "rope_fraction must be in (0, 1] (got \(ropeFraction))")
            try require(
                rotaryDimension >= 2 && rotaryDimension % 2 == 0,
                "rope_fraction \(ropeFraction) rotates int(head_dim · rope_fraction) = \(rotaryDimension) dims of head_dim \(headDimension); that must be even and at least 2"
            )
        } else {
            try require(
                ropeFraction == 1,
                "rope_fraction (\(ropeFraction)) applies to position = \"rope\" only; remove it or set position = \"rope\""
            )
        }
        try require(normEps > 0 && normEps.isFinite, "norm_eps must be positive (got \(normEps))")
        let parameters = parameterCount
        try require(
            parameters <= 2e9, "the model would have \(Int(parameters)) parameters, more than QKLab's limit of 2e9")
        try require(zLoss >= 0 && zLoss.isFinite, "z_loss must be ≥ 0 (got \(zLoss))")
        for (key, cap) in [("attn_softcap", attnSoftcap), ("final_softcap", finalSoftcap)] {
            try require(cap >= 0 && cap.isFinite, "\(key) must be ≥ 0, 0 for no cap (got \(cap))")
        }
        try require(slidingWindow >= 0, "sliding_window must be ≥ 0, 0 for none (got \(slidingWindow))")
        try require(
            slidingWindow <= blockSize,
            "sliding_window (\(slidingWindow)) exceeds block_size (\(blockSize)): no sequence is that long")
        try require(globalEvery >= 1, "global_every must be at least 1 (got \(globalEvery))")
        try require(
            slidingWindow == 0 || globalEvery <= nLayer,
            "global_every (\(globalEvery)) names no global layer among n_layer = \(nLayer) (layer i is global when i + 1 is a multiple of it)"
        )
        if let ropeLocalTheta {
            try require(
                ropeLocalTheta > 0 && ropeLocalTheta.isFinite,
                "rope_local_theta must be positive (got \(ropeLocalTheta))")
            try require(
                position == .rope,
                "rope_local_theta applies to position = \"rope\" only; remove it or set position = \"rope\"")
        }
        try require(
            qkNormGain >= 0 && qkNormGain.isFinite, "qk_norm_gain must be ≥ 0, 0 = learned gains (got \(qkNormGain))")
        try require(
            qkNormGain == 0 || qkNorm != .off,
            "qk_norm_gain (\(qkNormGain)) fixes QK-Norm's gain: it needs qk_norm = \"head\" or \"full\" (got \"off\")")
        try require(
            headInitBaseWidth >= 0 && headInitBaseWidth <= dModel,
            "head_init_base_width (\(headInitBaseWidth)) must be in 0…d_model (\(dModel))")
        try require(
            headInitBaseWidth == 0 || !tieEmbeddings,
            "head_init_base_width (\(headInitBaseWidth)) initialises an untied head: set tie_embeddings = false")
    }
}

extension ModelConfig.MLP {
    /// SwiGLU and GeGLU: a gate and an up projection (`gate_proj`, `up_proj`).
    public var isGated: Bool { self != .gelu }
}

/// A model config that breaks a constraint.
public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
