import Autograd

/// The MLP: SwiGLU `down(silu(gate(x)) ⊙ up(x))` or GELU `down(gelu(up(x)))`.
struct FeedForward {
    let gateProj: Tensor?   // [F, d], SwiGLU only
    let upProj: Tensor      // [F, d]
    let downProj: Tensor    // [d, F]

    init(prefix: String, config: ModelConfig, builder: inout ParameterBuilder) {
        let (d, f) = (config.dModel, config.feedForward)
        gateProj = config.mlp == .swiglu ? builder.normal("\(prefix).gate_proj.weight", [f, d], std: 0.02) : nil
        upProj = builder.normal("\(prefix).up_proj.weight", [f, d], std: 0.02)
        downProj = builder.normal("\(prefix).down_proj.weight", [d, f], std: 0.02 / Float(2 * config.nLayer).squareRoot())
    }

    /// `x [B,T,d] → [B,T,d]`.
    func forward(_ x: Tensor, config: ModelConfig) -> Tensor {
        let hidden: Tensor                                                   // [B, T, F]
        switch config.mlp {
        case .swiglu: hidden = swiglu(gate: linear(x, weight: gateProj!), up: linear(x, weight: upProj))
        case .gelu: hidden = gelu(linear(x, weight: upProj))
        }
        return linear(hidden, weight: downProj)                              // [B, T, d]
    }
}
