import Autograd
import Transformer

/// Tiny dims for exhaustive checks: d=8, 2 layers, 2 heads, T=5, V=7.
func tinyConfig(blockNorm: ModelConfig.BlockNorm = .pre, qkNorm: ModelConfig.QKNorm = .head,
                position: ModelConfig.Position = .rope, mlp: ModelConfig.MLP = .swiglu,
                tie: Bool = true, kvHeads: Int? = nil) -> ModelConfig {
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
    config.seed = 7
    return config
}

/// `tinyConfig` in all 48 layouts: block_norm × qk_norm × position × mlp × tie_embeddings.
func everyTinyLayout(kvHeads: Int? = nil) -> [ModelConfig] {
    ModelConfig.BlockNorm.allCases.flatMap { blockNorm in
        ModelConfig.QKNorm.allCases.flatMap { qkNorm in
            ModelConfig.Position.allCases.flatMap { position in
                ModelConfig.MLP.allCases.flatMap { mlp in
                    [true, false].map { tinyConfig(blockNorm: blockNorm, qkNorm: qkNorm, position: position, mlp: mlp, tie: $0, kvHeads: kvHeads) }
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
        let isNorm = parameter.initialization == .ones
        for i in 0..<parameter.tensor.count {
            parameter.tensor.data[i] = Float(random.nextNormal(mean: isNorm ? 1 : 0, std: isNorm ? 0.2 : 0.25))
        }
    }
}

let tinyTokens: [Int32] = [1, 5, 2, 2, 6, 0, 3, 4, 1, 5]     // B=2, T=5
let tinyTargets: [Int32] = [5, 2, 2, 6, 0, 3, 4, 1, 5, 6]
