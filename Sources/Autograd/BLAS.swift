import COpenBLAS
import Foundation

/// The one door to OpenBLAS (and to libxsmm, `SmallProducts`). Everything else in QKLab multiplies
/// matrices through `BLAS.gemm`.
///
/// OpenBLAS always runs on one thread: QKLab spreads work over cores itself (batch shards,
/// attention units, `Parallel`'s chunks), so a product is computed the same way whatever the
/// thread count. OpenBLAS 0.3.21's own threading is not bit-stable: splitting one product over
/// two threads gives other bits than one thread with its Haswell kernels (every shape tried) and
/// its generic Prescott kernels (odd shapes), not with SkylakeX's (see docs/resume-and-determinism.md,
/// "Determinism").
///
/// All matrices are row-major Float32. `gemm` computes
/// `C ← alpha · op(A) · op(B) + beta · C`, where `op(X)` is `X` or `Xᵀ`: transposes are flags
/// handed to `cblas_sgemm` or libxsmm, except an `A · Bᵀ` that libxsmm runs, for which `Bᵀ` is
/// copied out first (`SmallProducts`).
public enum BLAS {
    /// `C[m,n] ← alpha · op(A)[m,k] · op(B)[k,n] + beta · C`.
    /// `lda`, `ldb`, `ldc` are row strides of the matrices as stored (so a head's slice of a
    /// `[B,T,H·Dh]` tensor is a matrix with stride `H·Dh`).
    @inline(__always)
    public static func gemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        _ = singleThreaded
        if m == 1 && n >= 2 * rowColumnBlock {
            // A generation step's one-row product: fixed blocks of columns over the cores.
            let blocks = (n + rowColumnBlock - 1) / rowColumnBlock
            Parallel.forEachChunk(blocks, grain: 1) { range in
                for block in range {
                    let first = block * rowColumnBlock, width = min(rowColumnBlock, n - first)
                    product(
                        transposeA: transposeA, transposeB: transposeB, m: 1, n: width, k: k, alpha: alpha,
                        a: a, lda: lda, b: transposeB ? b + first * ldb : b + first, ldb: ldb,
                        beta: beta, c: c + first, ldc: ldc)
                }
            }
            return
        }
        product(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// Columns of C per OpenBLAS call when a one-row product is spread over cores: fixed, so the
    /// split, and the result's bits, never depend on the thread count.
    static let rowColumnBlock = 256

    /// One product: libxsmm's kernel where `SmallProducts` takes it, else one OpenBLAS call.
    @inline(__always)
    private static func product(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let started = OpProfile.begin(), flops = 2 * Double(m) * Double(n) * Double(k)
        if SmallProducts.multiply(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        {
            OpProfile.endProduct(.libxsmm, flops: flops, started)
            return
        }
        defer { OpProfile.endProduct(.openBLAS, flops: flops, started) }
        if beta == 0 { zero(c, rows: m, columns: n, stride: ldc) }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta == 0 ? 1 : beta, c, Int32(ldc))
    }

    /// Zeroes C before a `beta = 0` product, which then runs as `beta = 1`: OpenBLAS's own
    /// `beta = 0` pass (`sgemm_beta`) is slow enough to cost 8–10% of a 384×128×128 product
    /// (measured), while a `memset` costs about 1%. Both leave `C = alpha·op(A)·op(B)` with the
    /// same bits, whatever C held before (a NaN there does not leak through).
    @inline(__always)
    private static func zero(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int) {
        if stride == columns {
            c.update(repeating: 0, count: rows * columns)
            return
        }
        for row in 0..<rows { (c + row * stride).update(repeating: 0, count: columns) }
    }

    /// The naive triple loop `gemm` must agree with: the test oracle (accumulates in Double).
    public static func referenceGemm(
        transposeA: Bool, transposeB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aip = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bpj = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aip) * Double(bpj)
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(sum) + old
            }
        }
    }

    /// Name of the OpenBLAS kernel set in use ("Haswell", "SkylakeX", "Zen", or generic "Prescott").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build description (version, DYNAMIC_ARCH, thread limit).
    public static var configuration: String {
        String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
    }

    /// Set once, before the first product: OpenBLAS computes on the calling thread only.
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// Runs `body` with OpenBLAS splitting each product over `threads` threads, then back on one:
    /// for `SgemmBenchmark`'s yardstick only (results then depend on the thread count).
    static func withOpenBLASThreads(_ threads: Int, _ body: () -> Void) {
        _ = singleThreaded
        openblas_set_num_threads(Int32(threads))
        body()
        openblas_set_num_threads(1)
    }

    /// Threads OpenBLAS uses inside one `gemm` call: 1 once a product has run.
    public static var threadCount: Int {
        _ = singleThreaded
        return Int(openblas_get_num_threads())
    }
}
