import Foundation

/// Rotary position embedding, Hugging Face's "rotate_half" convention.
///
/// For head dimension `Dh` and position `t`: `inv_freq[i] = theta^(−2i/Dh)`, `angle = t · inv_freq[i]`,
/// and element `i` pairs with element `i + Dh/2`:
///
///     out[i]        = x[i]·cos − x[i+Dh/2]·sin
///     out[i+Dh/2]   = x[i+Dh/2]·cos + x[i]·sin
///
/// The pullback is the rotation by −angle (a rotation's inverse is its transpose):
///
///     dx[i]        =  dy[i]·cos + dy[i+Dh/2]·sin
///     dx[i+Dh/2]   =  dy[i+Dh/2]·cos − dy[i]·sin
///
/// Partial RoPE (Hugging Face's `partial_rotary_factor`, as in Qwen3-Next's and GLM-4.5's
/// `apply_rotary_pos_emb`): with a table of `rotaryDim` R < Dh, the rotation above runs on dims
/// `0..<R` of each head with R in place of Dh (`inv_freq[i] = theta^(−2i/R)`, `i` paired with
/// `i + R/2`), and dims `R..<Dh` pass through unchanged (their pullback is the identity). R = Dh
/// is the full rotation, the very same arithmetic.
///
/// `table` holds the angles (made once per model: building it costs more than rotating S's q).
/// Position `t` of `x [B, T, heads·Dh]` is rotated as position `firstPosition + t` (generation
/// with a key/value cache rotates one new position at a time).
public func rope(_ x: Tensor, table: RotaryTable, firstPosition: Int = 0) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.rope, started) }
    precondition(
        x.shape.count == 3 && x.shape[2] % table.headDim == 0 && firstPosition >= 0
            && firstPosition + x.shape[1] <= table.positions,
        "rope of \(x.shape) from position \(firstPosition) with a table for \(table.positions) positions of head_dim \(table.headDim)"
    )
    let (b, t, width) = (x.shape[0], x.shape[1], x.shape[2])
    let output = Tensor(uninitialized: x.shape)
    rotate(
        from: x.data, into: output.data, rows: b * t, positions: t, firstPosition: firstPosition, width: width,
        table: table,
        inverse: false, accumulate: false)
    if Tape.needsGradient(x) {
        let inputSlot = x.gradientSlot  // the rotation's pullback never reads x
        Tape.record(output, .rope) { dOut in
            let (inputGrad, isFresh) = inputSlot.dataForUpdate()
            rotate(
                from: dOut, into: inputGrad, rows: b * t, positions: t, firstPosition: firstPosition, width: width,
                table: table, inverse: true, accumulate: !isFresh)
        }
    }
    return output
}

/// cos and sin of every (position, frequency) pair: `[T, Dh/2]` each. Angles are computed in
/// Double and rounded once. A table for T positions serves any shorter sequence.
public struct RotaryTable {
    /// Positions covered.
    public let positions: Int
    /// Head width `Dh`.
    public let headDim: Int
    /// Rotated dims `R` of each head (even, ≤ Dh), the first ones.
    public let rotaryDim: Int
    let half: Int
    let cosines: [Float], sines: [Float]

    /// The table for heads of `headDim` whose first `rotaryDim` dims rotate (all by default).
    public init(positions: Int, headDim: Int, rotaryDim: Int? = nil, theta: Float) {
        let rotaryDim = rotaryDim ?? headDim
        precondition(
            rotaryDim % 2 == 0 && rotaryDim >= 2 && rotaryDim <= headDim,
            "rope rotates an even number of dims, at least 2 and at most head_dim \(headDim) (got \(rotaryDim))")
        (self.positions, self.headDim, self.rotaryDim) = (positions, headDim, rotaryDim)
        half = rotaryDim / 2
        var cosines = [Float](), sines = [Float]()
        cosines.reserveCapacity(positions * half)
        sines.reserveCapacity(positions * half)
        for position in 0..<positions {
            for i in 0..<half {
                let inverseFrequency = pow(Double(theta), -2 * Double(i) / Double(rotaryDim))
                let angle = Double(position) * inverseFrequency
                cosines.append(Float(cos(angle)))
                sines.append(Float(sin(angle)))
            }
        }
        self.cosines = cosines
        self.sines = sines
    }
}

/// Rotates the first `rotaryDim` dims of every head of every row (row = one `(b, t)`; position =
/// firstPosition + row mod T) and passes the rest through, into `destination` or, with
/// `accumulate`, adding to it.
private func rotate(
    from source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
    rows: Int, positions: Int, firstPosition: Int, width: Int, table: RotaryTable,
    inverse: Bool, accumulate: Bool
) {
    let half = table.half, headDim = table.headDim, passed = (2 * half)..<headDim
    let sign: Float = inverse ? -1 : 1
    table.cosines.withUnsafeBufferPointer { cosines in
        table.sines.withUnsafeBufferPointer { sines in
            Parallel.forEachChunk(rows, grain: max(1, 4096 / width)) { range in
                for row in range {
                    let angles = (firstPosition + row % positions) * half
                    let c = cosines.baseAddress! + angles, s = sines.baseAddress! + angles
                    for headStart in stride(from: row * width, to: (row + 1) * width, by: headDim) {
                        let x = source + headStart, y = destination + headStart
                        forEachVector(0..<half) { i, lanes in
                            let (cosine, sine) = (load(c, i, lanes), sign * load(s, i, lanes))
                            let (low, high) = (load(x, i, lanes), load(x + half, i, lanes))
                            let (lowSoFar, highSoFar) =
                                accumulate ? (load(y, i, lanes), load(y + half, i, lanes)) : (Vector(), Vector())
                            store(lowSoFar + (low * cosine - high * sine), y, i, lanes)
                            store(highSoFar + (high * cosine + low * sine), y + half, i, lanes)
                        }
                        forEachVector(passed) { i, lanes in
                            store((accumulate ? load(y, i, lanes) : Vector()) + load(x, i, lanes), y, i, lanes)
                        }
                    }
                }
            }
        }
    }
}
