import Transformer

/// Per-matrix RMS telemetry of one logged step (docs/metrics.md, "Per-matrix telemetry"), for the
/// four matrices of each decoder layer that Wortsman et al. 2023 follow (§3.4; Figs. 11, 13, E.12,
/// E.13): `q_proj`, `k_proj`, the MLP's first matrix (`mlp_in`: `gate_proj` of a gated MLP,
/// `up_proj` of a GELU one) and `down_proj`. Each list holds `n_layer` numbers.
public struct MatrixTelemetry: Equatable {
    /// The matrices' key suffixes, in the order of the lists below.
    public static let matrixNames = ["q_proj", "k_proj", "mlp_in", "down_proj"]
    /// `grad_rms_<matrix>`: √(mean g²) of the matrix's gradient before clipping, per layer.
    public var gradientRMS: [[Double]]
    /// `update_rms_<matrix>`: √(mean Δθ²) / lr_t, the applied update divided by the step's
    /// learning rate (nil when no update was applied).
    public var updateRMS: [[Double]]?
    /// `param_rms_<matrix>`: √(mean θ²) of the weights before the update (nil with `updateRMS`).
    public var parameterRMS: [[Double]]?

    /// The metrics' keys and per-layer values, in docs/metrics.md's order.
    var keyedValues: [(key: String, values: [Double])] {
        let groups: [(String, [[Double]]?)] = [
            ("grad_rms", gradientRMS), ("update_rms", updateRMS), ("param_rms", parameterRMS),
        ]
        return groups.flatMap { prefix, lists in
            zip(Self.matrixNames, lists ?? []).map { ("\(prefix)_\($0)", $1) }
        }
    }
}

/// Where the tracked matrices sit in a list of parameters, by their checkpoint names
/// (`model.layers.<i>.self_attn.q_proj.weight`, …).
struct TrackedMatrices {
    /// `indices[matrix][layer]`: the matrix's index in the list, `MatrixTelemetry.matrixNames` order.
    let indices: [[Int]]
    /// The matrices' element counts, as `indices`.
    let counts: [[Double]]

    init(parameters: [NamedParameter], layerCount: Int) {
        let gated = parameters.contains { $0.name.hasSuffix(".mlp.gate_proj.weight") }
        let suffixes = [
            ".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
            gated ? ".mlp.gate_proj.weight" : ".mlp.up_proj.weight", ".mlp.down_proj.weight",
        ]
        indices = suffixes.map { suffix in
            (0..<layerCount).map { layer in
                guard let index = parameters.firstIndex(where: { $0.layer == layer && $0.name.hasSuffix(suffix) })
                else { preconditionFailure("layer \(layer) has no \(suffix)") }
                return index
            }
        }
        counts = indices.map { $0.map { Double(parameters[$0].tensor.count) } }
    }

    /// Per matrix and layer, `√(squares[index] / count) · scale`.
    func rms(_ squares: [Double], scale: Double = 1) -> [[Double]] {
        zip(indices, counts).map { zip($0, $1).map { (squares[$0] / $1).squareRoot() * scale } }
    }
}
