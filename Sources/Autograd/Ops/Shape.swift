/// Ops that only move elements: reshape and the attention-head permutations.

extension Tensor {
    /// The same elements under another shape (a view: storage is shared, nothing is copied).
    /// Pullback: the gradient flows back unchanged.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "reshape \(shape) to \(newShape)")
        let output = Tensor(shape: newShape, storage: storage)
        if Tape.needsGradient(self) {
            Tape.record(output) { dOut in
                let dx = self.gradData()
                for i in 0..<self.count { dx[i] += dOut[i] }
            }
        }
        return output
    }
}

/// `[B, T, H·Dh] → [B, H, T, Dh]`: one contiguous `[T, Dh]` matrix per batch row and head.
public func splitHeads(_ x: Tensor, heads: Int) -> Tensor {
    precondition(x.shape.count == 3 && x.shape[2] % heads == 0, "splitHeads of \(x.shape) into \(heads)")
    let (b, t, headDim) = (x.shape[0], x.shape[1], x.shape[2] / heads)
    let output = Tensor(zeros: [b, heads, t, headDim])
    permuteHeads(
        from: x.data, to: output.data, b: b, t: t, heads: heads, headDim: headDim, split: true, accumulate: false)
    if Tape.needsGradient(x) {
        Tape.record(output) { dOut in
            permuteHeads(
                from: dOut, to: x.gradData(), b: b, t: t, heads: heads, headDim: headDim, split: false, accumulate: true
            )
        }
    }
    return output
}

/// `[B, H, T, Dh] → [B, T, H·Dh]`, the inverse of `splitHeads`.
public func mergeHeads(_ x: Tensor) -> Tensor {
    precondition(x.shape.count == 4, "mergeHeads of \(x.shape)")
    let (b, heads, t, headDim) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let output = Tensor(zeros: [b, t, heads * headDim])
    permuteHeads(
        from: x.data, to: output.data, b: b, t: t, heads: heads, headDim: headDim, split: false, accumulate: false)
    if Tape.needsGradient(x) {
        Tape.record(output) { dOut in
            permuteHeads(
                from: dOut, to: x.gradData(), b: b, t: t, heads: heads, headDim: headDim, split: true, accumulate: true)
        }
    }
    return output
}

/// Copies (or adds) between the `[B,T,H,Dh]` and `[B,H,T,Dh]` layouts; `split` = first to second.
private func permuteHeads(
    from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>,
    b: Int, t: Int, heads: Int, headDim: Int, split: Bool, accumulate: Bool
) {
    for batch in 0..<b {
        for position in 0..<t {
            for head in 0..<heads {
                let merged = ((batch * t + position) * heads + head) * headDim
                let splitted = ((batch * heads + head) * t + position) * headDim
                let (from, to) = split ? (merged, splitted) : (splitted, merged)
                for i in 0..<headDim {
                    destination[to + i] = (accumulate ? destination[to + i] : 0) + source[from + i]
                }
            }
        }
    }
}
