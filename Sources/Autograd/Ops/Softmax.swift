import Foundation

/// Softmax over the last axis with a causal mask, fused.
///
/// Scores `[…, T, T]` (query row i, key column j): entries with `j > i` are masked out (probability
/// exactly 0); the rest of row i is softmaxed. Pullback, with `p` the probabilities:
///
///     ds_ij = p_ij · (dp_ij − Σ_k p_ik · dp_ik)        (masked entries: p = 0, so ds = 0)
public func causalSoftmax(_ scores: Tensor) -> Tensor {
    let t = scores.shape.last!
    precondition(scores.shape.count >= 2 && scores.shape[scores.shape.count - 2] == t, "causalSoftmax of \(scores.shape)")
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
                    causalSoftmaxRowPullback(probabilities: output.data + row * t, outputGrad: dOut + row * t,
                                             inputGrad: dScores + row * t, query: row % t, scale: 1, accumulate: true)
                }
            }
        }
    }
    return output
}

/// Softmaxes `row[0...query]` in place and zeroes `row[query+1..<length]`.
/// Max-subtracted, so large scores do not overflow.
@inline(__always)
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, query: Int, length: Int) {
    let kept = query + 1
    let (_, total) = shiftedExponentialSum(row, count: kept, storingInto: row)
    let inverse = 1 / total
    forEachVector(0..<kept) { j, lanes in store(load(row, j, lanes) * inverse, row, j, lanes) }
    for j in kept..<length { row[j] = 0 }
}

/// `inputGrad[j] (+)= scale · p_j · (dp_j − Σ_k p_k dp_k)` over the kept entries `j ≤ query`.
@inline(__always)
func causalSoftmaxRowPullback(probabilities p: UnsafePointer<Float>, outputGrad dp: UnsafePointer<Float>,
                              inputGrad ds: UnsafeMutablePointer<Float>, query: Int, scale: Float, accumulate: Bool) {
    let kept = query + 1
    var dot: Float = 0
    for j in 0..<kept { dot += p[j] * dp[j] }
    for j in 0..<kept {
        let value = scale * p[j] * (dp[j] - dot)
        ds[j] = accumulate ? ds[j] + value : value
    }
}
