import Autograd
import Formats
import Foundation
import Transformer

/// QK-Clip (Kimi K2, arXiv 2507.20534 §2.1 and Algorithm 1, "MuonClip"): after the optimizer's
/// update, every head h whose largest attention logit of the step exceeded τ (`optim.qk_clip_tau`)
/// has its query and key weights scaled down:
///
///     S_max^h = max over the batch and kept pairs (i, j) of q_i^h·k_j^h / √Dh
///     γ_h = τ / S_max^h   (heads with S_max^h > τ only)
///     W_q^h ← γ_h^α · W_q^h        W_k^h ← γ_h^(1−α) · W_k^h        α = 0.5
///
/// W_q^h is rows `h·Dh ..< (h+1)·Dh` of `q_proj` (`[H·Dh, d]`), W_k^g those of kv head g in
/// `k_proj` (`[Hkv·Dh, d]`). A logit is bilinear in the two rows and RoPE rotates both, so the
/// same batch's logits of head h scale by γ_h: their maximum becomes τ. S_max^h is the step's
/// forward (`ShardedLoss.attentionScoreMax`: every shard and process, combined in shard order),
/// taken before the update, as in the paper.
///
/// Grouped-query attention (a departure: the paper's heads each have their own key, except
/// MLA's shared rotary key, which it leaves alone): key head g, shared by the query heads of its
/// group, is scaled by γ_g^(1−α) with γ_g the smallest γ_h of the group (the largest
/// reduction), each query head by its own γ_h^α. The group's most clipped head lands at τ, the
/// others below it (their logits scale by γ_h^α·γ_g^(1−α) ≤ γ_h), none above.
///
/// Not with QK-Norm (refused in `ConfigLoader.validate`): the norm divides each q and k by its
/// RMS after the projection, so scaling W_q or W_k changes no logit (to `norm_eps`); under
/// QK-Norm the logits are bounded by the norm weights instead.
///
/// No state: it changes the weights, nothing else; rescaling is elementwise, so the result does
/// not depend on threads or processes.
public final class QKClip {
    /// τ, in logits (after the 1/√Dh scale).
    public let threshold: Float
    /// α, the query's share of the rescale (the paper's 0.5).
    public static let alpha: Float = 0.5
    /// Per layer, `q_proj` and `k_proj`.
    let projections: [(query: Tensor, key: Tensor)]
    let heads: Int, kvHeads: Int, headDim: Int

    /// What one step's clip did in each layer.
    public struct Report: Equatable {
        /// Per layer, how many query heads had S_max^h > τ.
        public var clippedHeads: [Int]
        /// Per layer, the smallest γ_h (1 when no head was clipped).
        public var smallestGamma: [Float]
    }

    public init(model: TransformerModel, threshold: Float) {
        self.threshold = threshold
        let config = model.config
        (heads, kvHeads, headDim) = (config.nHead, config.kvHeads, config.headDimension)
        func projection(_ layer: Int, _ name: String) -> Tensor {
            model.parameters.first { $0.layer == layer && $0.name.hasSuffix(".self_attn.\(name).weight") }!.tensor
        }
        projections = (0..<config.nLayer).map { (projection($0, "q_proj"), projection($0, "k_proj")) }
    }

    /// Rescales the heads whose S_max^h in `scoreMax` (`[L][H]`, the step's) exceeded τ.
    @discardableResult
    public func apply(scoreMax: [[Float]]) -> Report {
        var report = Report(clippedHeads: [], smallestGamma: [])
        let group = heads / kvHeads
        for (layer, maxima) in scoreMax.enumerated() {
            let gammas = maxima.map { $0 > threshold ? threshold / $0 : 1 }  // [H]
            let (query, key) = projections[layer]
            for (head, gamma) in gammas.enumerated() where gamma < 1 {
                scaleRows(of: query, head: head, by: pow(gamma, Self.alpha))
            }
            for kvHead in 0..<kvHeads {
                let gamma = gammas[(kvHead * group)..<((kvHead + 1) * group)].min()!
                if gamma < 1 { scaleRows(of: key, head: kvHead, by: pow(gamma, 1 - Self.alpha)) }
            }
            report.clippedHeads.append(gammas.count { $0 < 1 })
            report.smallestGamma.append(gammas.min() ?? 1)
        }
        return report
    }

    /// Multiplies head `head`'s `Dh` rows of a `[heads·Dh, d]` projection by `factor`.
    func scaleRows(of weight: Tensor, head: Int, by factor: Float) {
        let width = weight.shape[1], start = weight.data + head * headDim * width
        forEachVector(0..<(headDim * width)) { i, lanes in store(load(start, i, lanes) * factor, start, i, lanes) }
    }
}

extension QKClip.Report {
    /// `qk_clip_heads` and `qk_clip_gamma_min`, per layer (docs/metrics.md).
    var metricsFields: [(key: String, value: MetricsRecord.Value)] {
        [("qk_clip_heads", .integers(clippedHeads)), ("qk_clip_gamma_min", .numbers(smallestGamma))]
    }

    /// TensorBoard scalars `qk_clip_heads/<layer>` and `qk_clip_gamma_min/<layer>`.
    var scalars: [(tag: String, value: Float)] {
        clippedHeads.enumerated().map { ("qk_clip_heads/\($0)", Float($1)) }
            + smallestGamma.enumerated().map { ("qk_clip_gamma_min/\($0)", $1) }
    }
}
