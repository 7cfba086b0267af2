@testable import Autograd
import Foundation
import XCTest

final class AttentionTests: XCTestCase {
    /// The fused op against the same attention composed from separate ops: with `variant`, the
    /// scores go through the `softcap` op, then the window's mask is added by hand (−1e30 for
    /// the keys before a query's window, which the causal softmax then weighs ~1e-38).
    func composedAttention(
        q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, variant: AttentionVariant = .plain
    ) -> Tensor {
        let (b, t, dh) = (q.shape[0], q.shape[1], q.shape[2] / heads)
        let group = heads / kvHeads
        let qh = splitHeads(q, heads: heads)  // [B, H, T, Dh]
        let kh = splitHeads(k, heads: kvHeads), vh = splitHeads(v, heads: kvHeads)
        // repeat_kv by hand: [B, Hkv, T, Dh] → [B, H, T, Dh] (a copy without a pullback: only with
        // kvHeads == heads, where x itself is used, do gradients reach k and v)
        func repeatKV(_ x: Tensor) -> Tensor {
            if group == 1 { return x }
            let out = Tensor(zeros: [b, heads, t, dh])
            for batch in 0..<b {
                for h in 0..<heads {
                    let source = x.data + ((batch * kvHeads + h / group) * t) * dh
                    (out.data + ((batch * heads + h) * t) * dh).update(from: source, count: t * dh)
                }
            }
            return out
        }
        var scores = scale(
            batchedMatmul(
                qh.reshaped([b * heads, t, dh]), repeatKV(kh).reshaped([b * heads, t, dh]), transposeB: true),
            by: 1 / Float(dh).squareRoot())
        if variant.softcap > 0 { scores = softcap(scores, cap: variant.softcap) }
        if variant.window > 0 {
            let mask = Tensor(zeros: scores.shape)  // [B·H, T, T]
            for matrix in 0..<(b * heads) {
                for i in 0..<t {
                    for j in 0..<max(0, i + 1 - variant.window) { mask.data[(matrix * t + i) * t + j] = -1e30 }
                }
            }
            scores = add(scores, mask)
        }
        let y = batchedMatmul(causalSoftmax(scores), repeatKV(vh).reshaped([b * heads, t, dh]))
        return mergeHeads(y.reshaped([b, heads, t, dh]))
    }

    func testFusedAttentionMatchesComposedOps() {
        for (heads, kvHeads) in [(2, 2), (4, 2), (4, 1)] {
            let q = randomTensor([2, 5, heads * 3], seed: 1), k = randomTensor([2, 5, kvHeads * 3], seed: 2)
            let v = randomTensor([2, 5, kvHeads * 3], seed: 3)
            let fused = causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads).output
            let composed = Tape.withoutGradients { composedAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads) }
            assertClose(fused.values, composed.values, tolerance: 1e-5)
        }
    }

    /// T = 37 runs the `CausalProducts` loops (rows of three vectors, the last partial, a last
    /// block of one row); with Dh = 40 also their two-vector blocks where the CPU has AVX-512 (32
    /// columns, then a partial vector of 8); T = 75 the BLAS products over three blocks of the causal block structure
    /// (32, 32, 11), with P kept from the forward pass; T = 1040 (B·H·T² over the keep limit) has
    /// the pullback recompute P. The long paths also with Dh = 16 (their Kᵀ and Vᵀ copies in whole
    /// 8×8 blocks) and grouped queries (two query heads per kv head: Kᵀ, then Vᵀ, in one scratch
    /// while dK and dV add up over the group). Values and all three gradients agree with the
    /// composed ops, which compute every T×T entry. Each path also with the soft-cap (c = 1.5,
    /// against scores of order 1: well inside tanh's bend), a sliding window of about a third of
    /// T (across the block and vector boundaries), and both.
    func testAttentionPathsMatchComposedOps() {
        for (batch, heads, kvHeads, t, headDim) in [
            (2, 3, 3, 37, 4), (2, 2, 2, 37, 40), (2, 3, 3, 75, 4), (1, 4, 2, 75, 16),
            (1, 1, 1, 1040, 4), (1, 2, 1, 1040, 16),
        ] {
            for variant in [
                AttentionVariant.plain, AttentionVariant(softcap: 1.5), AttentionVariant(window: t / 3 + 1),
                AttentionVariant(softcap: 1.5, window: t / 3 + 1),
            ] {
                checkAgainstComposedOps(
                    batch: batch, heads: heads, kvHeads: kvHeads, t: t, headDim: headDim, variant: variant)
            }
        }
    }

    private func checkAgainstComposedOps(
        batch: Int, heads: Int, kvHeads: Int, t: Int, headDim: Int, variant: AttentionVariant
    ) {
        let width = heads * headDim, kvWidth = kvHeads * headDim
        let q = randomTensor([batch, t, width], seed: 7), k = randomTensor([batch, t, kvWidth], seed: 8)
        let v = randomTensor([batch, t, kvWidth], seed: 9), weights = randomTensor([batch, t, width], seed: 10)
        func valuesAndGradients(_ inputs: [Tensor], _ attention: () -> Tensor) -> [[Float]] {
            for input in inputs {
                input.requiresGrad = true
                input.grad = nil
            }
            let output = attention()
            // A freed buffer of NaNs on top of the pool: scratch the pullback takes for P holds
            // garbage, so only a recomputed P gives the right gradients.
            let poison = TensorStorage(count: t * t, zeroed: false)
            withExtendedLifetime(poison) { poison.pointer.update(repeating: .nan, count: t * t) }
            weightedSum(output, weights: weights).backward()
            return [output.values] + inputs.map { $0.grad!.values }
        }
        let fused = valuesAndGradients([q, k, v]) {
            causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, variant: variant).output
        }
        // The reference with grouped queries: every query head its own copy of its kv head
        // (composed ops, whose gradients then reach the copies), the copies' gradients summed
        // back over each group.
        let (kCopies, vCopies) = (
            repeatedHeads(k, kvHeads: kvHeads, heads: heads), repeatedHeads(v, kvHeads: kvHeads, heads: heads)
        )
        var composed = valuesAndGradients([q, kCopies, vCopies]) {
            composedAttention(q: q, k: kCopies, v: vCopies, heads: heads, kvHeads: heads, variant: variant)
        }
        for part in 2...3 {
            composed[part] = summedOverGroups(composed[part], kvHeads: kvHeads, heads: heads, headDim: headDim)
        }
        for (fusedPart, composedPart) in zip(fused, composed) {
            assertClose(fusedPart, composedPart, tolerance: 1e-4, "\(variant) T \(t) heads \(heads)/\(kvHeads)")
        }
    }

    /// `[B, T, Hkv·Dh]` → `[B, T, H·Dh]`: each query head's copy of its kv head (`repeat_kv`).
    private func repeatedHeads(_ x: Tensor, kvHeads: Int, heads: Int) -> Tensor {
        let (rows, headDim) = (x.shape[0] * x.shape[1], x.shape[2] / kvHeads)
        let out = Tensor(zeros: [x.shape[0], x.shape[1], heads * headDim])
        for row in 0..<rows {
            for h in 0..<heads {
                (out.data + (row * heads + h) * headDim).update(
                    from: x.data + (row * kvHeads + h / (heads / kvHeads)) * headDim, count: headDim)
            }
        }
        return out
    }

    /// The gradient of `repeatedHeads`: each kv head's copies added up, in head order.
    private func summedOverGroups(_ g: [Float], kvHeads: Int, heads: Int, headDim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: g.count / heads * kvHeads)
        for row in 0..<(g.count / (heads * headDim)) {
            for h in 0..<heads {
                for d in 0..<headDim {
                    out[(row * kvHeads + h / (heads / kvHeads)) * headDim + d] += g[(row * heads + h) * headDim + d]
                }
            }
        }
        return out
    }

    /// The register-blocked causal products against scalar chains of fused multiply-adds in the
    /// same order, bit for bit, with two vectors per row (AVX-512's blocks) and with one: the two
    /// widths give the same bits, whichever one the CPU gets. Widths 32 and 48 (two vectors, then
    /// one alone), 40 (then a partial one) and 7; T = 64 and 37 (a last block of one row).
    func testCausalProductsEqualScalarFMAChains() {
        let saved = pairsOfVectors
        defer { pairsOfVectors = saved }
        for pairs in [true, false] {
            pairsOfVectors = pairs
            for (t, width) in [(64, 32), (64, 48), (37, 40), (37, 7)] {
                let a = randomTensor([t, width], seed: 11), b = randomTensor([t, width], seed: 12)
                let p = randomTensor([t, t], seed: 13), c = randomTensor([t, width], seed: 14)
                // lower triangular, as the softmax leaves P
                for i in 0..<t { for j in (i + 1)..<t { p.data[i * t + j] = 0 } }
                func blockStart(_ row: Int) -> Int { row / 4 * 4 }
                func assertBits(_ got: Float, _ want: Float, _ what: String) {
                    XCTAssertEqual(got.bitPattern, want.bitPattern, "\(what), pairs \(pairs), t \(t), width \(width)")
                }
                // S = 0.3·A·Bᵀ on the lower triangle
                let scores = Tensor(zeros: [t, t]), transposed = Tensor(zeros: [width * t])
                causalProductTransposed(
                    a.data, lda: width, b.data, ldb: width, t: t, depth: width, alpha: 0.3,
                    into: scores.data, ldc: t, transposed: transposed.data)
                for i in 0..<t {
                    for j in 0...i {
                        var sum: Float = 0
                        for d in 0..<width { sum = sum.addingProduct(a.data[i * width + d], b.data[j * width + d]) }
                        assertBits(scores.data[i * t + j], sum * 0.3, "S[\(i), \(j)]")
                    }
                }
                // C (+)= P·B, over j through the end of row i's block (P's zeros included, as the loops run)
                for accumulate in [false, true] {
                    let out = Tensor(zeros: [t, width])
                    out.data.update(from: c.data, count: t * width)
                    causalProduct(
                        p.data, ldp: t, b.data, ldb: width, t: t, width: width, into: out.data, ldc: width,
                        accumulate: accumulate)
                    for i in 0..<t {
                        for d in 0..<width {
                            var sum: Float = accumulate ? c.data[i * width + d] : 0
                            for j in 0..<min(t, blockStart(i) + 4) {
                                sum = sum.addingProduct(p.data[i * t + j], b.data[j * width + d])
                            }
                            assertBits(out.data[i * width + d], sum, "P·B[\(i), \(d)] accumulate \(accumulate)")
                        }
                    }
                }
                // C += Pᵀ·B, over i from the start of row j's block
                let added = Tensor(zeros: [t, width])
                added.data.update(from: c.data, count: t * width)
                causalTransposedProductAdding(
                    p.data, ldp: t, b.data, ldb: width, t: t, width: width, into: added.data, ldc: width)
                for j in 0..<t {
                    for d in 0..<width {
                        var sum = c.data[j * width + d]
                        for i in blockStart(j)..<t { sum = sum.addingProduct(p.data[i * t + j], b.data[i * width + d]) }
                        assertBits(added.data[j * width + d], sum, "Pᵀ·B[\(j), \(d)]")
                    }
                }
            }
        }
    }

    /// The 8×8 register transposes and their element-by-element edges: every shape of rows and
    /// columns around multiples of 8, read from inside wider rows (a head of a projection).
    func testTransposeMatchesElementByElement() {
        for (rows, columns) in [(8, 8), (64, 32), (75, 32), (37, 7), (5, 13), (16, 9), (1, 1)] {
            let ldb = columns + 5
            let b = randomTensor([rows, ldb], seed: 21), out = Tensor(zeros: [columns * rows])
            transpose(b.data, ldb: ldb, rows: rows, columns: columns, into: out.data)
            for j in 0..<rows {
                for d in 0..<columns {
                    XCTAssertEqual(
                        out.data[d * rows + j], b.data[j * ldb + d], "rows \(rows), columns \(columns): [\(d), \(j)]")
                }
            }
        }
    }

    /// Finite differences on the short path (T = 5), with grouped queries, the soft-cap (c = 1
    /// against scores of order 1) and a window of 2, each alone and together; and on the long
    /// path (T = 75, BLAS by blocks, P kept) with both, grouped.
    func testFusedAttentionGradientsWithGroupedQueries() {
        let variants = [
            AttentionVariant.plain, AttentionVariant(softcap: 1), AttentionVariant(window: 2),
            AttentionVariant(softcap: 1, window: 2),
        ]
        for (heads, kvHeads) in [(2, 2), (4, 2)] {
            for variant in variants {
                let q = randomTensor([2, 5, heads * 4], seed: 4), k = randomTensor([2, 5, kvHeads * 4], seed: 5)
                let v = randomTensor([2, 5, kvHeads * 4], seed: 6)
                assertGradientsMatch([q, k, v]) {
                    probe(causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, variant: variant).output)
                }
            }
        }
        let q = randomTensor([1, 75, 8], seed: 4), k = randomTensor([1, 75, 4], seed: 5)
        let v = randomTensor([1, 75, 4], seed: 6)
        assertGradientsMatch([q, k, v]) {
            probe(
                causalAttention(
                    q: q, k: k, v: v, heads: 2, kvHeads: 1, variant: AttentionVariant(softcap: 1.5, window: 20)
                ).output)
        }
    }

    /// `logitMax` is the score before the cap, `cappedLogitMax` after it; a window drops the pairs
    /// before it from both. One head, Dh = 1, T = 2: scores q_i·k_j.
    func testLogitMaxBeforeAndAfterTheCapAndWindow() {
        let q = Tensor(shape: [1, 2, 1], values: [1, 100])
        let k = Tensor(shape: [1, 2, 1], values: [50, 0.5])  // (0,0) 50, (1,0) 5000, (1,1) 50
        let v = Tensor(zeros: [1, 2, 1])
        let capped = causalAttention(q: q, k: k, v: v, heads: 1, kvHeads: 1, variant: AttentionVariant(softcap: 30))
        XCTAssertEqual(capped.logitMax, 5000)
        XCTAssertEqual(capped.cappedLogitMax, 30 * Foundation.tanh(5000 / 30), accuracy: 1e-5)
        let plain = causalAttention(q: q, k: k, v: v, heads: 1, kvHeads: 1)
        XCTAssertEqual(plain.cappedLogitMax, plain.logitMax)
        let windowed = causalAttention(q: q, k: k, v: v, heads: 1, kvHeads: 1, variant: AttentionVariant(window: 1))
        XCTAssertEqual(windowed.logitMax, 50)
        let nan = Tensor(shape: [1, 2, 1], values: [1, .nan])
        let cappedNaN = causalAttention(
            q: nan, k: k, v: v, heads: 1, kvHeads: 1, variant: AttentionVariant(softcap: 30))
        XCTAssertTrue(cappedNaN.logitMax.isNaN && cappedNaN.cappedLogitMax.isNaN)
    }

    /// With q = 0 every visible key gets the same weight, so each measured position's normalised
    /// entropy is 1 exactly when the normaliser counts the window's keys, not t + 1; a window of
    /// one key leaves nothing to measure (NaN, as for one position).
    func testEntropyIsNormalisedOverTheWindow() {
        let (t, headDim) = (40, 4)
        let q = Tensor(zeros: [2, t, 2 * headDim]), k = randomTensor([2, t, headDim], seed: 3)
        let v = randomTensor([2, t, headDim], seed: 4)
        for window in [0, 3, 17] {
            let statistics = causalAttention(
                q: q, k: k, v: v, heads: 2, kvHeads: 1, variant: AttentionVariant(window: window), measuring: true
            ).statistics!
            XCTAssertEqual(statistics.entropyRows, 2 * (t - 1))
            XCTAssertEqual(statistics.entropy, 1, accuracy: 1e-5, "window \(window)")
        }
        let one = causalAttention(
            q: q, k: k, v: v, heads: 2, kvHeads: 1, variant: AttentionVariant(window: 1), measuring: true)
        XCTAssertEqual(one.statistics!.entropyRows, 0)
        XCTAssertTrue(one.statistics!.entropy.isNaN)
    }

    /// `softcap` against `c·tanh(x/c)` in Double, and its pullback against finite differences.
    func testSoftcapOp() {
        let x = randomTensor([3, 37], seed: 5, std: 20)
        let y = softcap(x, cap: 30)
        for (input, output) in zip(x.values, y.values) {
            XCTAssertEqual(Double(output), 30 * Foundation.tanh(Double(input) / 30), accuracy: 1e-5 * 30)
        }
        let small = randomTensor([2, 19], seed: 6, std: 3)
        assertGradientsMatch([small]) { probe(softcap(small, cap: 2)) }
    }

    /// `logitMax` is the largest |q·k|/√Dh over pairs the mask keeps: a huge score on a masked
    /// (future) pair must not count.
    func testLogitMaxIgnoresMaskedPairs() {
        // One head, Dh = 1, T = 2: scores q_i·k_j. The masked pair (0, 1) is 100·50 = 5000.
        let q = Tensor(shape: [1, 2, 1], values: [100, 1])
        let k = Tensor(shape: [1, 2, 1], values: [2, 50])
        let result = causalAttention(q: q, k: k, v: Tensor(zeros: [1, 2, 1]), heads: 1, kvHeads: 1)
        XCTAssertEqual(result.logitMax, 200)  // max(|100·2|, |1·2|, |1·50|)
    }

    /// A NaN score must show in `logitMax` (it is what the instrument is for), not be skipped.
    func testLogitMaxPropagatesNaN() {
        let q = Tensor(shape: [1, 2, 1], values: [1, .nan])
        let k = Tensor(shape: [1, 2, 1], values: [2, 3])
        XCTAssertTrue(causalAttention(q: q, k: k, v: Tensor(zeros: [1, 2, 1]), heads: 1, kvHeads: 1).logitMax.isNaN)
        // Two heads sharing one kv head (one unit), then two batch rows (two units): a NaN in the
        // first head or row is not replaced by the finite maximum of the next.
        let twoHeads = Tensor(shape: [1, 2, 2], values: [.nan, 1, .nan, 1])
        XCTAssertTrue(
            causalAttention(
                q: twoHeads, k: Tensor(shape: [1, 2, 1], values: [2, 3]),
                v: Tensor(zeros: [1, 2, 1]), heads: 2, kvHeads: 1
            ).logitMax.isNaN)
        let twoRows = Tensor(shape: [2, 2, 1], values: [.nan, .nan, 1, 1])
        XCTAssertTrue(
            causalAttention(
                q: twoRows, k: Tensor(shape: [2, 2, 1], values: [2, 3, 2, 3]),
                v: Tensor(zeros: [2, 2, 1]), heads: 1, kvHeads: 1
            ).logitMax.isNaN)
    }

    /// Over longer rows: the largest |score| counts wherever it is, masked pairs do not, and a
    /// NaN in an early row is not overwritten by the larger scores of later rows.
    func testLogitMaxOverWholeVectors() {
        let t = 40
        var qValues = [Float](repeating: 1, count: t), kValues = [Float](repeating: 0.5, count: t)
        qValues[30] = -7  // |−7 · 3| = 21 at (30, 10): in row 30's first vector
        kValues[10] = 3
        kValues[35] = 1000  // only query rows ≥ 35 see it: 1000 at (35, 35)…
        qValues[35...].withUnsafeMutableBufferPointer { $0.update(repeating: 0.001) }  // …times 0.001 = 1
        let v = Tensor(zeros: [1, t, 1])
        let result = causalAttention(
            q: Tensor(shape: [1, t, 1], values: qValues), k: Tensor(shape: [1, t, 1], values: kValues),
            v: v, heads: 1, kvHeads: 1)
        XCTAssertEqual(result.logitMax, 21)
        qValues[20] = .nan  // row 20 is NaN; later rows reach 21 again
        XCTAssertTrue(
            causalAttention(
                q: Tensor(shape: [1, t, 1], values: qValues), k: Tensor(shape: [1, t, 1], values: kValues),
                v: v, heads: 1, kvHeads: 1
            ).logitMax.isNaN)
    }
}
