import Foundation

/// A Float32 array: contiguous, row-major, with a shape.
///
/// Storage is a reference-counted buffer (`TensorStorage`): `reshaped` views share it, and no op
/// copies it behind the caller's back. A tensor that `requiresGrad` receives a gradient of the
/// same shape in `grad` when `backward()` runs; gradients accumulate (`+=`) until zeroed.
public final class Tensor {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements (product of `shape`; 1 for a scalar `[]`).
    public let count: Int
    /// The buffer, shared with views of this tensor.
    public let storage: TensorStorage
    /// Where this tensor's gradient accumulates.
    public let gradientSlot: GradientSlot
    /// Whether ops record how to send gradients back to this tensor.
    public var requiresGrad: Bool

    /// A tensor over an existing storage (which must hold `shape`'s element count).
    public init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        let count = shape.reduce(1, *)
        precondition(storage.count == count, "storage of \(storage.count) for shape \(shape)")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.gradientSlot = GradientSlot(shape: shape)
        self.requiresGrad = requiresGrad
    }

    /// Gradient of the last `backward()` with respect to this tensor (nil until one arrives).
    public var grad: Tensor? {
        get { gradientSlot.gradient }
        set { gradientSlot.gradient = newValue }
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// A tensor whose elements are garbage until written: for op outputs that overwrite every
    /// element (skips zeroing a recycled buffer).
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: shape.reduce(1, *), zeroed: false))
    }

    /// A tensor holding `values` (row-major).
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape, requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor filled with `value`.
    public convenience init(filling value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        data.update(repeating: value, count: count)
    }

    /// Normal(mean, std) samples drawn from `random` (so the same seed gives the same tensor).
    public convenience init(
        normal shape: [Int], mean: Float = 0, std: Float, random: inout SeededRandom, requiresGrad: Bool = false
    ) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        fillNormal(mean: mean, std: std, random: &random)
    }

    /// Overwrites every element with a Normal(mean, std) sample from `random`, in order.
    public func fillNormal(mean: Float = 0, std: Float, random: inout SeededRandom) {
        for i in 0..<count { data[i] = Float(random.nextNormal(mean: Double(mean), std: Double(std))) }
    }

    /// Overwrites every element with a `nextTruncatedNormal(std:)` sample from `random`, in order.
    public func fillTruncatedNormal(std: Float, random: inout SeededRandom) {
        for i in 0..<count { data[i] = Float(random.nextTruncatedNormal(std: Double(std))) }
    }

    /// The elements, for reading and writing in place.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A copy of the elements as an array.
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item of a tensor of shape \(shape)")
        return data[0]
    }

    /// The gradient buffer, created as zeros on first use: backward rules add into it.
    public func gradData() -> UnsafeMutablePointer<Float> { gradientSlot.data() }

    /// Sets the gradient to zero (keeps the buffer).
    public func zeroGrad() {
        grad?.data.update(repeating: 0, count: count)
    }
}

/// A tensor's gradient, apart from the tensor: the tape holds an op output's slot (for its
/// gradient to arrive in), not the output itself, and a pullback that needs only an input's
/// gradient, not its elements, holds the input's slot. Elements no pullback reads are then
/// freed as soon as the forward pass is done with them.
public final class GradientSlot {
    /// Shape of the gradient (the tensor's).
    public let shape: [Int]
    /// The gradient, nil until one arrives.
    public var gradient: Tensor?

    init(shape: [Int]) { self.shape = shape }

    /// The gradient buffer, created as zeros on first use: backward rules add into it.
    public func data() -> UnsafeMutablePointer<Float> {
        let (pointer, isFresh) = dataForUpdate()
        if isFresh { pointer.update(repeating: 0, count: gradient!.count) }
        return pointer
    }

    /// Adds `incoming` (this slot's shape) to the gradient: the backward rule of an op that
    /// passes its output's gradient through unchanged (an add, a residual connection).
    public func add(_ incoming: UnsafePointer<Float>) {
        let (target, isFresh) = dataForUpdate()
        Parallel.forEachChunk(gradient!.count, grain: elementwiseGrain) { range in
            forEachVector(range) { i, lanes in
                store((isFresh ? Vector() : load(target, i, lanes)) + load(incoming, i, lanes), target, i, lanes)
            }
        }
    }

    /// The gradient buffer for a backward rule that sets every element: with `isFresh`, no
    /// gradient had arrived and the buffer is uninitialised (write, do not add); otherwise it
    /// is the gradient so far (add). Saves zeroing a buffer only to add into it once.
    public func dataForUpdate() -> (pointer: UnsafeMutablePointer<Float>, isFresh: Bool) {
        if let gradient { return (gradient.data, false) }
        let fresh = Tensor(uninitialized: shape)
        gradient = fresh
        return (fresh.data, true)
    }
}

/// A reference-counted, 64-byte-aligned Float32 buffer, zero-initialised unless asked not to be;
/// or a slice of another storage (a model's parameters are slices of one buffer).
///
/// Buffers come from and return to `BufferPool`, so a training step that repeats the same
/// shapes stops allocating (and page-faulting) after its first step.
public final class TensorStorage {
    /// First element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int
    /// The storage this one is a slice of, kept alive by it (nil: this one owns its buffer).
    private let parent: TensorStorage?
    /// The pool the buffer came from and returns to (nil for a slice).
    private let pool: BufferPool?

    /// A buffer of `count` elements from this thread's pool (`BufferPool.current`).
    public init(count: Int, zeroed: Bool = true) {
        let pool = BufferPool.current
        self.count = count
        self.pool = pool
        pointer = pool.take(count: count)
        parent = nil
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    /// Elements `offset ..< offset + count` of `parent`: the same memory, not a copy.
    public init(slicing parent: TensorStorage, offset: Int, count: Int) {
        precondition(
            offset >= 0 && count >= 0 && offset + count <= parent.count,
            "slice \(offset)..<\(offset + count) of a storage of \(parent.count)")
        self.pointer = parent.pointer + offset
        self.count = count
        self.parent = parent
        pool = nil
    }

    deinit { pool?.give(pointer, count: count) }
}
