import Autograd

/// One decoder block: attention and MLP, each with a residual, in the pre-, post- or sandwich-norm
/// layout (docs/spec/model.md, `block_norm`; the norms carry their Hugging Face family's names).
struct DecoderLayer {
    /// The layer's place in the stack, 0-based: global or local attention (`ModelConfig.isGlobalLayer`).
    let index: Int
    let attention: Attention
    let mlp: FeedForward
    let inputNorm: Tensor?  // [d], pre and sandwich         (input_layernorm)
    let postAttentionNorm: Tensor  // [d]                           (post_attention_layernorm)
    let preFeedforwardNorm: Tensor?  // [d], sandwich only            (pre_feedforward_layernorm)
    let postFeedforwardNorm: Tensor?  // [d], post and sandwich        (post_feedforward_layernorm)

    init(index: Int, config: ModelConfig, builder: inout ParameterBuilder) {
        self.index = index
        let prefix = "model.layers.\(index)"
        builder.layer = index
        defer { builder.layer = nil }
        attention = Attention(prefix: "\(prefix).self_attn", config: config, builder: &builder)
        let d = config.dModel, layout = config.blockNorm
        func norm(_ name: String, _ present: Bool) -> Tensor? {
            present ? builder.normWeight("\(prefix).\(name).weight", [d], config) : nil
        }
        inputNorm = norm("input_layernorm", layout != .post)
        postAttentionNorm = norm("post_attention_layernorm", true)!
        preFeedforwardNorm = norm("pre_feedforward_layernorm", layout == .sandwich)
        postFeedforwardNorm = norm("post_feedforward_layernorm", layout != .pre)
        mlp = FeedForward(prefix: "\(prefix).mlp", config: config, builder: &builder)
    }

    /// `x [B,T,d] → [B,T,d]`, with the layer's largest attention logit (`rotary`: the layer's RoPE table;
    /// `cache`: this layer's keys and values when generating, see `Attention.forward`) and, with
    /// `measuring`, its attention telemetry.
    func forward(
        _ x: Tensor, config: ModelConfig, rotary: RotaryTable?, cache: KVCache.Layer? = nil,
        measuring: Bool = false
    ) -> (output: Tensor, attentionLogitMax: Float, attentionStatistics: AttentionStatistics?) {
        let variant = config.attentionVariant(layer: index)
        switch config.blockNorm {
        case .pre:  // h = x + Attn(norm(x));  out = h + MLP(norm(h)), each add fused into a product
            let attended = attention.forward(
                config.norm(x, weight: inputNorm!), config: config, rotary: rotary, variant: variant,
                cache: cache, adding: x, measuring: measuring)
            let h = attended.output
            let out = mlp.forward(config.norm(h, weight: postAttentionNorm), config: config, adding: h)
            return (out, attended.logitMax, attended.statistics)
        case .post:  // h = x + norm(Attn(x));  out = h + norm(MLP(h))
            let attended = attention.forward(
                x, config: config, rotary: rotary, variant: variant, cache: cache, measuring: measuring)
            let h = add(x, config.norm(attended.output, weight: postAttentionNorm))
            let out = add(h, config.norm(mlp.forward(h, config: config), weight: postFeedforwardNorm!))
            return (out, attended.logitMax, attended.statistics)
        case .sandwich:  // h = x + norm(Attn(norm(x)));  out = h + norm(MLP(norm(h)))
            let attended = attention.forward(
                config.norm(x, weight: inputNorm!), config: config, rotary: rotary, variant: variant,
                cache: cache, measuring: measuring)
            let h = add(x, config.norm(attended.output, weight: postAttentionNorm))
            let mlpOutput = mlp.forward(config.norm(h, weight: preFeedforwardNorm!), config: config)
            let out = add(h, config.norm(mlpOutput, weight: postFeedforwardNorm!))
            return (out, attended.logitMax, attended.statistics)
        }
    }
}
