import Autograd
import Foundation
import XCTest

/// The attention and output telemetry (docs/metrics.md, "Stability telemetry") on cases whose answers
/// are known by hand.
final class AttentionStatisticsTests: XCTestCase {
    /// q = 0 makes every score 0, so each query spreads evenly over its t+1 visible keys:
    /// H_t = ln(t+1), and the normalised entropy is 1 at every position, for every head. With k = 0
    /// as well, both RMS are 0; v does not matter.
    func testUniformAttentionHasEntropyOne() throws {
        for length in [2, 5, 40, 70] {  // register path (≤ 64) and BLAS blocks
            let q = Tensor(zeros: [2, length, 6]), k = Tensor(zeros: [2, length, 3])
            let result = causalAttention(
                q: q, k: k, v: randomTensor([2, length, 3], seed: 1), heads: 2, kvHeads: 1, measuring: true)
            let statistics = try XCTUnwrap(result.statistics)
            XCTAssertEqual(statistics.entropyRows, 2 * (length - 1))
            XCTAssertEqual(statistics.entropy, 1, accuracy: 1e-6, "T = \(length)")
            XCTAssertEqual(statistics.entropyMin, 1, accuracy: 1e-6, "T = \(length)")
            XCTAssertEqual(statistics.queryRMS, 0)
            XCTAssertEqual(statistics.keyRMS, 0)
        }
    }

    /// Key 0 far larger than the others along q: every query puts all its weight on key 0 (the
    /// others' weights underflow to 1e-35 or less), so the entropy is 0 up to that. Head 1 reads q = 0 and
    /// stays uniform: the mean over the two heads is 1/2 and the smallest head's is 0.
    func testOneHotAttentionHasEntropyZero() throws {
        let (t, dh) = (6, 2)
        var qValues = [Float](repeating: 0, count: t * 2 * dh), kValues = [Float](repeating: 0, count: t * dh)
        for position in 0..<t { qValues[position * 2 * dh] = 1 }  // head 0: q = (1, 0); head 1: q = 0
        kValues[0] = 1000  // key 0 = (1000, 0), the rest 0
        let q = Tensor(shape: [1, t, 2 * dh], values: qValues), k = Tensor(shape: [1, t, dh], values: kValues)
        let statistics = try XCTUnwrap(
            causalAttention(
                q: q, k: k, v: Tensor(zeros: [1, t, dh]), heads: 2, kvHeads: 1,
                measuring: true
            ).statistics)
        XCTAssertEqual(statistics.entropySums[0], 0, accuracy: 1e-30)
        XCTAssertEqual(statistics.entropySums[1] / Double(t - 1), 1, accuracy: 1e-6)
        XCTAssertEqual(statistics.entropy, 0.5, accuracy: 1e-6)
        XCTAssertEqual(statistics.entropyMin, 0, accuracy: 1e-30)
        // RMS by hand: q has t ones among t·4 entries; k one 1000 among t·2.
        XCTAssertEqual(statistics.queryRMS, (Double(t) / Double(t * 2 * dh)).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(statistics.keyRMS, (1e6 / Double(t * dh)).squareRoot(), accuracy: 1e-9)
    }

    /// Batch rows split into shards and merged give the whole batch's means (up to rounding: the
    /// sums are in Double), and a call that is not asked to measure returns none.
    func testShardsMergeToTheWholeBatch() throws {
        let q = randomTensor([4, 9, 8], seed: 3), k = randomTensor([4, 9, 4], seed: 4),
            v = randomTensor([4, 9, 4], seed: 5)
        let whole = try XCTUnwrap(causalAttention(q: q, k: k, v: v, heads: 2, kvHeads: 1, measuring: true).statistics)
        func rows(_ x: Tensor, _ range: Range<Int>) -> Tensor {
            let width = x.count / x.shape[0]
            return Tensor(
                shape: [range.count] + x.shape.dropFirst(),
                values: Array(x.values[(range.lowerBound * width)..<(range.upperBound * width)]))
        }
        let parts = [0..<1, 1..<4].map { range in
            causalAttention(
                q: rows(q, range), k: rows(k, range), v: rows(v, range), heads: 2, kvHeads: 1, measuring: true
            ).statistics!
        }
        let merged = parts[0].merged(with: parts[1])
        XCTAssertEqual(merged.entropyRows, whole.entropyRows)
        XCTAssertEqual(merged.entropy, whole.entropy, accuracy: 1e-12)
        XCTAssertEqual(merged.entropyMin, whole.entropyMin, accuracy: 1e-12)
        XCTAssertEqual(merged.queryRMS, whole.queryRMS, accuracy: 1e-7)
        XCTAssertEqual(merged.keyRMS, whole.keyRMS, accuracy: 1e-7)
        XCTAssertNil(causalAttention(q: q, k: k, v: v, heads: 2, kvHeads: 1).statistics)
    }

    /// Output telemetry: log Z of logits (0, ln 3) is ln(1 + 3) = ln 4, of (2, 2) is 2 + ln 2; the
    /// largest |logit| is 2 here and NaN when a logit is NaN; the mean logit is (0 + ln 3 + 2 − 2) / 4.
    func testOutputStatistics() throws {
        let logits = Tensor(shape: [2, 2], values: [0, log(3), 2, -2])
        let statistics = try XCTUnwrap(crossEntropy(logits: logits, targets: [0, 1], measuring: true).statistics)
        XCTAssertEqual(statistics.rows, 2)
        let lse2 = 2 + log(1 + exp(-4.0))
        XCTAssertEqual(statistics.logSumExpMean, (log(4.0) + lse2) / 2, accuracy: 1e-6)
        XCTAssertEqual(statistics.logitMax, 2)
        XCTAssertEqual(statistics.logitCount, 4)
        XCTAssertEqual(statistics.logitMean, log(3.0) / 4, accuracy: 1e-7)
        XCTAssertNil(crossEntropy(logits: logits, targets: [0, 1]).statistics)
        let broken = Tensor(shape: [1, 3], values: [1, .nan, -5])
        XCTAssertTrue(crossEntropy(logits: broken, targets: [0], measuring: true).statistics!.logitMax.isNaN)
    }
}
