import Foundation

/// Soft-capping (Gemma 2, arXiv 2408.00118, §2 "Logit soft-capping"; transformers'
/// `models/gemma2/modeling_gemma2.py`, which caps the attention scores in `eager_attention_forward`
/// and the output logits in `Gemma2ForCausalLM.forward`, each as `tanh(z / c) · c`):
///
///     y = c · tanh(z / c)        dy/dz = 1 − tanh²(z/c) = 1 − (y/c)²
///
/// Every value lands inside (−c, c); values small against c pass almost unchanged.

/// `c·tanh(x/c)` of every element of `x` (any shape, `cap` = c > 0): the output logits' cap.
/// Pullback: `dx += dy · (1 − (y/c)²)`.
public func softcap(_ x: Tensor, cap: Float) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.elementwise, started) }
    precondition(cap > 0 && cap.isFinite, "softcap of \(cap)")
    let output = Tensor(uninitialized: x.shape)
    let input = x.data, out = output.data
    Parallel.forEachChunk(x.count, grain: elementwiseGrain) { range in
        forEachVector(range) { i, lanes in store(capped(load(input, i, lanes), cap: cap), out, i, lanes) }
    }
    if Tape.needsGradient(x) {
        Tape.record(output, .elementwise) { [output] dOut in  // keeps y alive for the slope
            let dx = x.gradData()
            Parallel.forEachChunk(output.count, grain: elementwiseGrain) { range in
                forEachVector(range) { i, lanes in
                    let slope = cappedSlope(load(output.data, i, lanes), cap: cap)
                    store(load(dx, i, lanes) + load(dOut, i, lanes) * slope, dx, i, lanes)
                }
            }
        }
    }
    return output
}

/// Caps the kept scores `row[first...query]` of a `length`-long score row in place (a scaled
/// `Q·Kᵀ` row, before the softmax) and returns their magnitudes before the cap: the attention
/// logits that grow, which the cap hides from the softmax's own measure.
@inline(never)
func capScoreRow(_ row: UnsafeMutablePointer<Float>, from first: Int, query: Int, length: Int, cap: Float)
    -> SoftmaxMagnitudes
{
    let signless = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
    var magnitudes = SoftmaxMagnitudes()
    forEachVector(first..<(query + 1)) { j, lanes in
        let scores = masked(loadLanes(row, j, lanes, rowLength: length), laneMask(lanes))  // +0 past the row
        let magnitude = masked(scores, signless)
        magnitudes.add(SoftmaxMagnitudes(largest: magnitude, sum: magnitude))
        storeLanes(capped(scores, cap: cap), row, j, lanes, rowLength: length)
    }
    return magnitudes
}

/// `dS[j] ·= 1 − (Z[j]/c)²` over the kept entries `j = first...query` of a score row's gradient,
/// `Z` the capped scores (`capScoreRow`'s output): the cap's pullback, after the softmax's. Where
/// the tail vector is stored whole, its lanes past `query` get 0.
@inline(__always)
func capScoreRowPullback(
    _ dS: UnsafeMutablePointer<Float>, capped z: UnsafePointer<Float>, from first: Int, query: Int, length: Int,
    cap: Float
) {
    forEachVector(first..<(query + 1)) { j, lanes in
        let slope = cappedSlope(loadLanes(z, j, lanes, rowLength: length), cap: cap)
        storeLanes(
            masked(loadLanes(dS, j, lanes, rowLength: length) * slope, laneMask(lanes)), dS, j, lanes,
            rowLength: length)
    }
}

/// `c·tanh(z/c)` per lane.
@inline(__always)
private func capped(_ z: Vector, cap: Float) -> Vector { tanh(z / cap) * cap }

/// `1 − (y/c)²` per lane, the slope of the cap at the capped value y.
@inline(__always)
private func cappedSlope(_ y: Vector, cap: Float) -> Vector {
    let u = y / cap
    return 1 - u * u
}
