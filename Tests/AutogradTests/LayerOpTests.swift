import Autograd
import XCTest

final class LayerOpTests: XCTestCase {
    func testReshapeAndHeadPermutations() {
        let x = randomTensor([2, 3, 8], seed: 1)
        let split = splitHeads(x, heads: 2)  // [2, 2, 3, 4]
        XCTAssertEqual(split.shape, [2, 2, 3, 4])
        XCTAssertEqual(split.data[((1 * 2 + 1) * 3 + 2) * 4 + 3], x.data[(1 * 3 + 2) * 8 + 1 * 4 + 3])
        XCTAssertEqual(mergeHeads(split).values, x.values)
        assertGradientsMatch([x]) { probe(splitHeads(x, heads: 2)) }
        assertGradientsMatch([split]) { probe(mergeHeads(split)) }
        assertGradientsMatch([x]) { probe(x.reshaped([6, 8])) }
    }

    /// Scatter-add: an id used three times receives three rows of gradient.
    func testEmbeddingWithRepeatedIds() {
        let table = randomTensor([5, 3], seed: 2)
        let ids: [Int32] = [1, 4, 1, 1, 0, 4]
        let out = embedding(ids: ids, idsShape: [2, 3], table: table)
        XCTAssertEqual(out.shape, [2, 3, 3])
        XCTAssertEqual(Array(out.values[6..<9]), Array(table.values[3..<6]))
        assertGradientsMatch([table]) { probe(embedding(ids: ids, idsShape: [2, 3], table: table)) }
        table.grad = nil
        table.requiresGrad = true
        sum(embedding(ids: ids, idsShape: [2, 3], table: table)).backward()
        XCTAssertEqual(table.grad?.values, [1, 1, 1, 3, 3, 3, 0, 0, 0, 0, 0, 0, 2, 2, 2])
    }

    func testLearnedPositions() {
        let x = randomTensor([2, 3, 4], seed: 3), table = randomTensor([5, 4], seed: 4)
        assertGradientsMatch([x, table]) { probe(addPositions(x, table: table)) }
    }

    func testRMSNorm() {
        let x = randomTensor([3, 2, 8], seed: 5), weight = randomTensor([8], seed: 6)
        assertGradientsMatch([x, weight]) { probe(rmsNorm(x, weight: weight, eps: 1e-6)) }
        let headWeight = randomTensor([4], seed: 7)  // per-head scope: rows of Dh = 4
        assertGradientsMatch([x, headWeight]) { probe(rmsNorm(x, weight: headWeight, eps: 1e-6)) }
        let row = Tensor(shape: [4], values: [1, 2, 3, 4])  // mean(x²) = 7.5
        let expected = [1, 2, 3, 4].map { Float($0) / (7.5 + 1e-6).squareRoot() }
        assertClose(rmsNorm(row, weight: Tensor(filling: 1, shape: [4]), eps: 1e-6).values, expected, tolerance: 1e-6)
    }

    /// A zero row: output 0 and a finite gradient (no division by zero).
    func testRMSNormOfZeroRow() {
        let x = Tensor(zeros: [2, 4], requiresGrad: true)
        x.data[4] = 1
        let weight = Tensor(filling: 1, shape: [4], requiresGrad: true)
        let y = rmsNorm(x, weight: weight, eps: 1e-6)
        XCTAssertEqual(Array(y.values[0..<4]), [0, 0, 0, 0])
        probe(y).backward()
        XCTAssertTrue(x.grad!.values.allSatisfy(\.isFinite))
        XCTAssertTrue(weight.grad!.values.allSatisfy(\.isFinite))
    }

    func testRoPEPairsHalvesAndHasTheRightGradient() {
        let x = randomTensor([2, 5, 8], seed: 8)
        assertGradientsMatch([x]) {
            probe(rope(x, table: RotaryTable(positions: x.shape[1], headDim: 4, theta: 10000)))
        }
        // Position 1, head dim 4: frequencies 1 and 0.01; element i pairs with i + 2.
        let v = Tensor(shape: [1, 2, 4], values: [0, 0, 0, 0, 1, 2, 3, 4])
        let out = rope(v, table: RotaryTable(positions: v.shape[1], headDim: 4, theta: 10000)).values
        let (c0, s0, c1, s1) = (cos(Float(1)), sin(Float(1)), cos(Float(0.01)), sin(Float(0.01)))
        assertClose(
            Array(out[4..<8]), [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1], tolerance: 1e-6)
    }

    func testCausalSoftmax() {
        let scores = randomTensor([2, 4, 4], seed: 9, std: 3)
        let p = causalSoftmax(scores)
        for m in 0..<2 {
            for i in 0..<4 {
                let row = Array(p.values[(m * 4 + i) * 4..<(m * 4 + i + 1) * 4])
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-6)
                XCTAssertTrue(row[(i + 1)...].allSatisfy { $0 == 0 }, "future keys must get exactly 0")
            }
        }
        XCTAssertEqual(p.data[0], 1)  // first query sees only itself: every future key masked
        assertGradientsMatch([scores]) { probe(causalSoftmax(scores)) }
    }

    func testCrossEntropyGradientsWithZLoss() {
        let logits = randomTensor([6, 5], seed: 10, std: 2)
        let targets: [Int32] = [0, 4, 2, 2, 1, 3]
        assertGradientsMatch([logits]) { crossEntropy(logits: logits, targets: targets, zLoss: 0).loss }
        assertGradientsMatch([logits]) { crossEntropy(logits: logits, targets: targets, zLoss: 0.1).loss }
    }

    /// Logits of 1e4 neither overflow the value nor the gradient.
    func testCrossEntropyWithHugeLogits() {
        let logits = Tensor(shape: [2, 3], values: [1e4, 0, -1e4, 1e4, 1e4, 0], requiresGrad: true)
        let result = crossEntropy(logits: logits, targets: [1, 0], zLoss: 0)
        XCTAssertEqual(result.crossEntropy, (1e4 + Float(log(2.0))) / 2, accuracy: 1e-2)
        result.loss.backward()
        XCTAssertTrue(logits.grad!.values.allSatisfy(\.isFinite))
        // Float32 spacing near 1e4 is ~1e-3, so lse carries ~5e-4 of rounding: p is exact to ~1e-4.
        assertClose(logits.grad!.values, [0.5, -0.5, 0, -0.25, 0.25, 0], tolerance: 1e-4)
    }

    func testCrossEntropyValue() {
        let logits = Tensor(shape: [1, 3], values: [1, 2, 3])
        let lse = log(exp(Float(1)) + exp(2) + exp(3))
        let result = crossEntropy(logits: logits, targets: [0], zLoss: 0.5)
        XCTAssertEqual(result.crossEntropy, lse - 1, accuracy: 1e-6)
        XCTAssertEqual(result.loss.item, lse - 1 + 0.5 * lse * lse, accuracy: 1e-5)
    }
}
