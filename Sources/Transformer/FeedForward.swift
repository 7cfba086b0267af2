import Autograd

/// The MLP: SwiGLU `down(silu(gate(x)) ⊙ up(x))`, GELU `down(gelu(up(x)))` or GeGLU
/// `down(gelu_tanh(gate(x)) ⊙ up(x))` (Gemma 3).
struct FeedForward {
    let upProj: Tensor  // [F, d]
    let downProj: Tensor  // [d, F]
    /// `[2F, d]`: gate_proj above up_proj, the same memory (weights and gradients), gated MLPs only.
    let gateUp: Tensor?

    init(prefix: String, config: ModelConfig, builder: inout ParameterBuilder) {
        let (d, f) = (config.dModel, config.feedForward)
        let gateProj =
            config.mlp.isGated ? builder.matrix("\(prefix).gate_proj.weight", [f, d], config, normalStd: 0.02) : nil
        upProj = builder.matrix("\(prefix).up_proj.weight", [f, d], config, normalStd: 0.02)
        downProj = builder.matrix(
            "\(prefix).down_proj.weight", [d, f], config, normalStd: 0.02 / Float(2 * config.nLayer).squareRoot())
        gateUp = gateProj.map { builder.joined(from: $0, shape: [2 * f, d]) }
    }

    /// `x [B,T,d] → [B,T,d]`, added to `residual` if given (fused into the down product).
    func forward(_ x: Tensor, config: ModelConfig, adding residual: Tensor? = nil) -> Tensor {
        switch config.mlp {
        case .swiglu: return gatedFeedForward(x, gateUp: gateUp!, down: downProj, gate: .silu, adding: residual)
        case .geglu: return gatedFeedForward(x, gateUp: gateUp!, down: downProj, gate: .geluTanh, adding: residual)
        case .gelu: return linear(gelu(linear(x, weight: upProj)), weight: downProj, adding: residual)
        }
    }
}
