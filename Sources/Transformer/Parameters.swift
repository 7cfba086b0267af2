import Autograd

/// One trainable tensor under its safetensors name (docs/spec/model.md's table).
public struct NamedParameter {
    /// The checkpoint key, e.g. `model.layers.0.self_attn.q_norm.weight`.
    public let name: String
    /// The weight; its `.grad` holds the gradient after `backward()`.
    public let tensor: Tensor
    /// Decoder layer the tensor belongs to, nil for embeddings, the final norm and the head.
    public let layer: Int?
    /// How it is initialised.
    public let initialization: Initialization

    /// docs/spec/model.md's initialisation rules.
    public enum Initialization: Equatable {
        /// Normal(0, std): linear and embedding weights (`init = "normal"`), embeddings (`"fan_in"`).
        case normal(std: Float)
        /// A normal truncated at ±2 of its own standard deviation and rescaled so that its standard
        /// deviation is `std` (`SeededRandom.nextTruncatedNormal`): linear weights under `init = "fan_in"`.
        case truncatedNormal(std: Float)
        /// All ones: norm weights of the plain form (gain `w`).
        case ones
        /// All zeros: norm weights of the offset form (gain `1 + w`, `norm_weight = "offset"`), and
        /// `q_proj` with `zero_init_query`.
        case zeros
        /// All zeros: a projection's bias (`attention_bias`), as transformers initialises an
        /// `nn.Linear` bias (`PreTrainedModel._init_weights`).
        case bias
    }

    public init(name: String, tensor: Tensor, layer: Int?, initialization: Initialization) {
        (self.name, self.tensor, self.layer, self.initialization) = (name, tensor, layer, initialization)
    }

    /// `Σ grad²` (0 without a gradient): Float vectors summed in blocks of 4096, blocks in Double.
    public func gradientSquaredSum() -> Double {
        guard let grad = tensor.grad else { return 0 }
        return squaredSum(grad.data, count: grad.count)
    }

    /// 2-D weights (matrices and embeddings) get weight decay; norm weights and biases never do.
    public var decays: Bool { tensor.shape.count == 2 }

    /// An RMSNorm gain (plain or offset form), which `decay_norm_weights` decays too.
    public var isNormWeight: Bool {
        tensor.shape.count == 1 && (initialization == .ones || initialization == .zeros)
    }
}

extension Array where Element == NamedParameter {
    /// `sqrt(Σ grad²)` over these parameters (missing gradients count as zero), the sums added in
    /// parameter order.
    public func gradientNorm() -> Double {
        gradientSquaredSums().reduce(0, +).squareRoot()
    }

    /// Each parameter's `gradientSquaredSum()`, in order, computed on the kernel threads: each
    /// sum on one thread, so the values never depend on the thread count.
    public func gradientSquaredSums() -> [Double] {
        var sums = [Double](repeating: 0, count: count)
        sums.withUnsafeMutableBufferPointer { sums in
            Parallel.forEachChunk(count, grain: 1) { range in
                for index in range { sums[index] = self[index].gradientSquaredSum() }
            }
        }
        return sums
    }

    /// Total number of scalars.
    public var scalarCount: Int { reduce(0) { $0 + $1.tensor.count } }
}
