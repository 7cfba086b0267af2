/// Checks backward rules against finite differences.
///
/// For a scalar function `f` of some input tensors, the analytic gradient (one `backward()`) is
/// compared with the fourth-order central difference
///
///     f'(x) ≈ (−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h        (error O(h⁴))
///
/// for every element of every input. Everything runs in Float32, so `h` cannot be tiny (rounding
/// error grows like ε·|f|/h); the fourth-order stencil lets `h = 1e-2` keep truncation error
/// small even where the function is strongly curved (measured on the tiny transformer with
/// order-1 weights, the plain two-point difference is 14% off at h = 1e-2).
///
/// Whole gradient vectors are compared, not single elements:
/// `relativeError = ‖numeric − analytic‖₂ / max(‖numeric‖₂, ‖analytic‖₂)`. A correct rule lands
/// near 1e-4, while a wrong one — a missing term, a wrong sign, a transposed index — moves the
/// gradient by a sizeable fraction of its norm. The default tolerance, 1e-2, sits between the two;
/// a test shows a deliberately wrong rule failing it.
///
/// A tensor whose whole gradient is tiny (a norm weight deep in a model) would drown in Float32
/// rounding, so the check also allows `roundingAllowance = √n · ε · |f| / h`: the rounding error of
/// the difference quotient, summed in quadrature over the tensor's n elements. It is measured
/// noise of about a third of that; against gradients of order 1 it is well under the tolerance.
public enum GradientCheck {
    /// Outcome for one input tensor.
    public struct Result: CustomStringConvertible {
        public let relativeError: Double
        public let numericNorm: Double
        public let analyticNorm: Double
        /// Absolute difference allowed for Float32 rounding (see above).
        public let roundingAllowance: Double
        public let passed: Bool
        public var description: String {
            "relative error \(relativeError) (‖numeric‖ \(numericNorm), ‖analytic‖ \(analyticNorm), rounding allowance \(roundingAllowance))"
        }
    }

    /// Gradient check of `function` (which must return a one-element tensor) with respect to each
    /// tensor of `inputs` (their `requiresGrad` is set; previous gradients are zeroed, in place, so
    /// a model's parameters keep their slices of its gradient buffer).
    public static func check(
        _ inputs: [Tensor], step: Float = 1e-2, tolerance: Double = 1e-2,
        _ function: () -> Tensor
    ) -> [Result] {
        Tape.reset()
        for input in inputs {
            input.requiresGrad = true
            input.zeroGrad()
        }
        let output = function()
        let roundingAllowance = Double(Float.ulpOfOne) * Double(abs(output.item)) / Double(step)
        output.backward()
        return inputs.map { input in
            let analytic = input.grad.map(\.values) ?? [Float](repeating: 0, count: input.count)
            let numeric = (0..<input.count).map { i -> Double in
                let saved = input.data[i]
                func value(at offset: Float) -> Double {
                    input.data[i] = saved + offset
                    return Tape.withoutGradients { Double(function().item) }
                }
                let difference =
                    -value(at: 2 * step) + 8 * value(at: step) - 8 * value(at: -step) + value(at: -2 * step)
                input.data[i] = saved
                return difference / (12 * Double(step))
            }
            return compare(
                numeric: numeric, analytic: analytic.map(Double.init), tolerance: tolerance,
                roundingAllowance: roundingAllowance * Double(input.count).squareRoot())
        }
    }

    static func compare(numeric: [Double], analytic: [Double], tolerance: Double, roundingAllowance: Double) -> Result {
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let difference = norm(zip(numeric, analytic).map { $0 - $1 })
        let scale = max(norm(numeric), norm(analytic), 1e-6)
        let relative = difference / scale
        return Result(
            relativeError: relative, numericNorm: norm(numeric), analyticNorm: norm(analytic),
            roundingAllowance: roundingAllowance,
            passed: difference < tolerance * scale + roundingAllowance)
    }
}
