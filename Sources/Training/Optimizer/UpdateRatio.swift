import Autograd
import Transformer

/// `update_ratio` per decoder layer: `‖θ_after − θ_before‖₂ / ‖θ_before‖₂` over the layer's
/// parameters, for one optimizer step (the update-to-weight ratio practitioners watch; about
/// 1e-3 is healthy, e.g. Karpathy's "A Recipe for Training Neural Networks").
///
/// `snapshot` copies the layers' parameters before the step (into one buffer allocated on first
/// use and reused, so steady-state steps allocate nothing); `ratios` compares after it. Only
/// measured steps pay: one copy and one pass over the layers' weights.
public final class UpdateRatioMeter {
    /// The measured parameters (the decoder layers'), in the model's order.
    let parameters: [NamedParameter]
    private let layerCount: Int
    private var before: [Float] = []

    /// Measures the parameters of `model`'s decoder layers.
    public init(parameters: [NamedParameter], layerCount: Int) {
        self.parameters = parameters.filter { $0.layer != nil }
        self.layerCount = layerCount
    }

    /// Remembers the current values.
    public func snapshot() {
        if before.isEmpty { before = [Float](repeating: 0, count: parameters.reduce(0) { $0 + $1.tensor.count }) }
        before.withUnsafeMutableBufferPointer { buffer in
            var offset = 0
            for parameter in parameters {
                (buffer.baseAddress! + offset).update(from: parameter.tensor.data, count: parameter.tensor.count)
                offset += parameter.tensor.count
            }
        }
    }

    /// Per measured parameter (`parameters` order), `Σ (θ_after − θ_before)²` and `Σ θ_before²`.
    func squares() -> (update: [Double], weight: [Double]) {
        var update = [Double](repeating: 0, count: parameters.count), weight = update
        before.withUnsafeBufferPointer { buffer in
            var offset = 0
            for (index, parameter) in parameters.enumerated() {
                let old = buffer.baseAddress! + offset, count = parameter.tensor.count
                update[index] = squaredSum(parameter.tensor.data, minus: old, count: count)
                weight[index] = squaredSum(old, count: count)
                offset += count
            }
        }
        return (update, weight)
    }

    /// Per layer, the update's norm over the snapshot's norm (NaN when the snapshot's is 0 or
    /// the update is non-finite).
    public func ratios() -> [Double] { ratios(squares()) }

    /// `ratios()` from `squares()`' values.
    func ratios(_ squares: (update: [Double], weight: [Double])) -> [Double] {
        var updateSquares = [Double](repeating: 0, count: layerCount), weightSquares = updateSquares
        for (index, parameter) in parameters.enumerated() {
            updateSquares[parameter.layer!] += squares.update[index]
            weightSquares[parameter.layer!] += squares.weight[index]
        }
        return zip(updateSquares, weightSquares).map { $1 > 0 ? ($0 / $1).squareRoot() : .nan }
    }
}
