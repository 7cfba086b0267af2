import Autograd

/// One decoder block: attention and MLP, each with a residual, in the pre- or post-norm layout.
struct DecoderLayer {
    let attention: Attention
    let mlp: FeedForward
    let inputNorm: Tensor?             // [d], pre layout only          (input_layernorm)
    let postAttentionNorm: Tensor      // [d]                           (post_attention_layernorm)
    let postFeedforwardNorm: Tensor?   // [d], post layout only         (post_feedforward_layernorm)

    init(index: Int, config: ModelConfig, builder: inout ParameterBuilder) {
        let prefix = "model.layers.\(index)"
        builder.layer = index
        defer { builder.layer = nil }
        attention = Attention(prefix: "\(prefix).self_attn", config: config, builder: &builder)
        let d = config.dModel
        inputNorm = config.blockNorm == .pre ? builder.ones("\(prefix).input_layernorm.weight", [d]) : nil
        postAttentionNorm = builder.ones("\(prefix).post_attention_layernorm.weight", [d])
        postFeedforwardNorm = config.blockNorm == .post ? builder.ones("\(prefix).post_feedforward_layernorm.weight", [d]) : nil
        mlp = FeedForward(prefix: "\(prefix).mlp", config: config, builder: &builder)
    }

    /// `x [B,T,d] → [B,T,d]`, with the layer's largest attention logit (`rotary`: RoPE's table;
    /// `cache`: this layer's keys and values when generating, see `Attention.forward`) and, with
    /// `measuring`, its attention telemetry.
    func forward(_ x: Tensor, config: ModelConfig, rotary: RotaryTable?, cache: KVCache.Layer? = nil,
                 measuring: Bool = false) -> (output: Tensor, attentionLogitMax: Float, attentionStatistics: AttentionStatistics?) {
        let eps = config.normEps
        switch config.blockNorm {
        case .pre:    // h = x + Attn(norm(x));  out = h + MLP(norm(h)), each add fused into a product
            let attended = attention.forward(rmsNorm(x, weight: inputNorm!, eps: eps), config: config, rotary: rotary,
                                             cache: cache, adding: x, measuring: measuring)
            let h = attended.output
            let out = mlp.forward(rmsNorm(h, weight: postAttentionNorm, eps: eps), config: config, adding: h)
            return (out, attended.logitMax, attended.statistics)
        case .post:   // h = x + norm(Attn(x));  out = h + norm(MLP(h))
            let attended = attention.forward(x, config: config, rotary: rotary, cache: cache, measuring: measuring)
            let h = add(x, rmsNorm(attended.output, weight: postAttentionNorm, eps: eps))
            let out = add(h, rmsNorm(mlp.forward(h, config: config), weight: postFeedforwardNorm!, eps: eps))
            return (out, attended.logitMax, attended.statistics)
        }
    }
}
