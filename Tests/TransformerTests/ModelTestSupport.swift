import Autograd
import Transformer

/// Tiny dims for exhaustive checks: d=8, 2 layers, 2 heads, T=5, V=7.
func tinyConfig(
    blockNorm: ModelConfig.BlockNorm = .pre, qkNorm: ModelConfig.QKNorm = .head,
    position: ModelConfig.Position = .rope, mlp: ModelConfig.MLP = .swiglu,
    tie: Bool = true, kvHeads: Int? = nil, normWeight: ModelConfig.NormWeight = .plain,
    embedScale: Bool = false, ropeFraction: Float = 1
) -> ModelConfig {
    var config = ModelConfig()
    config.vocabSize = 7
    config.blockSize = 6
    config.dModel = 8
    config.nLayer = 2
    config.nHead = 2
    config.nKVHead = kvHeads
    config.dFF = 12
    config.blockNorm = blockNorm
    config.qkNorm = qkNorm
    config.position = position
    config.mlp = mlp
    config.tieEmbeddings = tie
    config.normWeight = normWeight
    config.embedScale = embedScale
    config.ropeFraction = ropeFraction
    config.seed = 7
    return config
}

/// `tinyConfig` in every layout: block_norm × qk_norm × position × mlp × norm_weight (108), each
/// twice, with the two-valued switches tie_embeddings, embed_scale and rope_fraction (0.5 or 1,
/// rope only) in the two complementary patterns, so that every switch value meets every
/// combination of the others: 216 layouts.
func everyTinyLayout(kvHeads: Int? = nil) -> [ModelConfig] {
    ModelConfig.BlockNorm.allCases.flatMap { blockNorm in
        ModelConfig.QKNorm.allCases.flatMap { qkNorm in
            ModelConfig.Position.allCases.flatMap { position in
                ModelConfig.MLP.allCases.flatMap { mlp in
                    ModelConfig.NormWeight.allCases.flatMap { normWeight in
                        [(true, false, Float(1)), (false, true, position == .rope ? 0.5 : 1)].map {
                            tie, embedScale, fraction in
                            tinyConfig(
                                blockNorm: blockNorm, qkNorm: qkNorm, position: position, mlp: mlp, tie: tie,
                                kvHeads: kvHeads,
                                normWeight: normWeight, embedScale: embedScale, ropeFraction: fraction)
                        }
                    }
                }
            }
        }
    }
}

/// The gradient check's layouts (each costs ~0.5 s): block_norm × qk_norm × mlp × norm_weight in
/// full (54), with position, tie_embeddings, embed_scale and rope_fraction (0.5 with rope) set
/// by the parities of those four indices, so that each of their values meets every block_norm,
/// qk_norm, mlp and norm_weight value.
func gradientCheckLayouts() -> [ModelConfig] {
    ModelConfig.BlockNorm.allCases.enumerated().flatMap { b, blockNorm in
        ModelConfig.QKNorm.allCases.enumerated().flatMap { q, qkNorm in
            ModelConfig.MLP.allCases.enumerated().flatMap { m, mlp in
                ModelConfig.NormWeight.allCases.enumerated().map { n, normWeight in
                    let position: ModelConfig.Position = (b + q + m + n) % 2 == 0 ? .rope : .learned
                    return tinyConfig(
                        blockNorm: blockNorm, qkNorm: qkNorm, position: position, mlp: mlp, tie: (b + q + n) % 2 == 0,
                        normWeight: normWeight, embedScale: (q + m + n) % 2 == 0,
                        ropeFraction: position == .rope && (b + m) % 2 == 0 ? 0.5 : 1)
                }
            }
        }
    }
}

/// Replaces the 0.02-scale initialisation with weights of order 1 (norm weights around 1), so
/// every path carries a gradient large enough for finite differences to see.
func randomizeForGradientCheck(_ model: TransformerModel, seed: UInt64) {
    var random = SeededRandom(seed: seed)
    for parameter in model.parameters {
        let normMean: Double? =
            switch parameter.initialization {  // gains around 1 in either form
            case .ones: 1
            case .zeros: 0
            case .normal, .truncatedNormal, .bias: nil
            }
        for i in 0..<parameter.tensor.count {
            parameter.tensor.data[i] = Float(random.nextNormal(mean: normMean ?? 0, std: normMean == nil ? 0.25 : 0.2))
        }
    }
}

let tinyTokens: [Int32] = [1, 5, 2, 2, 6, 0, 3, 4, 1, 5]  // B=2, T=5
let tinyTargets: [Int32] = [5, 2, 2, 6, 0, 3, 4, 1, 5, 6]
