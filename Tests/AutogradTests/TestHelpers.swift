import Autograd
import XCTest

/// A tensor of Normal(0, std) values from a fixed seed.
func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var random = SeededRandom(seed: seed)
    return Tensor(normal: shape, std: std, random: &random)
}

/// Asserts that every input's analytic gradient of `function` matches finite differences.
func assertGradientsMatch(
    _ inputs: [Tensor], step: Float = 1e-2, file: StaticString = #filePath, line: UInt = #line,
    _ function: () -> Tensor
) {
    for (index, result) in GradientCheck.check(inputs, step: step, function).enumerated() {
        XCTAssertTrue(result.passed, "input \(index): \(result)", file: file, line: line)
        XCTAssertGreaterThan(result.analyticNorm, 0, "input \(index) got no gradient", file: file, line: line)
    }
}

/// A scalar that gives every element of `x` its own upstream gradient (weights from `seed`).
func probe(_ x: Tensor, seed: UInt64 = 99) -> Tensor {
    weightedSum(x, weights: randomTensor(x.shape, seed: seed))
}

func assertClose(
    _ a: [Float], _ b: [Float], tolerance: Float, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, message(), file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, tolerance, message(), file: file, line: line)
}
