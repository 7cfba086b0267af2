import Autograd
import Transformer

/// An optimizer of the model's ordered parameter list: one update per training step, and the
/// state a checkpoint holds. The optimizers (`AdamW`, `Muon`) sit side by side behind it, one
/// file each; the trainer holds `any Optimizer` and never asks which one it has.
public protocol Optimizer: AnyObject {
    /// Updates applied so far (the t of a bias correction); a resume sets it from the
    /// checkpoint's `optimizerSteps`.
    var stepCount: Int { get set }

    /// Applies one update at the step's scheduled learning rate `lr` (the schedule of `optim.lr`)
    /// to every parameter that has a gradient, each gradient multiplied by `gradientScale` first
    /// (the clip factor, `GradientClip.factor`).
    func step(learningRate lr: Double, gradientScale: Float)

    /// Every state tensor under its name in a checkpoint's `optimizer.safetensors`
    /// (`<parameter>.exp_avg`, …), in a fixed order: a checkpoint saves their values, a resume
    /// copies the saved values back into them.
    var stateTensors: [(name: String, tensor: Tensor)] { get }
}

/// Global-norm gradient clipping (`optim.grad_clip`).
public enum GradientClip {
    /// The factor gradients are multiplied by: `min(1, clip / (‖g‖ + 1e-6))`, or 1 when `clip` is
    /// 0 (off).
    public static func factor(gradientNorm: Double, clip: Double) -> Float {
        clip > 0 ? Float(min(1, clip / (gradientNorm + 1e-6))) : 1
    }
}

/// Decoupled weight decay (`optim.weight_decay`, `optim.weight_decay_mode`).
public enum WeightDecay {
    /// The factor decayed weights are multiplied by at a step with learning rate `lr`:
    /// `1 − lr·wd` (`coupled`, PyTorch's AdamW) or `1 − lr/peak·wd` (`independent`, Wortsman et al.
    /// 2023, arXiv 2309.14322), `peak` being the schedule's peak rate.
    public static func factor(
        mode: OptimizerConfig.WeightDecayMode, weightDecay: Float, learningRate lr: Double, peakRate: Double
    ) -> Float {
        switch mode {
        case .coupled: return Float(1 - lr * Double(weightDecay))
        case .independent: return Float(1 - lr / peakRate * Double(weightDecay))
        }
    }
}

extension OptimizerConfig {
    /// The optimizer this config names, over `parameters` (the model's ordered list), with AdamW's
    /// per-parameter `updateMultipliers` (µParam's; nil: all 1; not with Muon).
    public func makeOptimizer(for parameters: [NamedParameter], updateMultipliers: [Float]? = nil) -> any Optimizer {
        switch name {
        case .adamw: AdamW(parameters: parameters, config: self, updateMultipliers: updateMultipliers)
        case .muon: Muon(parameters: parameters, config: self)
        }
    }
}
