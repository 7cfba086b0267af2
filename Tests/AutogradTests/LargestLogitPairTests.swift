import Autograd
import Foundation
import XCTest

/// The (query, key) pair behind `attn_logit_max` (`LargestLogitPair`): its norms and cosine give
/// the logit back, ties go to the first pair, and shards merge to the whole batch's pair.
final class LargestLogitPairTests: XCTestCase {
    /// attn_logit_max = s·‖q‖·‖k‖·|cos| up to float rounding, s the scale the call used, for the
    /// register and BLAS paths, grouped-query heads, a soft-cap (the pair is the one before it)
    /// and a sliding window; the pair's logit is the call's `logitMax` exactly.
    func testNormsAndCosineGiveTheLogitMax() throws {
        for length in [9, 70] {
            let q = randomTensor([2, length, 16], seed: 11), k = randomTensor([2, length, 8], seed: 12)
            let v = randomTensor([2, length, 8], seed: 13)
            for variant in [AttentionVariant.plain, AttentionVariant(softcap: 1), AttentionVariant(window: 3)] {
                for scale: Float? in [nil, 1.0 / 4] {
                    let result = causalAttention(
                        q: q, k: k, v: v, heads: 4, kvHeads: 2, scale: scale, variant: variant, measuring: true)
                    let pair = try XCTUnwrap(result.statistics).largestLogitPair
                    let s = Double(scale ?? 1 / 2)  // Dh = 4
                    let label = "T = \(length), \(variant), scale \(s)"
                    XCTAssertEqual(pair.logit, result.logitMax, label)
                    XCTAssertGreaterThan(pair.logit, 0, label)
                    XCTAssertEqual(
                        s * pair.queryNorm * pair.keyNorm * abs(pair.cosine), Double(pair.logit),
                        accuracy: 1e-6 * Double(pair.logit), label)
                    XCTAssertLessThanOrEqual(abs(pair.cosine), 1 + 1e-12, label)
                }
            }
        }
    }

    /// Key 0 = (1000, 0) and every query of head 0 along it: every query's logit with key 0 is
    /// ±1000·(1/√2), a tie that goes to batch row 0, query 0 (q = (1, 0), cos +1); batch row 1's
    /// queries point the other way (cos −1). Swapping the rows swaps the sign. Head 1 reads q = 0.
    func testTiesGoToTheFirstPair() throws {
        let (t, dh) = (6, 2)
        func attention(firstRowSign: Float) throws -> LargestLogitPair {
            var qValues = [Float](repeating: 0, count: 2 * t * 2 * dh),
                kValues = [Float](repeating: 0, count: 2 * t * dh)
            for row in 0..<2 {
                for position in 0..<t {
                    qValues[(row * t + position) * 2 * dh] = row == 0 ? firstRowSign : -firstRowSign
                }
                kValues[row * t * dh] = 1000
            }
            let q = Tensor(shape: [2, t, 2 * dh], values: qValues), k = Tensor(shape: [2, t, dh], values: kValues)
            return try XCTUnwrap(
                causalAttention(q: q, k: k, v: Tensor(zeros: [2, t, dh]), heads: 2, kvHeads: 1, measuring: true)
                    .statistics
            ).largestLogitPair
        }
        let scale = 1 / Float(dh).squareRoot()
        let expected = LargestLogitPair(logit: 1000 * scale, cosine: 1, queryNorm: 1, keyNorm: 1000)
        XCTAssertEqual(try attention(firstRowSign: 1), expected)
        var swapped = expected
        swapped.cosine = -1
        XCTAssertEqual(try attention(firstRowSign: -1), swapped)
    }

    /// A NaN logit leaves the pair undefined (every field NaN), and merging keeps it so.
    func testNaNLogitLeavesThePairUndefined() throws {
        var values = randomTensor([1, 5, 4], seed: 1).values
        values[9] = .nan
        let q = Tensor(shape: [1, 5, 4], values: values), k = randomTensor([1, 5, 4], seed: 2)
        let pair = try XCTUnwrap(
            causalAttention(q: q, k: k, v: k, heads: 2, kvHeads: 2, measuring: true).statistics
        ).largestLogitPair
        XCTAssertTrue([Double(pair.logit), pair.cosine, pair.queryNorm, pair.keyNorm].allSatisfy(\.isNaN))
        let finite = LargestLogitPair(logit: 3, cosine: 0.5, queryNorm: 2, keyNorm: 3)
        XCTAssertTrue(finite.merged(with: pair).logit.isNaN)
        XCTAssertTrue(pair.merged(with: finite).cosine.isNaN)
    }

    /// Batch rows split into shards and merged in shard order give the whole batch's pair bit for
    /// bit (each head's scores are the same floats whichever rows come with it).
    func testShardsMergeToTheWholeBatchsPair() throws {
        let q = randomTensor([4, 9, 8], seed: 3), k = randomTensor([4, 9, 4], seed: 4),
            v = randomTensor([4, 9, 4], seed: 5)
        func pair(_ rows: Range<Int>) -> LargestLogitPair {
            func slice(_ x: Tensor) -> Tensor {
                let width = x.count / x.shape[0]
                return Tensor(
                    shape: [rows.count] + x.shape.dropFirst(),
                    values: Array(x.values[(rows.lowerBound * width)..<(rows.upperBound * width)]))
            }
            return causalAttention(q: slice(q), k: slice(k), v: slice(v), heads: 2, kvHeads: 1, measuring: true)
                .statistics!.largestLogitPair
        }
        let whole = pair(0..<4)
        for split in [[0..<1, 1..<4], [0..<2, 2..<4], [0..<1, 1..<2, 2..<3, 3..<4]] {
            let parts = split.map(pair)
            XCTAssertEqual(parts.dropFirst().reduce(parts[0]) { $0.merged(with: $1) }, whole, "\(split)")
        }
    }
}
