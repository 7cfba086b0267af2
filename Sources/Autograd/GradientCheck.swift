/// Checks backward rules against central finite differences.
///
/// For a scalar function `f` of some input tensors, the analytic gradient (one `backward()`) is
/// compared with `(f(x + h·e_i) − f(x − h·e_i)) / 2h` for every element `i` of every input.
///
/// Everything runs in Float32, so the comparison is of whole gradient vectors, not single
/// elements: `relativeError = ‖numeric − analytic‖₂ / max(‖numeric‖₂, ‖analytic‖₂)`. With inputs
/// of order 1 and `h = 1e-2`, truncation error (O(h²)) and rounding error (O(ε·|f|/h)) both stay
/// near 1e-4, while a wrong rule — a missing term, a wrong sign, a transposed index — moves the
/// gradient by a sizeable fraction of its norm. The default tolerance, 1e-2, sits between the two;
/// a test shows a deliberately wrong rule failing it.
public enum GradientCheck {
    /// Outcome for one input tensor.
    public struct Result: CustomStringConvertible {
        public let relativeError: Double
        public let numericNorm: Double
        public let analyticNorm: Double
        public let passed: Bool
        public var description: String {
            "relative error \(relativeError) (‖numeric‖ \(numericNorm), ‖analytic‖ \(analyticNorm))"
        }
    }

    /// Gradient check of `function` (which must return a one-element tensor) with respect to each
    /// tensor of `inputs` (their `requiresGrad` is set; previous gradients are discarded).
    public static func check(_ inputs: [Tensor], step: Float = 1e-2, tolerance: Double = 1e-2,
                             _ function: () -> Tensor) -> [Result] {
        Tape.reset()
        for input in inputs {
            input.requiresGrad = true
            input.grad = nil
        }
        function().backward()
        return inputs.map { input in
            let analytic = input.grad.map(\.values) ?? [Float](repeating: 0, count: input.count)
            let numeric = (0..<input.count).map { i -> Double in
                let saved = input.data[i]
                input.data[i] = saved + step
                let plus = Tape.withoutGradients { Double(function().item) }
                input.data[i] = saved - step
                let minus = Tape.withoutGradients { Double(function().item) }
                input.data[i] = saved
                return (plus - minus) / (2 * Double(step))
            }
            return compare(numeric: numeric, analytic: analytic.map(Double.init), tolerance: tolerance)
        }
    }

    static func compare(numeric: [Double], analytic: [Double], tolerance: Double) -> Result {
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let difference = norm(zip(numeric, analytic).map { $0 - $1 })
        let scale = max(norm(numeric), norm(analytic), 1e-6)
        let relative = difference / scale
        return Result(relativeError: relative, numericNorm: norm(numeric), analyticNorm: norm(analytic),
                      passed: relative < tolerance)
    }
}
