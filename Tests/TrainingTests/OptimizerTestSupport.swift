import Training
import XCTest

/// The message `ConfigLoader` gives for the defaults with `overrides` applied, or "accepted".
func validationError(_ overrides: [String]) -> String {
    var config = TrainingConfig()
    do {
        for override in overrides { try ConfigLoader.apply(override: override, to: &config) }
        try ConfigLoader.validate(config)
    } catch { return "\(error)" }
    return "accepted"
}

/// Elementwise closeness of two equally long arrays.
func XCTAssertEqual(
    _ actual: [Double], _ expected: [Double], accuracy: Double, _ message: String, file: StaticString = #filePath,
    line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, accuracy, "\(message): largest difference \(worst)", file: file, line: line)
}
