import Foundation
import XCTest
@testable import Autograd

/// The SIMD helpers the kernels are built on, against scalar references.
final class VectorMathTests: XCTestCase {
    func testVectorExpMatchesTheLibraryToAFewUlps() {
        var worst: Double = 0
        for first in stride(from: 0, through: 175 * 64, by: 16) {  // x from −87 to 88 in steps of 1/64
            let xs = Vector((0..<16).map { -87 + Float(min(first + $0, 175 * 64)) / 64 })
            let got = exp(xs)
            for lane in 0..<16 {
                let want = Foundation.exp(Double(xs[lane]))
                worst = max(worst, abs(Double(got[lane]) - want) / want)
            }
        }
        XCTAssertLessThan(worst, 1e-7, "relative error of the vector exp")
        XCTAssertEqual(exp(Vector(repeating: 0))[0], 1)
        XCTAssertGreaterThan(exp(Vector(repeating: -.infinity))[0], 0)  // clamped, never 0 or NaN
        XCTAssertTrue(exp(Vector(repeating: 1000))[0].isFinite)
    }

    /// Both branches (|x| ≤ 0.625 and above), tiny arguments (where `1 − 2/(e^{2x} + 1)` would
    /// lose every digit), the saturation, ±∞ and NaN.
    func testVectorTanhMatchesTheLibrary() {
        var worst: Double = 0
        for first in stride(from: 0, through: 2 * 20 * 256, by: 16) {  // x from −20 to 20 in steps of 1/256
            let xs = Vector((0..<16).map { -20 + Float(min(first + $0, 2 * 20 * 256)) / 256 })
            let got = tanh(xs)
            for lane in 0..<16 where xs[lane] != 0 {
                let want = Foundation.tanh(Double(xs[lane]))
                worst = max(worst, abs(Double(got[lane]) - want) / abs(want))
            }
        }
        for x: Float in [1e-30, -3e-8, 1e-4, 0.625, 0.6250001, -0.6249999] {
            let want = Foundation.tanh(Double(x))
            XCTAssertLessThan(abs(Double(tanh(Vector(repeating: x))[0]) - want) / abs(want), 3e-7, "tanh(\(x))")
        }
        XCTAssertLessThan(worst, 3e-7, "relative error of the vector tanh")
        XCTAssertEqual(tanh(Vector(repeating: .infinity))[0], 1)
        XCTAssertEqual(tanh(Vector(repeating: -.infinity))[0], -1)
        XCTAssertEqual(tanh(Vector(repeating: 0))[0], 0)
        XCTAssertTrue(tanh(Vector(repeating: .nan))[0].isNaN)
        XCTAssertTrue(tanh(Vector(repeating: -.nan))[0].isNaN)
    }

    func testLanewiseMaxAndLargestLane() {
        let a = Vector((0..<16).map { Float($0) - 7.5 })
        let b = Vector((0..<16).map { Float(15 - $0) * 0.75 - 3 })
        let larger = lanewiseMax(a, b)
        for lane in 0..<16 { XCTAssertEqual(larger[lane], max(a[lane], b[lane])) }
        XCTAssertEqual(largestLane(a), 7.5)
        XCTAssertEqual(largestLane(Vector(repeating: -.infinity)), -.infinity)
        var oneLarge = Vector(repeating: -3)
        oneLarge[11] = 1e30
        XCTAssertEqual(largestLane(oneLarge), 1e30)
        var random = SeededRandom(seed: 3)  // the largest in every lane, among random values
        for lane in 0..<16 {
            for _ in 0..<20 {
                var v = Vector((0..<16).map { _ in Float(random.nextNormal()) })
                v[lane] = v.max() + 1
                XCTAssertEqual(largestLane(v), v[lane], "lane \(lane)")
                XCTAssertEqual(broadcastLargestLane(v), Vector(repeating: v[lane]), "lane \(lane)")
            }
        }
    }

    func testLaneMaskKeepsTheFirstLanes() {
        for lanes in 1...16 {
            let mask = laneMask(lanes)
            for lane in 0..<16 { XCTAssertEqual(mask[lane], lane < lanes ? ~0 : 0, "lanes \(lanes), lane \(lane)") }
        }
    }

    /// Every start of the range in steps of 16, in order, each with its count of valid lanes (16
    /// but for a shorter tail): the contract the kernels' loads and stores rely on, whichever way
    /// the loop is split.
    func testForEachVectorVisitsEveryElementOnceInOrder() {
        for range in [0..<0, 0..<5, 0..<16, 0..<32, 3..<35, 16..<49, 7..<8, 100..<116] {
            var calls: [(start: Int, lanes: Int)] = []
            forEachVector(range) { calls.append(($0, $1)) }
            let expected = stride(from: range.lowerBound, to: range.upperBound, by: 16).map {
                ($0, min(16, range.upperBound - $0))
            }
            XCTAssertEqual(calls.map(\.start), expected.map(\.0), "\(range)")
            XCTAssertEqual(calls.map(\.lanes), expected.map(\.1), "\(range)")
        }
    }
}
