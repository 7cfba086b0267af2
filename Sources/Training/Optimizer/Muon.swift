import Autograd
import Foundation
import Transformer

/// Muon, "MomentUm Orthogonalized by Newton–Schulz" (Keller Jordan 2024,
/// kellerjordan.github.io/posts/muon; code: KellerJordan/Muon `muon.py`, `muon_update` and
/// `zeropower_via_newtonschulz5`; used so by karpathy/nanochat `nanochat/muon.py`, and by
/// KellerJordan/modded-nanogpt's records until its `train_gpt.py` moved to NorMuon with Polar
/// Express coefficients), on the decoder layers' 2-D matrices, with AdamW on every other parameter:
///
///     B ← μ·B + (1 − μ)·G                       momentum_buffer, μ = 0.95
///     U ← (1 − μ)·G + μ·B                       Nesterov
///     X ← NS₅(U / (‖U‖_F + 1e-7))               the quintic Newton–Schulz iteration, 5 steps
///     W ← W·(1 − lr·wd) − lr·√max(1, rows/cols)·X
///
/// `G` is the gradient times the clip factor; `lr` the step's scheduled rate (`optim.lr`'s curve).
/// Muon's matrices are `q_proj`, `k_proj`, `v_proj`, `o_proj` and the MLP's (`gate_proj`,
/// `up_proj`, `down_proj`): each is its own parameter in QKLab, so q, k and v are orthogonalised
/// as separate matrices. AdamW (`AdamW`) trains the embeddings, the head and the norm gains at
/// `optim.adamw_lr`: its rate at a step is the same schedule scaled by `adamw_lr / lr`.
///
/// The update's scale √max(1, rows/cols) is Keller Jordan's (`muon_update`; nanochat's Muon scales
/// alike), not Moonlight's 0.2·√max(rows, cols) that matches AdamW's update RMS. Weight decay is
/// decoupled as in `muon.py` (`p.mul_(1 - lr·weight_decay)`), with `optim.weight_decay` and
/// `optim.weight_decay_mode` as AdamW's. Departure: the iteration runs in float32 (the sources
/// run it in bfloat16 on GPUs).
///
/// Each matrix's update runs on one core with single-threaded BLAS (matrices in parallel), so the
/// numbers never depend on the thread count.
public final class Muon: Optimizer {
    /// The matrices Muon updates, in the model's order.
    public let matrices: [NamedParameter]
    /// One momentum buffer per matrix (`<name>.momentum_buffer` in checkpoints, PyTorch's name).
    public let momentumBuffers: [Tensor]
    /// AdamW over the other parameters, at `optim.adamw_lr`.
    public let adamW: AdamW
    /// μ, Keller Jordan's and nanochat's default.
    public static let momentum: Float = 0.95
    public let weightDecay: Float
    public let weightDecayMode: OptimizerConfig.WeightDecayMode
    /// `optim.lr` (Muon's peak rate) and `optim.adamw_lr` (AdamW's).
    public let peakRate: Double, adamWPeakRate: Double

    /// Whether Muon trains `parameter`: a 2-D matrix inside a decoder layer.
    public static func trains(_ parameter: NamedParameter) -> Bool {
        parameter.layer != nil && parameter.tensor.shape.count == 2
    }

    /// - Precondition: `config.adamWLR` is set (`ConfigLoader.validate` refuses a config without).
    public init(parameters: [NamedParameter], config: OptimizerConfig) {
        matrices = parameters.filter(Self.trains)
        let buffer = TensorStorage(count: matrices.reduce(0) { $0 + $1.tensor.count })
        var offset = 0
        momentumBuffers = matrices.map { matrix in
            defer { offset += matrix.tensor.count }
            return Tensor(
                shape: matrix.tensor.shape,
                storage: TensorStorage(slicing: buffer, offset: offset, count: matrix.tensor.count))
        }
        var adamWConfig = config
        adamWConfig.lr = config.adamWLR!
        adamW = AdamW(parameters: parameters.filter { !Self.trains($0) }, config: adamWConfig)
        (weightDecay, weightDecayMode) = (Float(config.weightDecay), config.weightDecayMode)
        (peakRate, adamWPeakRate) = (config.lr, config.adamWLR!)
    }

    /// AdamW's update count (Muon itself keeps none).
    public var stepCount: Int {
        get { adamW.stepCount }
        set { adamW.stepCount = newValue }
    }

    /// AdamW's moments, then each matrix's `<name>.momentum_buffer`.
    public var stateTensors: [(name: String, tensor: Tensor)] {
        adamW.stateTensors + zip(matrices, momentumBuffers).map { ("\($0.name).momentum_buffer", $1) }
    }

    public func step(learningRate lr: Double, gradientScale: Float) {
        adamW.step(learningRate: lr * adamWPeakRate / peakRate, gradientScale: gradientScale)
        let started = OpProfile.begin()
        defer { OpProfile.end(.optimizer, started) }
        let decay = WeightDecay.factor(
            mode: weightDecayMode, weightDecay: weightDecay, learningRate: lr, peakRate: peakRate)
        Parallel.forEachChunk(matrices.count, grain: 1) { range in
            for index in range {
                let weight = matrices[index].tensor
                guard let grad = weight.grad else { continue }
                let (rows, columns) = (weight.shape[0], weight.shape[1])
                let update = Self.orthogonalizedMomentum(
                    gradient: grad.data, scale: gradientScale, buffer: momentumBuffers[index].data,
                    rows: rows, columns: columns)
                let stepSize = Float(lr * max(1, Double(rows) / Double(columns)).squareRoot())
                let p = weight.data
                update.withUnsafeBufferPointer { x in
                    forEachVector(0..<weight.count) { i, lanes in
                        store(load(p, i, lanes) * decay - stepSize * load(x.baseAddress!, i, lanes), p, i, lanes)
                    }
                }
            }
        }
    }

    /// Updates the momentum `buffer` with `scale · gradient` and returns NS₅ of the Nesterov
    /// update, `[rows, columns]` row-major like the weight.
    static func orthogonalizedMomentum(
        gradient: UnsafePointer<Float>, scale: Float, buffer: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) -> [Float] {
        let count = rows * columns, mu = momentum
        var nesterov = [Float](repeating: 0, count: count)  // [rows, columns]
        nesterov.withUnsafeMutableBufferPointer { u in
            forEachVector(0..<count) { i, lanes in
                let g = load(gradient, i, lanes) * scale
                let b = mu * load(buffer, i, lanes) + (1 - mu) * g
                store(b, buffer, i, lanes)
                store((1 - mu) * g + mu * b, u.baseAddress!, i, lanes)
            }
        }
        return NewtonSchulz.orthogonalize(nesterov, rows: rows, columns: columns)
    }
}

/// The quintic Newton–Schulz iteration of Keller Jordan's `zeropower_via_newtonschulz5`
/// (KellerJordan/Muon `muon.py`): an approximate `U·Vᵀ` of `M = U·S·Vᵀ`.
///
///     X ← M / (‖M‖_F + 1e-7)                     every singular value ≤ 1
///     5×:  A = X·Xᵀ     X ← a·X + (b·A + c·A·A)·X      (a, b, c) = (3.4445, −4.7750, 2.0315)
///
/// on the wide orientation (Mᵀ when rows > columns, so that A is the smaller square). Each step
/// maps a singular value s to p(s) = a·s + b·s³ + c·s⁵; the coefficients maximise the slope at
/// 0 and do not converge to 1: singular values end in a band around 1 (about 0.7–1.2 for the
/// initial ones that five steps lift; `muon.py` calls it "something like US'V^T where S' is
/// diagonal with S_{ii}' ~ Uniform(0.5, 1.5)").
public enum NewtonSchulz {
    public static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)
    public static let steps = 5

    /// NS₅ of the `[rows, columns]` row-major `matrix`, same shape. Single-threaded BLAS.
    public static func orthogonalize(_ matrix: [Float], rows: Int, columns: Int) -> [Float] {
        let wide = rows <= columns
        let (m, n) = wide ? (rows, columns) : (columns, rows)  // X is [m, n], m ≤ n
        let norm = Float(matrix.withUnsafeBufferPointer { squaredSum($0.baseAddress!, count: $0.count) }.squareRoot())
        let inverse = 1 / (norm + 1e-7)
        var x = [Float](repeating: 0, count: m * n), next = x  // [m, n]
        var a = [Float](repeating: 0, count: m * m), b = a  // [m, m]
        for i in 0..<rows {
            for j in 0..<columns { x[wide ? i * n + j : j * n + i] = matrix[i * columns + j] * inverse }
        }
        let (ca, cb, cc) = coefficients
        for _ in 0..<steps {
            BLAS.gemm(  // A = X·Xᵀ
                transposeA: false, transposeB: true, m: m, n: m, k: n, a: x, lda: n, b: x, ldb: n,
                beta: 0, c: &a, ldc: m)
            for i in 0..<(m * m) { b[i] = cb * a[i] }
            BLAS.gemm(  // B = b·A + c·A·A
                transposeA: false, transposeB: false, m: m, n: m, k: m, alpha: cc, a: a, lda: m, b: a, ldb: m,
                beta: 1, c: &b, ldc: m)
            for i in 0..<(m * n) { next[i] = ca * x[i] }
            BLAS.gemm(  // X ← a·X + B·X
                transposeA: false, transposeB: false, m: m, n: n, k: m, a: b, lda: m, b: x, ldb: n,
                beta: 1, c: &next, ldc: n)
            swap(&x, &next)
        }
        guard !wide else { return x }
        var result = [Float](repeating: 0, count: rows * columns)  // Xᵀ, [rows, columns]
        for i in 0..<rows {
            for j in 0..<columns { result[i * columns + j] = x[j * n + i] }
        }
        return result
    }
}
