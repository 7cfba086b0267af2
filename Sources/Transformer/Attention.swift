import Autograd

/// Causal self-attention with the QK-Norm and RoPE switches, in docs/spec/model.md's order:
/// project (+ bias) → QK-Norm → RoPE → scores (soft-cap, sliding window)/softmax/values → output projection.
struct Attention {
    let qProj: Tensor  // [H·Dh, d]     q_proj
    let kProj: Tensor  // [Hkv·Dh, d]   k_proj
    let vProj: Tensor  // [Hkv·Dh, d]   v_proj
    let oProj: Tensor  // [d, H·Dh]     o_proj
    /// `attention_bias` only: `[H·Dh]`, `[Hkv·Dh]`, `[Hkv·Dh]` (q_proj.bias, k_proj.bias,
    /// v_proj.bias); o_proj has none, as in `Glm4MoeAttention`.
    let qBias: Tensor?, kBias: Tensor?, vBias: Tensor?
    let qNorm: Tensor?  // [Dh] (head) or [H·Dh] (full)     q_norm (a constant √κ with qk_norm_gain)
    let kNorm: Tensor?  // [Dh] (head) or [Hkv·Dh] (full)   k_norm

    init(prefix: String, config: ModelConfig, builder: inout ParameterBuilder) {
        let (d, h, hkv, dh) = (config.dModel, config.nHead, config.kvHeads, config.headDimension)
        let residualStd = 0.02 / Float(2 * config.nLayer).squareRoot()
        func bias(_ name: String, rows: Int) -> Tensor? {  // after its weight, zeros
            config.attentionBias ? builder.bias("\(prefix).\(name).bias", [rows]) : nil
        }
        qProj =
            config.zeroInitQuery  // µParam (full)'s zero query, Wortsman et al. 2023 §3.2.4 (iii)
            ? builder.zeros("\(prefix).q_proj.weight", [h * dh, d])
            : builder.matrix("\(prefix).q_proj.weight", [h * dh, d], config, normalStd: 0.02)
        qBias = bias("q_proj", rows: h * dh)
        kProj = builder.matrix("\(prefix).k_proj.weight", [hkv * dh, d], config, normalStd: 0.02)
        kBias = bias("k_proj", rows: hkv * dh)
        vProj = builder.matrix("\(prefix).v_proj.weight", [hkv * dh, d], config, normalStd: 0.02)
        vBias = bias("v_proj", rows: hkv * dh)
        oProj = builder.matrix("\(prefix).o_proj.weight", [d, h * dh], config, normalStd: residualStd)
        switch config.qkNorm {
        case .off:
            (qNorm, kNorm) = (nil, nil)
        case .head:
            qNorm = builder.qkNormWeight("\(prefix).q_norm.weight", [dh], config)
            kNorm = builder.qkNormWeight("\(prefix).k_norm.weight", [dh], config)
        case .full:
            qNorm = builder.qkNormWeight("\(prefix).q_norm.weight", [h * dh], config)
            kNorm = builder.qkNormWeight("\(prefix).k_norm.weight", [hkv * dh], config)
        }
    }

    /// `x [B,T,d] → [B,T,d]`, added to `residual` if given (fused into the output product);
    /// `rotary` is the layer's RoPE table (nil for learned positions), `variant` its soft-cap and
    /// sliding window (`ModelConfig.attentionVariant(layer:)`). With `cache` (generation,
    /// B = 1) x's positions follow those the cache holds, and attend to them too. With `measuring`,
    /// the attention's stability telemetry comes back too.
    func forward(
        _ x: Tensor, config: ModelConfig, rotary: RotaryTable?, variant: AttentionVariant,
        cache: KVCache.Layer? = nil, adding residual: Tensor? = nil, measuring: Bool = false
    )
        -> (output: Tensor, logitMax: Float, statistics: AttentionStatistics?)
    {
        var q = linear(x, weight: qProj, bias: qBias)  // [B, T, H·Dh]
        var k = linear(x, weight: kProj, bias: kBias)  // [B, T, Hkv·Dh]
        let v = linear(x, weight: vProj, bias: vBias)  // [B, T, Hkv·Dh]
        if let qNorm, let kNorm {  // QK-Norm: a [Dh] weight normalises each head,
            q = config.qkNormalized(q, weight: qNorm)  // a [H·Dh] one the whole projection
            k = config.qkNormalized(k, weight: kNorm)
        }
        if let rotary {  // RoPE rotates the normalised vectors (the first R dims of each head)
            let first = cache?.count ?? 0  // position of x's first row
            q = rope(q, table: rotary, firstPosition: first)
            k = rope(k, table: rotary, firstPosition: first)
        }
        let attended =
            cache?.attend(
                q: q, k: k, v: v, heads: config.nHead, kvHeads: config.kvHeads, scale: config.attentionScoreScale,
                variant: variant)
            ?? causalAttention(
                q: q, k: k, v: v, heads: config.nHead, kvHeads: config.kvHeads, scale: config.attentionScoreScale,
                variant: variant,
                measuring: measuring)  // [B, T, H·Dh]
        // [B, T, d]
        return (linear(attended.output, weight: oProj, adding: residual), attended.logitMax, attended.statistics)
    }
}
