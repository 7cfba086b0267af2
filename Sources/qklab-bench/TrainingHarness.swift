import Autograd
import Training
import Transformer

/// A benchmark model with what a training step of `qklab train` does — batch, forward and
/// backward in batch shards, gradient norm, clipping, the optimizer (AdamW unless told), QK-Clip
/// when given τ — and, on a measured step, what a logged step adds: the model's stability
/// telemetry and the update ratio.
final class TrainingHarness {
    let size: Size
    let model: TransformerModel
    let optimizer: any Optimizer
    let qkClip: QKClip?
    let dataParallel: DataParallel
    let updateRatios: UpdateRatioMeter
    let corpus: [Int32]
    var sampler = BatchSampler(seed: 1)

    /// `corpus` holds token ids below `vocabularySize`; `shards` batch shards per step;
    /// `optimizer` Muon or AdamW (β2 0.99 either way); `qkClipTau` QK-Clip's τ (nil: off).
    init(
        _ size: Size, qkNorm: ModelConfig.QKNorm, corpus: [Int32], shards: Int,
        optimizer name: OptimizerConfig.Name = .adamw, qkClipTau: Float? = nil
    ) throws {
        var config = ModelConfig()
        config.vocabSize = vocabularySize
        (config.dModel, config.nLayer, config.nHead, config.blockSize, config.qkNorm) = (
            size.d, size.layers, size.heads, size.t, qkNorm
        )
        model = try TransformerModel(config: config)
        var optimizerConfig = OptimizerConfig()
        optimizerConfig.beta2 = 0.99
        if name == .muon { (optimizerConfig.name, optimizerConfig.lr, optimizerConfig.adamWLR) = (.muon, 0.02, 1e-3) }
        optimizer = optimizerConfig.makeOptimizer(for: model.parameters)
        qkClip = qkClipTau.map { [model] in QKClip(model: model, threshold: $0) }
        dataParallel = DataParallel(model: model, shards: shards)
        updateRatios = UpdateRatioMeter(parameters: model.parameters, layerCount: size.layers)
        (self.size, self.corpus) = (size, corpus)
    }

    /// One optimizer step; `measuring` records the telemetry as a logged step does.
    func step(measuring: Bool) {
        let batch = sampler.next(from: corpus, batchSize: size.b, length: size.t)
        model.zeroGradients()
        let result = dataParallel.lossAndGradients(
            tokens: batch.inputs, targets: batch.targets, batch: size.b, length: size.t,
            measuring: measuring)
        let norm = model.parameters.gradientNorm()
        if measuring { updateRatios.snapshot() }
        optimizer.step(learningRate: 1e-3, gradientScale: GradientClip.factor(gradientNorm: norm, clip: 1))
        qkClip?.apply(scoreMax: result.attentionScoreMax)
        if measuring { precondition(result.telemetry != nil && updateRatios.ratios().count == size.layers) }
    }
}
