import Transformer

/// µParam (simple), `optim.mup_base_width = D0`: Wortsman et al. 2023, "Small-scale proxies for
/// large-scale Transformer training instabilities" (arXiv 2309.14322), §3.2.4: "scale the LR for
/// linear layers by base-fan-in/fan-in", base-fan-in being the fan-in of the same matrix in the
/// base model of width D0 (the paper's smallest, d = 256). As nanodo's `adamw_mup` does it
/// (google-deepmind/nanodo, first commit 413e781, nanodo/optimizer.py `get_optimizer`: AdamW,
/// then `_scale_by_dict({"kernel": multiplier})`, with `clip_by_global_norm` chained before),
/// the whole AdamW update of every linear-layer matrix — the weight-decay term included — is
/// multiplied by the ratio, after clipping; embeddings and norm gains keep the plain update.
///
/// The ratios, for a model of width d:
/// - D0/d for every matrix whose fan-in is d (q, k, v, gate, up, an untied head) and for `o_proj`
///   (fan-in H·Dh, which QKLab's width axes scale with d: heads grow with d at a fixed Dh);
/// - F0/F for `down_proj` (fan-in F): F0 the `d_ff` the same config derives at d_model = D0
///   (4·D0 for GELU, round_up(8·D0/3, 32) for the gated MLPs), or D0/d when `d_ff` is set
///   (taken to scale with d).
/// At d = D0 every ratio is exactly 1, and training is bit for bit µParam off's.
public enum MuParam {
    /// Per parameter of `parameters` (a model of `model`'s config), the factor its AdamW update is
    /// multiplied by: all ones when `baseWidth` is 0.
    public static func updateMultipliers(
        _ parameters: [NamedParameter], model: ModelConfig, baseWidth: Int
    ) -> [Float] {
        guard baseWidth > 0 else { return parameters.map { _ in 1 } }
        let widthRatio = Double(baseWidth) / Double(model.dModel)
        var base = model
        base.dModel = baseWidth
        let downRatio = model.dFF == nil ? Double(base.feedForward) / Double(model.feedForward) : widthRatio
        return parameters.map { parameter in
            guard parameter.tensor.shape.count == 2, !parameter.name.hasPrefix("model.embed_") else { return 1 }
            return Float(parameter.name.hasSuffix("mlp.down_proj.weight") ? downRatio : widthRatio)
        }
    }
}
