import Formats

/// What QKLab refuses in `[optim]`'s choice of optimizer and QK-Clip (in `ConfigLoader.validate`, one line
/// naming the key):
///
/// - `adamw_lr` with `name = "adamw"`: AdamW's rate is `lr`, the key would be ignored.
/// - `name = "muon"` without `adamw_lr`: Muon's `lr` (about 0.02 in Keller Jordan's and
///   nanochat's runs) would be far too large for the parameters AdamW trains beside it.
///
/// - `mup_base_width` with `name = "muon"`: µParam (simple) is a rule for AdamW's updates
///   (nanodo's `adamw_mup`); Muon scales its updates to each matrix's shape itself.
/// - `qk_clip_tau` with `model.qk_norm` on: QK-Norm divides each q and k by its RMS after the
///   projections, so QK-Clip's rescale of `q_proj` and `k_proj` would change no logit.
/// - `qk_clip_tau` with `model.attn_softcap`: the attention op measures each head's largest score
///   after the cap, which never exceeds c, while QK-Clip (Kimi K2, §2.1) reads the raw logit.
///
/// Every QKLab layout has its hidden matrices as separate 2-D parameters (q, k, v, o and each MLP
/// projection), so Muon handles every layout there is; none is refused.
extension ConfigLoader {
    static func checkOptimizer(_ config: TrainingConfig) throws {
        let optim = config.optim
        switch optim.name {
        case .adamw:
            if optim.adamWLR != nil {
                throw ConfigError(
                    "[optim] adamw_lr applies to name = \"muon\" only (AdamW's rate is optim.lr): remove it or set optim.name = \"muon\""
                )
            }
        case .muon:
            if optim.adamWLR == nil {
                throw ConfigError(
                    "[optim] name = \"muon\" needs adamw_lr, the peak rate of the parameters AdamW trains beside Muon (embeddings, head, norm gains; e.g. 3e-3): optim.lr is Muon's"
                )
            }
            if optim.mupBaseWidth > 0 {
                throw ConfigError(
                    "[optim] mup_base_width applies to name = \"adamw\" only: µParam (simple) scales AdamW's updates, Muon scales its own to each matrix's shape"
                )
            }
        }
        if optim.qkClipTau > 0 && config.model.qkNorm != .off {
            throw ConfigError(
                "[optim] qk_clip_tau needs model.qk_norm = \"off\": QK-Norm normalises q and k after q_proj and k_proj, so QK-Clip's rescale of their rows would change no logit"
            )
        }
        if optim.qkClipTau > 0 && config.model.attnSoftcap > 0 {
            throw ConfigError(
                "[optim] qk_clip_tau needs model.attn_softcap = 0: QK-Clip reads each head's largest logit, and with a soft-cap QKLab measures it after the cap"
            )
        }
    }
}
