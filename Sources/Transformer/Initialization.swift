import Autograd

/// The two initialisations `init` chooses between.
///
/// - `normal` (model.md): every matrix and embedding N(0, 0.02), the residual outputs (`o_proj`,
///   `down_proj`) N(0, 0.02/√(2L)) (GPT-2's scaling).
/// - `fan_in`, Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training
///   instabilities" (arXiv 2309.14322), §2.1: "The embedding initialization is the default in
///   Flax, which is normally distributed with standard deviation 1/√d. The remainder of the
///   weights are initialized with a truncated normal distribution with inverse root fan-in
///   standard deviation." So:
///   - every linear weight `[out, in]` (q, k, v, o, the MLP's, an untied `lm_head`) is a truncated
///     normal of standard deviation 1/√in, as JAX's `variance_scaling(1, "fan_in",
///     "truncated_normal")` draws it (jax/_src/nn/initializers.py): truncated at ±2 standard
///     deviations of the untruncated normal, then rescaled so that the samples' standard deviation
///     is 1/√in itself (see `SeededRandom.nextTruncatedNormal`). No depth scaling.
///   - the embeddings (tokens; learned positions too) are N(0, 1/√d), not truncated: nanodo's
///     `DoConfig.embed_init = variance_scaling(1.0, 'fan_in', 'normal', out_axis=0)`
///     (google-deepmind/nanodo, nanodo/model.py), whose fan-in for a `[V, d]` table is d; nanodo's
///     `fsdp.init` (nanodo/fsdp.py) gives the learned positions the same initialiser.
///   - the untied head is a matrix like the others: nanodo's `fsdp.init("head", …)` returns
///     `head_init` if the config has one, else `kernel_init`, the initialiser of every other
///     matrix. (The public nanodo's `kernel_init` defaults to `xavier_uniform`; QKLab follows
///     the paper's text, the truncated normal.) A tied head is the token embedding.
extension ParameterBuilder {
    /// A linear layer's weight of `shape = [out, in]`: N(0, `normalStd`) under `init = "normal"`,
    /// the truncated normal of standard deviation 1/√in under `"fan_in"`.
    mutating func matrix(_ name: String, _ shape: [Int], _ config: ModelConfig, normalStd: Float) -> Tensor {
        switch config.initialization {
        case .normal: return normal(name, shape, std: normalStd)
        case .fanIn: return truncatedNormal(name, shape, std: Float(1 / Double(shape[1]).squareRoot()))
        }
    }

    /// An embedding table of `shape = [rows, d]`: N(0, 0.02) under `init = "normal"`, N(0, 1/√d)
    /// under `"fan_in"`.
    mutating func embedding(_ name: String, _ shape: [Int], _ config: ModelConfig) -> Tensor {
        switch config.initialization {
        case .normal: return normal(name, shape, std: 0.02)
        case .fanIn: return normal(name, shape, std: Float(1 / Double(shape[1]).squareRoot()))
        }
    }

    /// The untied head `[V, d]`: a matrix as `init` says, or with `head_init_base_width` D0 > 0
    /// the truncated normal of standard deviation √D0/d, µParam (full)'s "initialize the head
    /// with standard deviation √base-fan-in/fan-in" (Wortsman et al. 2023 §3.2.4 (i), Fig. E.5
    /// (ii)): at d = D0 that is 1/√d, `fan_in`'s own head.
    mutating func head(_ name: String, _ shape: [Int], _ config: ModelConfig) -> Tensor {
        guard config.headInitBaseWidth > 0 else { return matrix(name, shape, config, normalStd: 0.02) }
        let std = Double(config.headInitBaseWidth).squareRoot() / Double(shape[1])
        return truncatedNormal(name, shape, std: Float(std))
    }
}
