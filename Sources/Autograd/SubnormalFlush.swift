import COpenBLAS

/// Subnormal floats read and written as zero, on every thread that computes.
///
/// When an attention head collapses onto one key (the instability QKLab studies), its softmax
/// probabilities for the other keys fall below 2⁻¹²⁶ ≈ 1.2e-38, and those subnormal numbers, and
/// the gradients made from them, flow into the products. x86 CPUs handle a subnormal operand in
/// microcode: an sgemm with subnormal inputs measured 90× slower here, and a d128l4 run without
/// QK-Norm at lr 1e-2 fell from 12,400 to 1,200 tokens/s as its attention entropy went to 1e-3.
/// Flush-to-zero (FTZ) and denormals-are-zero (DAZ) remove that: values below 2⁻¹²⁶ count as 0,
/// as in TensorFlow's CPU kernels (`ScopedFlushDenormal`) and `torch.set_flush_denormal(True)`.
/// Results change only where a subnormal occurs, by less than 1.2e-38 per value, and stay
/// deterministic: every computing thread uses the same mode.
///
/// Threads covered: the caller of `enable()` (the main thread) and `Parallel`'s chunks (each sets
/// the mode when it starts); OpenBLAS and libxsmm compute on their caller's thread (see `BLAS`). On
/// architectures other than x86-64 this does nothing.
public enum SubnormalFlush {
    /// Whether `enable()` was called: `Parallel`'s chunks then set the mode on their threads.
    nonisolated(unsafe) public private(set) static var isEnabled = false

    /// Call once in `main`, before any computation: sets FTZ and DAZ on this thread, and on
    /// `Parallel`'s chunks from then on.
    public static func enable() {
        qklab_flush_subnormals_on_this_thread()
        isEnabled = true
    }

    /// Sets the mode on the calling thread when it is enabled (`Parallel` calls it per chunk).
    @inline(__always)
    static func applyToThisThread() {
        if isEnabled { qklab_flush_subnormals_on_this_thread() }
    }

    /// Whether the calling thread flushes subnormals (FTZ and DAZ both set).
    public static var isActiveOnThisThread: Bool { qklab_flushes_subnormals_on_this_thread() != 0 }
}
