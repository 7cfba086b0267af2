import Foundation

/// Softmax over the last axis with a causal mask, fused.
///
/// Scores `[…, T, T]` (query row i, key column j): entries with `j > i` are masked out (probability
/// exactly 0); the rest of row i is softmaxed. Pullback, with `p` the probabilities:
///
///     ds_ij = p_ij · (dp_ij − Σ_k p_ik · dp_ik)        (masked entries: p = 0, so ds = 0)
public func causalSoftmax(_ scores: Tensor) -> Tensor {
    let t = scores.shape.last!
    precondition(
        scores.shape.count >= 2 && scores.shape[scores.shape.count - 2] == t, "causalSoftmax of \(scores.shape)")
    let matrices = scores.count / (t * t)
    let output = Tensor(zeros: scores.shape)
    output.data.update(from: scores.data, count: scores.count)
    Parallel.forEachChunk(matrices * t, grain: 64) { rows in
        for row in rows { causalSoftmaxRow(output.data + row * t, query: row % t, length: t) }
    }
    if Tape.needsGradient(scores) {
        Tape.record(output, .attention) { dOut in
            let dScores = scores.gradData()
            Parallel.forEachChunk(matrices * t, grain: 64) { rows in
                for row in rows {
                    causalSoftmaxRowPullback(
                        probabilities: output.data + row * t, outputGrad: dOut + row * t,
                        inputGrad: dScores + row * t, query: row % t, length: t, scale: 1, accumulate: true)
                }
            }
        }
    }
    return output
}

/// Softmaxes `row[first...query]` in place and zeroes the rest of the row (`first` > 0: a
/// sliding window, `AttentionVariant`), max-subtracted so that large scores do not overflow. Returns, over the kept scores before the softmax, lane by
/// lane, the largest |score| and Σ|score| (`SoftmaxMagnitudes`: reduced to numbers once for many
/// rows, not per row).
///
/// Every pass works on whole vectors: the tail vector of the kept entries is masked, and loaded
/// and stored whole wherever the row has room (its extra lanes are entries that end up zero).
/// Not inlined: inlined into a caller's loop over rows, the compiler splits the row's vector work
/// into 4-lane pieces (128-bit registers), which doubles the softmax's share of a training step.
@inline(never) @discardableResult
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, from first: Int = 0, query: Int, length: Int)
    -> SoftmaxMagnitudes
{
    let kept = query + 1
    let signless = SIMD16<UInt32>(repeating: 0x7FFF_FFFF), negativeInfinity = Vector(repeating: -.infinity)
    var largest = Vector(), magnitudeSum = Vector(), maximum = negativeInfinity
    forEachVector(first..<kept) { j, lanes in
        let keep = laneMask(lanes)
        let scores = masked(loadLanes(row, j, lanes, rowLength: length), keep)  // +0 in the dropped lanes
        let magnitude = masked(scores, signless)  // |score|
        largest = lanewiseMax(largest, magnitude)
        magnitudeSum += magnitude
        maximum = lanewiseMax(maximum, scores + masked(negativeInfinity, ~keep))  // −∞ in the dropped lanes
    }
    let shift = broadcastLargestLane(maximum)
    var total = Vector()
    forEachVector(first..<kept) { j, lanes in
        let e = masked(exp(loadLanes(row, j, lanes, rowLength: length) - shift), laneMask(lanes))
        storeLanes(e, row, j, lanes, rowLength: length)
        total += e
    }
    let inverse = 1 / total.sum()
    forEachVector(first..<kept) { j, lanes in
        storeLanes(
            masked(loadLanes(row, j, lanes, rowLength: length) * inverse, laneMask(lanes)), row, j, lanes,
            rowLength: length)
    }
    row.update(repeating: 0, count: first)
    (row + kept).update(repeating: 0, count: length - kept)
    return SoftmaxMagnitudes(largest: largest, sum: magnitudeSum)
}

/// Lane by lane, the largest |score| and Σ|score| of softmaxed rows' kept scores.
struct SoftmaxMagnitudes {
    var largest = Vector(), sum = Vector()

    /// Takes in `other`'s rows: lane by lane, the larger of the two largest and the sum of the
    /// two sums. (Empty, both are 0.)
    mutating func add(_ other: SoftmaxMagnitudes) {
        largest = lanewiseMax(largest, other.largest)
        sum += other.sum
    }

    /// The largest |score|, NaN if and only if a score was NaN (infinities give ∞).
    var largestMagnitude: Float { sum.sum().isNaN ? .nan : largestLane(largest) }
}

/// The 16 lanes of `row` at `j` of which the first `lanes` are wanted: one vector load where the
/// row has room for all 16, else the zero-padded partial load.
@inline(__always)
func loadLanes(_ row: UnsafePointer<Float>, _ j: Int, _ lanes: Int, rowLength: Int) -> Vector {
    j + vectorWidth <= rowLength ? row.vector(at: j) : load(row, j, lanes)
}

/// Stores `v` at `row + j`: all 16 lanes where the row has room for them, else the first `lanes`.
@inline(__always)
func storeLanes(_ v: Vector, _ row: UnsafeMutablePointer<Float>, _ j: Int, _ lanes: Int, rowLength: Int) {
    if j + vectorWidth <= rowLength { row.store(v, at: j) } else { store(v, row, j, lanes) }
}

/// `inputGrad[j] (+)= scale · p_j · (dp_j − Σ_k p_k dp_k)` over the kept entries
/// `first ≤ j ≤ query` of rows of `length` (`inputGrad` may be `outputGrad`). In whole vectors, as `causalSoftmaxRow`:
/// where the tail vector is stored whole, its lanes past `query` get 0 (or keep their value, with
/// `accumulate`).
@inline(__always)
func causalSoftmaxRowPullback(
    probabilities p: UnsafePointer<Float>, outputGrad dp: UnsafePointer<Float>,
    inputGrad ds: UnsafeMutablePointer<Float>, from first: Int = 0, query: Int, length: Int,
    scale: Float, accumulate: Bool
) {
    let kept = query + 1
    var dots = Vector()
    forEachVector(first..<kept) { j, lanes in
        dots += masked(
            loadLanes(p, j, lanes, rowLength: length) * loadLanes(dp, j, lanes, rowLength: length), laneMask(lanes))
    }
    let dot = dots.sum()
    forEachVector(first..<kept) { j, lanes in
        let p = loadLanes(p, j, lanes, rowLength: length), dp = loadLanes(dp, j, lanes, rowLength: length)
        let value = masked(scale * p * (dp - dot), laneMask(lanes))
        storeLanes(
            accumulate ? loadLanes(ds, j, lanes, rowLength: length) + value : value, ds, j, lanes, rowLength: length)
    }
}
