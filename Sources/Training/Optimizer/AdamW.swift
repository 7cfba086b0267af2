import Foundation
import Autograd
import Transformer

/// AdamW with bias-corrected moments and PyTorch's decoupled weight decay, on the model's
/// ordered parameter list (model.md):
///
///     p ← p · (1 − lr·wd)                  2-D weights only (never norm weights)
///     m ← β1·m + (1−β1)·g                  v ← β2·v + (1−β2)·g²
///     p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)
///
/// `g` is the gradient times the clipping factor `min(1, clip / (‖g‖ + 1e-6))`.
public final class AdamW {
    public let parameters: [NamedParameter]
    /// First moments, one per parameter (`<name>.exp_avg` in checkpoints).
    public let firstMoments: [Tensor]
    /// Second moments (`<name>.exp_avg_sq`).
    public let secondMoments: [Tensor]
    /// Updates applied so far (t of the bias correction).
    public var stepCount = 0
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float

    public init(parameters: [NamedParameter], config: OptimizerConfig) {
        self.parameters = parameters
        firstMoments = parameters.map { Tensor(zeros: $0.tensor.shape) }
        secondMoments = parameters.map { Tensor(zeros: $0.tensor.shape) }
        (beta1, beta2, eps, weightDecay) = (Float(config.beta1), Float(config.beta2), Float(config.eps), Float(config.weightDecay))
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
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.tensor.grad else { continue }
            let decay = parameter.decays ? Float(1 - lr * Double(weightDecay)) : 1
            let p = parameter.tensor.data, g = grad.data
            let m = firstMoments[index].data, v = secondMoments[index].data
            Parallel.forEachChunk(parameter.tensor.count, grain: 1 << 14) { range in
                forEachVector(range) { i, lanes in
                    let gi = load(g, i, lanes) * gradientScale
                    let mi = beta1 * load(m, i, lanes) + (1 - beta1) * gi
                    let vi = beta2 * load(v, i, lanes) + (1 - beta2) * gi * gi
                    store(mi, m, i, lanes)
                    store(vi, v, i, lanes)
                    store(load(p, i, lanes) * decay - stepSize * mi / (vi.squareRoot() * inverseBias2Root + eps), p, i, lanes)
                }
            }
        }
    }
}
