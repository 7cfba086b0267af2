import CVectorMath

/// Vectorised math for the hot loops: 16 floats at a time (two AVX registers with
/// `-target-cpu native`). Swift never reassociates or vectorises floating point by itself, so
/// kernels that must be fast spell out their SIMD.

/// 16 lanes of Float.
public typealias Vector = SIMD16<Float>

/// Lane count of `Vector`.
public let vectorWidth = 16

/// `exp(x)` per lane, Cephes' single-precision algorithm: `x = k·ln2 + r` with |r| ≤ ln2/2,
/// a degree-5 polynomial for `e^r` (Horner steps as fused multiply-adds), and `2^k` put into the
/// exponent bits. Relative error below 1e-7 over [−87, 88] (`VectorMathTests`); inputs are
/// clamped to [−87.3, 88.3] (so −∞ gives ~1e-38, not 0, and the result never overflows). Written with SIMD operations that compile to vector
/// instructions (`rounded()` and Int conversions of SIMD types do not, and cost about 20× as much).
@inlinable @inline(__always)
public func exp(_ v: Vector) -> Vector {
    let x = pointwiseMax(pointwiseMin(v, Vector(repeating: 88.3)), Vector(repeating: -87.3))
    // Adding 1.5·2²³ rounds x·log2(e) to the nearest integer k and leaves k in the low mantissa bits.
    let shifter: Float = 12_582_912
    let shifted = x * 1.44269504088896341 + shifter
    let k = shifted - shifter
    let r = x - k * 0.693359375 + k * 2.12194440e-4  // x − k·ln2, ln2 split in two parts
    var p = Vector(repeating: 1.9875691500e-4)  // Horner steps as fused multiply-adds
    p = Vector(repeating: 1.3981999507e-3).addingProduct(p, r)
    p = Vector(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = Vector(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = Vector(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = Vector(repeating: 5.0000001201e-1).addingProduct(p, r)
    let y = r.addingProduct(p, r * r) + 1  // e^r
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return y * unsafeBitCast(exponent, to: Vector.self)  // e^r · 2^k
}

/// `tanh(x)` per lane, Cephes' single-precision `tanhf`: for |x| ≤ 0.625 the odd polynomial
/// `x + x·x²·P(x²)` (P of degree 4, Horner steps as fused multiply-adds), above it
/// `1 − 2/(e^{2|x|} + 1)` with the sign of x (`exp` above). Relative error below 3e-7
/// (`VectorMathTests`); ±∞ gives ±1, NaN stays NaN (its lanes take the polynomial).
@inlinable @inline(__always)
public func tanh(_ x: Vector) -> Vector {
    let signBit = SIMD16<UInt32>(repeating: 0x8000_0000)
    let magnitude = masked(x, ~signBit)
    let square = x * x
    var p = Vector(repeating: -5.70498872745e-3)
    p = Vector(repeating: 2.06390887954e-2).addingProduct(p, square)
    p = Vector(repeating: -5.37397155531e-2).addingProduct(p, square)
    p = Vector(repeating: 1.33314422036e-1).addingProduct(p, square)
    p = Vector(repeating: -3.33332819422e-1).addingProduct(p, square)
    let small = x.addingProduct(p * square, x)
    let large = 1 - 2 / (exp(magnitude + magnitude) + 1)  // tanh |x|
    let signedLarge = unsafeBitCast(
        unsafeBitCast(large, to: SIMD16<UInt32>.self) | (unsafeBitCast(x, to: SIMD16<UInt32>.self) & signBit),
        to: Vector.self)
    // all ones where 0.625 − |x| < 0 (a NaN |x| has its sign bit clear: the polynomial)
    let useLarge = unsafeBitCast(
        unsafeBitCast(Vector(repeating: 0.625) - magnitude, to: SIMD16<Int32>.self) &>> 31, to: SIMD16<UInt32>.self)
    return unsafeBitCast(
        (unsafeBitCast(signedLarge, to: SIMD16<UInt32>.self) & useLarge)
            | (unsafeBitCast(small, to: SIMD16<UInt32>.self) & ~useLarge), to: Vector.self)
}

/// `max(a, b)` per lane, as a subtraction and a blend. (`pointwiseMax` of two variable vectors
/// compiles to a scalar loop, because of its NaN rules.) A lane where `a` or `b` is NaN gets
/// one of the two: callers that must see NaN check for it separately.
@inlinable @inline(__always)
public func lanewiseMax(_ a: Vector, _ b: Vector) -> Vector {
    let aBelowB = unsafeBitCast(unsafeBitCast(a - b, to: SIMD16<Int32>.self) &>> 31, to: SIMD16<UInt32>.self)
    let (aBits, bBits) = (unsafeBitCast(a, to: SIMD16<UInt32>.self), unsafeBitCast(b, to: SIMD16<UInt32>.self))
    return unsafeBitCast((bBits & aBelowB) | (aBits & ~aBelowB), to: Vector.self)  // b where a − b < 0
}

/// The largest lane of `v` (NaN rules as `lanewiseMax`).
@inlinable @inline(__always)
public func largestLane(_ v: Vector) -> Float { broadcastLargestLane(v)[0] }

/// Every lane set to the largest lane of `v` (NaN rules as `lanewiseMax`): lanes 8, 4, 2 and 1
/// apart compared four times, in whole vectors. A softmax row subtracts it as a vector, which
/// keeps the row's work in vector registers: folding halves down to a scalar and broadcasting it
/// back costs a head's rows (T = 64) about 1.5× as long.
@inlinable @inline(__always)
public func broadcastLargestLane(_ v: Vector) -> Vector {
    func swapped8(_ v: Vector) -> Vector { Vector(lowHalf: v.highHalf, highHalf: v.lowHalf) }
    func swapped4(_ v: SIMD8<Float>) -> SIMD8<Float> { SIMD8(lowHalf: v.highHalf, highHalf: v.lowHalf) }
    func swapped2(_ v: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8(
            lowHalf: SIMD4(lowHalf: v.lowHalf.highHalf, highHalf: v.lowHalf.lowHalf),
            highHalf: SIMD4(lowHalf: v.highHalf.highHalf, highHalf: v.highHalf.lowHalf))
    }
    func swapped1(_ v: SIMD8<Float>) -> SIMD8<Float> { SIMD8(v[1], v[0], v[3], v[2], v[5], v[4], v[7], v[6]) }
    func inHalves(_ v: Vector, _ swap: (SIMD8<Float>) -> SIMD8<Float>) -> Vector {
        Vector(lowHalf: swap(v.lowHalf), highHalf: swap(v.highHalf))
    }
    var m = lanewiseMax(v, swapped8(v))
    m = lanewiseMax(m, inHalves(m, swapped4))
    m = lanewiseMax(m, inHalves(m, swapped2))
    return lanewiseMax(m, inHalves(m, swapped1))
}

/// `v` with its bits outside `mask` cleared: with a `laneMask`, the lanes past it become +0;
/// with all bits but the sign bit, `v` becomes |v|.
@inlinable @inline(__always)
public func masked(_ v: Vector, _ mask: SIMD16<UInt32>) -> Vector {
    unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & mask, to: Vector.self)
}

/// Bit masks of the first `lanes` lanes: all ones in lanes `0..<lanes`, zero in the rest.
@inlinable @inline(__always)
public func laneMask(_ lanes: Int) -> SIMD16<UInt32> {
    let laneIndex = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    return unsafeBitCast((laneIndex &- Int32(lanes)) &>> 31, to: SIMD16<UInt32>.self)
}

/// `√v` per lane, as one vector instruction (CVectorMath): `v.squareRoot()` compiles to sixteen
/// scalar square roots through C's `sqrtf`, which would double the time of AdamW's pass.
/// Correctly rounded either way, so the bits are the same.
@inlinable @inline(__always)
public func squareRoot(_ v: Vector) -> Vector {
    qklab_sqrt16(v)
}

/// `1 / (1 + exp(−x))` per lane.
@inlinable @inline(__always)
public func sigmoid(_ x: Vector) -> Vector {
    1 / (1 + exp(-x))
}

/// `max(x[0..<count])` and `Σ exp(x_i − max)` (max-subtracted, so large values do not overflow).
@inline(__always)
func shiftedExponentialSum(_ x: UnsafePointer<Float>, count: Int) -> (maximum: Float, sum: Float) {
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, x[i]) }
    var total = Vector()
    forEachVector(0..<count) { i, lanes in
        var e = exp(load(x, i, lanes) - maximum)
        if lanes < vectorWidth { for lane in lanes..<vectorWidth { e[lane] = 0 } }
        total += e
    }
    return (maximum, total.sum())
}

extension UnsafePointer where Pointee == Float {
    /// 16 floats from `self + offset` (unaligned).
    @usableFromInline @inline(__always)
    func vector(at offset: Int) -> Vector {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vector.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @usableFromInline @inline(__always)
    func vector(at offset: Int) -> Vector {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vector.self)
    }

    @usableFromInline @inline(__always)
    func store(_ v: Vector, at offset: Int) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: Vector.self)
    }
}

/// Calls `body(i, lanes)` for `i = lowerBound, lowerBound + 16, …` over `range`, where the last
/// call may have fewer than 16 valid lanes; `load`/`store` below pad and trim such a tail, so one
/// loop body serves full vectors and the tail alike (the same arithmetic for every element).
///
/// The full vectors run as a loop of their own, where `lanes` is the constant 16, so that the
/// inlined body's `load`/`store` lose their tail branches there; the tail follows as one call.
/// (One loop for both, with `lanes = min(16, …)`, keeps those branches in every iteration: an
/// RMSNorm pullback over rows of 128 floats then takes about 1.4× as long.)
@inlinable @inline(__always)
public func forEachVector(_ range: Range<Int>, _ body: (_ start: Int, _ lanes: Int) -> Void) {
    var i = range.lowerBound
    while i + vectorWidth <= range.upperBound {
        body(i, vectorWidth)
        i += vectorWidth
    }
    if i < range.upperBound { body(i, range.upperBound - i) }
}

/// Loads `lanes` floats (≤ 16) starting at `p + i`, zero-padded.
@inlinable @inline(__always)
public func load(_ p: UnsafePointer<Float>, _ i: Int, _ lanes: Int) -> Vector {
    if lanes == vectorWidth { return p.vector(at: i) }
    var v = Vector()
    for lane in 0..<lanes { v[lane] = p[i + lane] }
    return v
}

@inlinable @inline(__always)
public func load(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ lanes: Int) -> Vector {
    load(UnsafePointer(p), i, lanes)
}

/// Stores the first `lanes` lanes of `v` at `p + i`.
@inlinable @inline(__always)
public func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ lanes: Int) {
    if lanes == vectorWidth {
        p.store(v, at: i)
        return
    }
    for lane in 0..<lanes { p[i + lane] = v[lane] }
}
