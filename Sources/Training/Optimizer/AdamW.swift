import Foundation
import Autograd
import Transformer

/// AdamW with bias-corrected moments and decoupled weight decay, on the model's ordered
/// parameter list (docs/spec/model.md):
///
///     p ← p · (1 − lr·wd)                  weight_decay_mode "coupled" (PyTorch's AdamW)
///     p ← p · (1 − lr/peak·wd)             "independent" (Wortsman et al. 2023, arXiv 2309.14322)
///     m ← β1·m + (1−β1)·g                  v ← β2·v + (1−β2)·g²
///     p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)
///
/// `lr` is the step's scheduled rate, `peak` the config's `lr`. The decay applies to 2-D weights
/// (matrices and embeddings), and to norm weights only with `decay_norm_weights` (Qwen3-Next);
/// never to biases.
/// `g` is the gradient times the clipping factor `min(1, clip / (‖g‖ + 1e-6))`. A parameter's
/// update multiplier r (1 but under µParam, `MuParam`) scales its whole update, decay included:
/// `p ← p·(1 − r·(1 − decay)) − r·lr/(1−β1ᵗ) · m / (…)`, which is the update above for r = 1.
///
/// One step is one fused pass: the parameters are laid end to end (as they are in a model's
/// parameter buffer) and the whole length is split across cores once, each core updating its
/// share of every parameter's elements with that parameter's weight decay.
public final class AdamW {
    public let parameters: [NamedParameter]
    /// First moments, one per parameter (`<name>.exp_avg` in checkpoints): slices of one buffer.
    public let firstMoments: [Tensor]
    /// Second moments (`<name>.exp_avg_sq`), likewise.
    public let secondMoments: [Tensor]
    /// Updates applied so far (t of the bias correction).
    public var stepCount = 0
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Whether the decay is scaled by the step's rate (`coupled`) or by its ratio to `peakRate`.
    public let weightDecayMode: OptimizerConfig.WeightDecayMode
    /// The schedule's peak learning rate (`optim.lr`), the unit of `independent` decay.
    public let peakRate: Double
    /// Per parameter: whether it is decayed (2-D weights; norm weights with `decay_norm_weights`).
    public let decays: [Bool]
    /// Per parameter: the factor r of its whole update (µParam's base-fan-in/fan-in; else 1).
    public let updateMultipliers: [Float]
    /// Where each parameter's elements sit in the concatenated length, for the fused pass.
    private let segmentStarts: [Int]
    private let totalCount: Int

    public init(parameters: [NamedParameter], config: OptimizerConfig, updateMultipliers: [Float]? = nil) {
        self.parameters = parameters
        self.updateMultipliers = updateMultipliers ?? parameters.map { _ in 1 }
        precondition(self.updateMultipliers.count == parameters.count, "one update multiplier per parameter")
        let counts = parameters.map(\.tensor.count)
        let starts = Array(counts.reduce(into: [0]) { $0.append($0.last! + $1) }.dropLast())
        (segmentStarts, totalCount) = (starts, counts.reduce(0, +))
        let first = TensorStorage(count: totalCount), second = TensorStorage(count: totalCount)
        func slices(of buffer: TensorStorage) -> [Tensor] {
            zip(parameters, starts).map { parameter, start in
                Tensor(
                    shape: parameter.tensor.shape,
                    storage: TensorStorage(slicing: buffer, offset: start, count: parameter.tensor.count))
            }
        }
        firstMoments = slices(of: first)
        secondMoments = slices(of: second)
        (beta1, beta2, eps, weightDecay) = (
            Float(config.beta1), Float(config.beta2), Float(config.eps), Float(config.weightDecay)
        )
        (weightDecayMode, peakRate) = (config.weightDecayMode, config.lr)
        decays = parameters.map { $0.decays || (config.decayNormWeights && $0.isNormWeight) }
    }

    /// The factor decayed parameters are multiplied by at a step with learning rate `lr`.
    public func decayFactor(learningRate lr: Double) -> Float {
        switch weightDecayMode {
        case .coupled: return Float(1 - lr * Double(weightDecay))
        case .independent: return Float(1 - lr / peakRate * Double(weightDecay))
        }
    }

    /// The factor global-norm clipping multiplies gradients by (1 when `clip` is 0 = off).
    public static func clipFactor(gradientNorm: Double, clip: Double) -> Float {
        clip > 0 ? Float(min(1, clip / (gradientNorm + 1e-6))) : 1
    }

    /// Applies one update with learning rate `lr` to every parameter that has a gradient.
    public func step(learningRate lr: Double, gradientScale: Float) {
        let started = OpProfile.begin()
        defer { OpProfile.end(.optimizer, started) }
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(lr / (1 - pow(Double(beta1), t)))
        let inverseBias2Root = Float(1 / (1 - pow(Double(beta2), t)).squareRoot())
        let (beta1, beta2, eps) = (self.beta1, self.beta2, self.eps)
        let decayFactor = decayFactor(learningRate: lr)
        Parallel.forEachChunk(totalCount, grain: 1 << 14) { range in
            for (index, start) in segmentStarts.enumerated() {
                let parameter = parameters[index].tensor, end = start + parameter.count
                guard start < range.upperBound, end > range.lowerBound, let grad = parameter.grad else { continue }
                let r = updateMultipliers[index], stepSize = r * stepSize  // both exact for r = 1
                let decay = decays[index] ? 1 - r * (1 - decayFactor) : 1  // decayFactor itself for r = 1
                let p = parameter.data, g = grad.data, m = firstMoments[index].data, v = secondMoments[index].data
                forEachVector((max(start, range.lowerBound) - start)..<(min(end, range.upperBound) - start)) {
                    i, lanes in
                    let gi = load(g, i, lanes) * gradientScale
                    let mi = beta1 * load(m, i, lanes) + (1 - beta1) * gi
                    let vi = beta2 * load(v, i, lanes) + (1 - beta2) * gi * gi
                    store(mi, m, i, lanes)
                    store(vi, v, i, lanes)
                    store(
                        load(p, i, lanes) * decay - stepSize * mi / (squareRoot(vi) * inverseBias2Root + eps), p, i,
                        lanes)
                }
            }
        }
    }
}
