import Autograd

extension ModelConfig {
    /// RMSNorm of `x` with `weight` in this config's gain form (`norm_weight`: `w` or `1 + w`)
    /// and `norm_eps`: every norm of the model (block norms, QK-Norm, final norm) goes through it.
    func norm(_ x: Tensor, weight: Tensor) -> Tensor {
        rmsNorm(x, weight: weight, eps: normEps, weightOffset: normWeight == .offset ? 1 : 0)
    }

    /// The token embedding's factor: `Float32(sqrt(d))` with `embed_scale` (Gemma), else 1.
    var embeddingScale: Float { embedScale ? Float(Double(dModel).squareRoot()) : 1 }
}
