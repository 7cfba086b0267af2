/// Row lookups into an embedding table.

/// `table[ids] · scale`: `ids` of shape `idsShape` (e.g. `[B, T]`) into a `[V, d]` table → `[…, d]`.
/// `scale` is 1, or Gemma's `Float32(sqrt(d))` (`Gemma3TextScaledWordEmbedding`; docs/spec/model.md's
/// `embed_scale`).
/// Pullback: scatter-add, `dtable[ids[i]] += scale · dOut[i]`, serial so repeated ids sum correctly.
public func embedding(ids: [Int32], idsShape: [Int], table: Tensor, scale: Float = 1) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.embedding, started) }
    precondition(ids.count == idsShape.reduce(1, *), "\(ids.count) ids for shape \(idsShape)")
    let (vocabulary, width) = (table.shape[0], table.shape[1])
    let output = Tensor(uninitialized: idsShape + [width])  // [B, T, d]
    for (row, id) in ids.enumerated() {
        precondition(id >= 0 && Int(id) < vocabulary, "token id \(id) outside vocabulary of \(vocabulary)")
        let destination = output.data + row * width, source = table.data + Int(id) * width
        if scale == 1 {
            destination.update(from: source, count: width)
        } else {
            for i in 0..<width { destination[i] = source[i] * scale }
        }
    }
    if Tape.needsGradient(table) {
        Tape.record(output, .embedding) { dOut in
            let dTable = table.gradData()
            for (row, id) in ids.enumerated() {
                let destination = dTable + Int(id) * width, source = dOut + row * width
                for i in 0..<width { destination[i] += scale * source[i] }
            }
        }
    }
    return output
}

/// `x[b, t] + table[firstPosition + t]` for `x` of shape `[B, T, d]` and a
/// `[≥ firstPosition + T, d]` position table (a nonzero `firstPosition`: generation with a
/// key/value cache, one new position at a time).
/// Pullback: `dx += dOut`, `dtable[firstPosition + t] += Σ_b dOut[b, t]`.
public func addPositions(_ x: Tensor, table: Tensor, firstPosition: Int = 0) -> Tensor {
    let started = OpProfile.begin()
    defer { OpProfile.end(.embedding, started) }
    let (b, t, width) = (x.shape[0], x.shape[1], x.shape[2])
    precondition(
        table.shape[1] == width && firstPosition >= 0 && table.shape[0] >= firstPosition + t,
        "positions \(table.shape) for \(x.shape) from position \(firstPosition)")
    let output = Tensor(uninitialized: x.shape)
    for row in 0..<(b * t) {
        let position = firstPosition + row % t
        for i in 0..<width {
            output.data[row * width + i] = x.data[row * width + i] + table.data[position * width + i]
        }
    }
    if Tape.needsGradient(x, table) {
        let inputSlot = x.requiresGrad ? x.gradientSlot : nil  // x is not read back
        Tape.record(output, .embedding) { dOut in
            inputSlot?.add(dOut)
            if table.requiresGrad {
                let dTable = table.gradData()
                for row in 0..<(b * t) {
                    let position = firstPosition + row % t
                    for i in 0..<width { dTable[position * width + i] += dOut[row * width + i] }
                }
            }
        }
    }
    return output
}
