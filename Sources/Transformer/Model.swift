import Autograd
import Foundation

/// A decoder-only transformer exactly as `model.md` specifies.
///
/// Shapes: B batch rows, T positions, d = `d_model`, H / Hkv query / key-value heads of width Dh,
/// F = `d_ff`, V = vocabulary.
public final class TransformerModel {
    public let config: ModelConfig
    /// Every trainable tensor in model.md's order: embeddings, layers 0…L−1, final norm, head.
    /// The optimizer, gradient norms, checkpoints and export all walk this one list.
    public let parameters: [NamedParameter]

    let embedTokens: Tensor            // [V, d]
    let embedPositions: Tensor?        // [block_size, d], learned positions only
    let layers: [DecoderLayer]
    let finalNorm: Tensor              // [d]
    let lmHead: Tensor                 // [V, d]; the token embedding itself when tied

    /// Builds the model with model.md's initialisation, a pure function of `config.seed`.
    public convenience init(config: ModelConfig) throws {
        try config.validate()
        self.init(config: config, builder: ParameterBuilder(seed: config.seed))
    }

    /// A model over the same weights as `source` (the same storage: nothing is copied, and an
    /// update of one is an update of the other) with gradients of its own, so that batch shards
    /// can run forward and backward on the two at the same time.
    public convenience init(sharingWeightsOf source: TransformerModel) {
        self.init(config: source.config, builder: ParameterBuilder(sharing: source.parameters))
    }

    private init(config: ModelConfig, builder: ParameterBuilder) {
        self.config = config
        var builder = builder
        let (v, d) = (config.vocabSize, config.dModel)
        embedTokens = builder.normal("model.embed_tokens.weight", [v, d], std: 0.02)
        embedPositions = config.position == .learned
            ? builder.normal("model.embed_positions.weight", [config.blockSize, d], std: 0.02) : nil
        layers = (0..<config.nLayer).map { DecoderLayer(index: $0, config: config, builder: &builder) }
        finalNorm = builder.ones("model.norm.weight", [d])
        lmHead = config.tieEmbeddings ? embedTokens : builder.normal("lm_head.weight", [v, d], std: 0.02)
        parameters = builder.parameters
    }

    /// The parameter named `name`, if the layout has it.
    public func parameter(named name: String) -> NamedParameter? {
        parameters.first { $0.name == name }
    }

    /// Logits `[B, T, V]` for `tokens` (B·T ids, row-major), with `attn_logit_max` per layer.
    /// `length` may be any prefix length up to `block_size`.
    public func forward(tokens: [Int32], batch: Int, length: Int) -> ForwardResult {
        precondition(length >= 1 && length <= config.blockSize, "sequence of \(length) for block_size \(config.blockSize)")
        var x = embedding(ids: tokens, idsShape: [batch, length], table: embedTokens)   // [B, T, d]
        if let embedPositions { x = addPositions(x, table: embedPositions) }
        var logitMaxima: [Float] = []
        for layer in layers {
            let block = layer.forward(x, config: config)
            x = block.output
            logitMaxima.append(block.attentionLogitMax)
        }
        x = rmsNorm(x, weight: finalNorm, eps: config.normEps)
        let logits = linear(x, weight: lmHead)                                          // [B, T, V]
        return ForwardResult(logits: logits, attentionLogitMax: logitMaxima)
    }

    /// The training objective on `tokens` predicting `targets` (both B·T ids).
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, length: Int) -> LossResult {
        let forward = forward(tokens: tokens, batch: batch, length: length)
        let crossEntropy = Autograd.crossEntropy(logits: forward.logits, targets: targets, zLoss: config.zLoss)
        return LossResult(loss: crossEntropy.loss, crossEntropy: crossEntropy.crossEntropy,
                          logits: forward.logits, attentionLogitMax: forward.attentionLogitMax)
    }

    /// Gradient norms after `backward()`: of all parameters, and of each decoder layer's.
    public func gradientNorms() -> (global: Double, layers: [Double]) {
        var layerSums = [Double](repeating: 0, count: config.nLayer)
        var total = 0.0
        for parameter in parameters {
            let squares = parameter.gradientSquaredSum()
            total += squares
            if let layer = parameter.layer { layerSums[layer] += squares }
        }
        return (total.squareRoot(), layerSums.map { $0.squareRoot() })
    }

    /// Sets every parameter's gradient to zero.
    public func zeroGradients() {
        for parameter in parameters { parameter.tensor.zeroGrad() }
    }
}

/// Output of `TransformerModel.forward`.
public struct ForwardResult {
    /// `[B, T, V]`.
    public let logits: Tensor
    /// Per layer: largest |attention score| after the 1/√Dh scale, over kept (query, key) pairs.
    public let attentionLogitMax: [Float]
}

/// Output of `TransformerModel.loss`.
public struct LossResult {
    /// The optimised objective (cross-entropy + z-loss), a scalar to call `backward()` on.
    public let loss: Tensor
    /// Plain mean cross-entropy.
    public let crossEntropy: Float
    /// `[B, T, V]`.
    public let logits: Tensor
    /// Per layer, as in `ForwardResult`.
    public let attentionLogitMax: [Float]
}

/// Creates parameters in order from one seeded stream, recording each under its name; or, for a
/// model sharing another's weights, hands out views of that model's parameters in the same order.
struct ParameterBuilder {
    var random: SeededRandom
    /// The parameters to share, in creation order (nil: initialise new ones).
    let shared: [NamedParameter]?
    var parameters: [NamedParameter] = []
    var layer: Int?

    init(seed: UInt64) { (random, shared) = (SeededRandom(seed: seed), nil) }
    init(sharing parameters: [NamedParameter]) { (random, shared) = (SeededRandom(seed: 0), parameters) }

    mutating func normal(_ name: String, _ shape: [Int], std: Float) -> Tensor {
        add(name, .normal(std: std)) { Tensor(normal: shape, std: std, random: &$0.random, requiresGrad: true) }
    }

    mutating func ones(_ name: String, _ shape: [Int]) -> Tensor {
        add(name, .ones) { _ in Tensor(filling: 1, shape: shape, requiresGrad: true) }
    }

    private mutating func add(_ name: String, _ initialization: NamedParameter.Initialization,
                              _ initialize: (inout ParameterBuilder) -> Tensor) -> Tensor {
        let tensor: Tensor
        if let shared {
            let source = shared[parameters.count].tensor
            tensor = Tensor(shape: source.shape, storage: source.storage, requiresGrad: true)
        } else {
            tensor = initialize(&self)
        }
        parameters.append(NamedParameter(name: name, tensor: tensor, layer: layer, initialization: initialization))
        return tensor
    }
}
