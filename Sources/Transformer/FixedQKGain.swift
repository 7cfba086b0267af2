import Autograd

/// QK-Norm with a fixed gain, `qk_norm_gain = κ > 0`: Wortsman et al. 2023, "Small-scale proxies
/// for large-scale Transformer training instabilities" (arXiv 2309.14322), §3.3 and Fig. 10:
/// "For different constants κ we pass the queries and keys through g(z) = √κ·z/√(E_i[z_i²])
/// before computing the attention logits." Here g is QK-Norm's RMSNorm with its gain held at √κ
/// for every element: a constant, not a parameter (not trained, not decayed, not in the optimizer
/// or in checkpoints; `qk_norm_gain` in the config is all there is of it). The RMS is taken over
/// each head (`qk_norm = "head"`) or the whole projection (`"full"`), and q and k enter RoPE (a
/// rotation, which keeps it) with RMS √κ. Where QKLab departs: RMSNorm's `norm_eps` under the root
/// (1e-6 by default, against E[z²] ≈ 1 of a normalised vector), and the gain form `1 + w` of
/// `norm_weight = "offset"` does not apply (the gain is √κ in both forms).
///
/// Every logit is then |q·k|/√Dh ≤ ‖q‖‖k‖/√Dh = κ·√Dh, reached when q and k align; the paper's
/// caption calls the result "a max attention logit of approximately κ".
extension ParameterBuilder {
    /// QK-Norm's `[width]` gain: the trained weight `name`, or with `qk_norm_gain` κ > 0 the
    /// constant √κ (no parameter: nothing is taken from the buffers or the initialisation stream).
    mutating func qkNormWeight(_ name: String, _ shape: [Int], _ config: ModelConfig) -> Tensor {
        guard config.qkNormGain > 0 else { return normWeight(name, shape, config) }
        let gain = Float(Double(config.qkNormGain).squareRoot())
        return Tensor(shape: shape, values: [Float](repeating: gain, count: shape.reduce(1, *)))
    }
}

extension ModelConfig {
    /// QK-Norm of `x` (q or k) with `weight`: the config's RMSNorm with trained gains, or, with
    /// `qk_norm_gain` > 0, RMSNorm with the constant √κ as its gain (`weight` from `qkNormWeight`).
    func qkNormalized(_ x: Tensor, weight: Tensor) -> Tensor {
        qkNormGain > 0 ? rmsNorm(x, weight: weight, eps: normEps) : norm(x, weight: weight)
    }
}
