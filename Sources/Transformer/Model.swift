import Autograd
import Foundation

/// A decoder-only transformer exactly as `docs/spec/model.md` specifies.
///
/// Shapes: B batch rows, T positions, d = `d_model`, H / Hkv query / key-value heads of width Dh,
/// F = `d_ff`, V = vocabulary.
public final class TransformerModel {
    public let config: ModelConfig
    /// Every trainable tensor in docs/spec/model.md's order: embeddings, layers 0…L−1, final norm, head.
    /// The optimizer, gradient norms, checkpoints and export all walk this one list.
    public let parameters: [NamedParameter]
    /// Every parameter back to back, in `parameters` order: each parameter's tensor is a slice of
    /// this one buffer (so weights used together, like gate and up, are one matrix as well).
    public let parameterBuffer: Tensor
    /// The gradients, laid out like `parameterBuffer`: each parameter's `grad` is a slice of it
    /// from the start (replacing one with another tensor detaches it from this buffer).
    public let gradientBuffer: Tensor

    let embedTokens: Tensor  // [V, d]
    let embedPositions: Tensor?  // [block_size, d], learned positions only
    let layers: [DecoderLayer]
    let finalNorm: Tensor  // [d]
    let lmHead: Tensor  // [V, d]; the token embedding itself when tied
    let rotary: RotaryTable?  // RoPE's angles for block_size positions, rope only
    let localRotary: RotaryTable?  // the local layers' own, when rope_local_theta differs from rope_theta

    /// Builds the model with the initialisation `config.initialization` names (docs/spec/model.md),
    /// a pure function of `config.seed`.
    public convenience init(config: ModelConfig) throws {
        try config.validate()
        self.init(config: config, builder: ParameterBuilder(seed: config.seed, count: Int(config.parameterCount)))
    }

    /// A model over the same weights as `source` (the same storage: nothing is copied, and an
    /// update of one is an update of the other) with gradients of its own, so that batch shards
    /// can run forward and backward on the two at the same time.
    public convenience init(sharingWeightsOf source: TransformerModel) {
        self.init(config: source.config, builder: ParameterBuilder(sharing: source.parameterBuffer))
    }

    private init(config: ModelConfig, builder: ParameterBuilder) {
        self.config = config
        var builder = builder
        let (v, d) = (config.vocabSize, config.dModel)
        embedTokens = builder.embedding("model.embed_tokens.weight", [v, d], config)
        embedPositions =
            config.position == .learned
            ? builder.embedding("model.embed_positions.weight", [config.blockSize, d], config) : nil
        layers = (0..<config.nLayer).map { DecoderLayer(index: $0, config: config, builder: &builder) }
        finalNorm = builder.normWeight("model.norm.weight", [d], config)
        lmHead = config.tieEmbeddings ? embedTokens : builder.head("lm_head.weight", [v, d], config)
        rotary =
            config.position == .rope
            ? RotaryTable(
                positions: config.blockSize, headDim: config.headDimension, rotaryDim: config.rotaryDimension,
                theta: config.ropeTheta) : nil
        localRotary =
            config.position == .rope && config.slidingWindow > 0 && config.localRopeTheta != config.ropeTheta
            ? RotaryTable(
                positions: config.blockSize, headDim: config.headDimension, rotaryDim: config.rotaryDimension,
                theta: config.localRopeTheta) : nil
        precondition(
            builder.offset == builder.values.count, "parameter buffer of \(builder.values.count) for \(builder.offset)")
        parameters = builder.parameters
        parameterBuffer = Tensor(shape: [builder.values.count], storage: builder.values)
        gradientBuffer = Tensor(shape: [builder.gradients.count], storage: builder.gradients)
    }

    /// The parameter named `name`, if the layout has it.
    public func parameter(named name: String) -> NamedParameter? {
        parameters.first { $0.name == name }
    }

    /// Logits `[B, T, V]` for `tokens` (B·T ids, row-major; soft-capped with `final_softcap`, as
    /// the loss and sampling see them), with `attn_logit_max` per layer and,
    /// with `measuring`, each layer's attention telemetry. `length` may be any prefix length up
    /// to `block_size`.
    ///
    /// With `cache` (generation: B = 1, no tape), `tokens` continue the positions the cache
    /// holds and are added to it: a whole sequence into an empty cache (a prefill, the same
    /// numbers as without a cache), then one token at a time (see `KVCache`); the logits are
    /// the new positions' only.
    public func forward(tokens: [Int32], batch: Int, length: Int, cache: KVCache? = nil, measuring: Bool = false)
        -> ForwardResult
    {
        let first = cache?.count ?? 0  // position of the first token
        precondition(
            length >= 1 && first + length <= config.blockSize,
            "sequence of \(length) after \(first) cached positions for block_size \(config.blockSize)")
        precondition(
            cache == nil || (batch == 1 && cache!.capacity == config.blockSize && cache!.layers.count == layers.count),
            "a key/value cache serves one sequence of the model it was made for")
        // [B, T, d]
        var x = embedding(ids: tokens, idsShape: [batch, length], table: embedTokens, scale: config.embeddingScale)
        if let embedPositions { x = addPositions(x, table: embedPositions, firstPosition: first) }
        var logitMaxima: [Float] = [], scoreMaxima: [[Float]] = [], statistics: [AttentionStatistics] = []
        var blockOutputs: [BlockOutputStatistics] = []
        for (index, layer) in layers.enumerated() {
            let layerRotary = config.isGlobalLayer(index) ? rotary : localRotary ?? rotary
            let block = layer.forward(
                x, config: config, rotary: layerRotary, cache: cache?.layers[index], measuring: measuring)
            x = block.output
            logitMaxima.append(block.attentionLogitMax)
            scoreMaxima.append(block.attentionScoreMax)
            if let measured = block.attentionStatistics { statistics.append(measured) }
            if measuring { blockOutputs.append(BlockOutputStatistics(of: x)) }
        }
        x = config.norm(x, weight: finalNorm)
        var logits = linear(x, weight: lmHead)  // [B, T, V]
        if config.finalSoftcap > 0 { logits = softcap(logits, cap: config.finalSoftcap) }  // Gemma 2's final cap
        return ForwardResult(
            logits: logits, attentionLogitMax: logitMaxima, attentionScoreMax: scoreMaxima,
            attentionStatistics: measuring ? statistics : nil, blockOutputs: measuring ? blockOutputs : nil)
    }

    /// The training objective on `tokens` predicting `targets` (both B·T ids); with `measuring`,
    /// the step's stability telemetry too.
    public func loss(tokens: [Int32], targets: [Int32], batch: Int, length: Int, measuring: Bool = false) -> LossResult
    {
        let forward = forward(tokens: tokens, batch: batch, length: length, measuring: measuring)
        let crossEntropy = Autograd.crossEntropy(
            logits: forward.logits, targets: targets, zLoss: config.zLoss,
            measuring: measuring)
        let telemetry = forward.attentionStatistics.map { layers in
            ModelTelemetry(layers: layers, blockOutputs: forward.blockOutputs!, output: crossEntropy.statistics!)
        }
        return LossResult(
            loss: crossEntropy.loss, crossEntropy: crossEntropy.crossEntropy,
            logits: forward.logits, attentionLogitMax: forward.attentionLogitMax,
            attentionScoreMax: forward.attentionScoreMax, telemetry: telemetry)
    }

    /// Gradient norms after `backward()`: of all parameters, and of each decoder layer's; and
    /// each parameter's `Σ grad²` they come from (`parameters` order).
    public func gradientNorms() -> (global: Double, layers: [Double], squares: [Double]) {
        var layerSums = [Double](repeating: 0, count: config.nLayer)
        var total = 0.0
        let squareSums = parameters.gradientSquaredSums()
        for (parameter, squares) in zip(parameters, squareSums) {
            total += squares
            if let layer = parameter.layer { layerSums[layer] += squares }
        }
        return (total.squareRoot(), layerSums.map { $0.squareRoot() }, squareSums)
    }

    /// Sets every parameter's gradient to zero.
    public func zeroGradients() {
        let buffer = gradientBuffer.data
        Parallel.forEachChunk(gradientBuffer.count, grain: 1 << 16) { range in
            (buffer + range.lowerBound).update(repeating: 0, count: range.count)
        }
    }
}

/// Output of `TransformerModel.forward`.
public struct ForwardResult {
    /// `[B, T, V]`.
    public let logits: Tensor
    /// Per layer: largest |attention score| after the 1/√Dh scale, over kept (query, key) pairs.
    public let attentionLogitMax: [Float]
    /// `[L][H]`: per layer and query head, the largest attention score (signed, after the 1/√Dh
    /// scale) over kept pairs and batch rows: Kimi K2's S_max^h (arXiv 2507.20534 §2.1).
    public let attentionScoreMax: [[Float]]
    /// Per layer, when measured.
    public let attentionStatistics: [AttentionStatistics]?
    /// Per layer, when measured: the sums of each block's output `[B, T, d]`.
    public let blockOutputs: [BlockOutputStatistics]?
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
    /// Per layer and head, as in `ForwardResult`.
    public let attentionScoreMax: [[Float]]
    /// The step's stability telemetry, when measured.
    public let telemetry: ModelTelemetry?
}

/// Creates parameters in order as consecutive slices of one buffer (initialised from one seeded
/// stream), each with its gradient a slice of one gradient buffer; or, for a model sharing
/// another's weights, slices that model's parameter buffer in the same order, without writing.
struct ParameterBuilder {
    /// The parameter buffer.
    let values: TensorStorage
    /// The gradient buffer (zeros).
    let gradients: TensorStorage
    /// Initialisation stream (nil: the values are shared, already initialised).
    var random: SeededRandom?
    /// Elements handed out so far.
    private(set) var offset = 0
    var parameters: [NamedParameter] = []
    var layer: Int?

    init(seed: UInt64, count: Int) {
        values = TensorStorage(count: count)
        gradients = TensorStorage(count: count)
        random = SeededRandom(seed: seed)
    }

    init(sharing buffer: Tensor) {
        values = buffer.storage
        gradients = TensorStorage(count: buffer.count)
        random = nil
    }

    mutating func normal(_ name: String, _ shape: [Int], std: Float) -> Tensor {
        sampled(name, shape, .normal(std: std)) { $0.fillNormal(std: std, random: &$1) }
    }

    mutating func truncatedNormal(_ name: String, _ shape: [Int], std: Float) -> Tensor {
        sampled(name, shape, .truncatedNormal(std: std)) { $0.fillTruncatedNormal(std: std, random: &$1) }
    }

    /// The next parameter, filled by `fill` from the initialisation stream (left as it is when
    /// the values are shared).
    private mutating func sampled(
        _ name: String, _ shape: [Int], _ initialization: NamedParameter.Initialization,
        fill: (Tensor, inout SeededRandom) -> Void
    ) -> Tensor {
        let tensor = next(name, shape, initialization)
        if var stream = random {
            fill(tensor, &stream)
            random = stream
        }
        return tensor
    }

    /// All zeros (a matrix that starts at zero, or a bias: `initialization` says which), drawing
    /// nothing from the initialisation stream.
    mutating func zeros(
        _ name: String, _ shape: [Int], initialization: NamedParameter.Initialization = .zeros
    ) -> Tensor {
        let tensor = next(name, shape, initialization)
        if random != nil { tensor.data.update(repeating: 0, count: tensor.count) }
        return tensor
    }

    /// An RMSNorm weight: ones for the plain gain `w`, zeros for the offset gain `1 + w`.
    mutating func normWeight(_ name: String, _ shape: [Int], _ config: ModelConfig) -> Tensor {
        let offset = config.normWeight == .offset
        let tensor = next(name, shape, offset ? .zeros : .ones)
        if random != nil { tensor.data.update(repeating: offset ? 0 : 1, count: tensor.count) }
        return tensor
    }

    /// A bias: zeros, so that the weights around it are those of the same model without biases.
    mutating func bias(_ name: String, _ shape: [Int]) -> Tensor { zeros(name, shape, initialization: .bias) }

    /// The next `shape`-sized slice of the buffers, as a parameter named `name`.
    private mutating func next(_ name: String, _ shape: [Int], _ initialization: NamedParameter.Initialization)
        -> Tensor
    {
        let tensor = slice(at: offset, shape)
        offset += tensor.count
        parameters.append(NamedParameter(name: name, tensor: tensor, layer: layer, initialization: initialization))
        return tensor
    }

    /// A `shape`-sized tensor over the parameter buffer from `start`, its gradient over the
    /// gradient buffer at the same place.
    private func slice(at start: Int, _ shape: [Int]) -> Tensor {
        let count = shape.reduce(1, *)
        let tensor = Tensor(
            shape: shape, storage: TensorStorage(slicing: values, offset: start, count: count), requiresGrad: true)
        tensor.grad = Tensor(shape: shape, storage: TensorStorage(slicing: gradients, offset: start, count: count))
        return tensor
    }

    /// One `[rows, columns]` matrix over consecutive parameters that begin with `first` (e.g. the
    /// gate and up projections, one above the other): weight and gradient alias theirs.
    func joined(from first: Tensor, shape: [Int]) -> Tensor {
        slice(at: first.data - values.pointer, shape)
    }
}
