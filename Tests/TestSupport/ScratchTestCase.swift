import Foundation
import XCTest

/// A test case with a fresh scratch folder per test (`scratch`), removed afterwards.
open class ScratchTestCase: XCTestCase {
    public var scratch: URL!

    override open func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qklab-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override open func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }
}
