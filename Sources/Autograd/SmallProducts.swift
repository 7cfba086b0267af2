#if canImport(CLibXSMM)
    import CLibXSMM
#endif
import Foundation

/// Products with a short inner dimension through libxsmm's just-in-time kernels (Debian's
/// libxsmm-dev), which `BLAS.gemm` takes instead of OpenBLAS where they are faster.
///
/// OpenBLAS packs both operands into blocks before every product and adds its result to C, so
/// a `beta = 0` product costs a pass zeroing C first (`BLAS`); at S's shapes (384 rows per shard,
/// k ≤ 704) that overhead is a large part of the product. libxsmm generates a kernel for each
/// shape that streams the operands as they are and writes C. Measured on one thread of an Intel
/// Xeon with AVX-512 (OpenBLAS 0.3.21 SkylakeX kernels, libxsmm 1.17), each product alone:
/// 1.14–1.57× OpenBLAS's speed for every `NN` and `TN` product of S's backward pass and M's with
/// k ≤ 384, but 0.36–0.43× with k = 2048 (libxsmm does not block k), hence
/// `largestInnerDimension`; in real steps M's larger products with k = 384 are slower through
/// libxsmm too, hence `largestFootprint`.
///
/// Only what its kernels do well goes there: `op(A) · B`, alpha 1, beta 0 or 1, and `A · Bᵀ` with at
/// least `transposedOperandRows` rows (a forward `linear`): libxsmm 1.17 builds no kernel for a
/// transposed first operand of its column-major product, which a row-major `A · Bᵀ` is, so Bᵀ is
/// first copied out (libxsmm's transpose; for a weight `[out, in]`, `in·out` floats against the
/// product's `2·rows·in·out` FLOPs). Everything else stays with OpenBLAS. A kernel accumulates each
/// element of C along k in order on one thread, like OpenBLAS's, so the choice depends on the
/// shape only (and so on the rows of a batch shard) and never on threads; with `beta = 1` it adds
/// the products to C one by one where OpenBLAS adds their sum once, so results differ from
/// OpenBLAS's in the last bits. A shape libxsmm cannot build a kernel for stays with OpenBLAS for
/// the whole process (the answer is kept).
///
/// libxsmm 1.17 keeps a lookup cache per thread under an id that is a counter modulo 1024; as
/// worker threads retire and new ones start, two live threads can share an id and race on one
/// cache, which can hand back a kernel for another shape. So QKLab keeps its own table of kernels
/// and enters libxsmm's dispatch (and its transpose, which dispatches inside) under one lock.
///
/// libxsmm is x86-64 code (Debian ships libxsmm-dev for amd64 only): a build for another CPU has
/// no CLibXSMM (Package.swift), `isAvailable` is false and OpenBLAS computes every product.
public enum SmallProducts {
    /// Whether this build has libxsmm (x86-64); without it `multiply` takes nothing.
    public static var isAvailable: Bool {
        #if canImport(CLibXSMM)
            true
        #else
            false
        #endif
    }

    /// The longest inner dimension k sent to libxsmm.
    static let largestInnerDimension = 768
    /// The most floats A, B and C may hold together for libxsmm (2 MiB, the L2 cache of a core of
    /// the machine measured): libxsmm does not pack its operands into cache-sized blocks, so
    /// larger operands stream from further out. Measured in real training steps (`qklab-bench`):
    /// S's products (at most 0.41M floats with 2 shards) run at 101–111% of the 1024² sgemm
    /// probe's rate per core through libxsmm and 89–101% through OpenBLAS; M's with k = 384 and
    /// 2048 rows (1.7M floats and more) at 74–75% through libxsmm and 99–101% through OpenBLAS.
    static let largestFootprint = 1 << 19
    /// The fewest rows m of an `A · Bᵀ` for which Bᵀ is copied out to run it through libxsmm
    /// (a generation step's one-row products stay with OpenBLAS).
    static let transposedOperandRows = 64

    /// Runs row-major `C[m,n] = op(A)[m,k] · op(B)[k,n] (+ C when beta is 1)` through libxsmm and
    /// returns true, or returns false (and does nothing) where it does not apply; `lda`, `ldb`,
    /// `ldc` are row strides as in `BLAS.gemm`.
    @inline(__always)
    static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        #if canImport(CLibXSMM)
            guard alpha == 1, beta == 0 || beta == 1, k <= largestInnerDimension,
                m * k + k * n + m * n <= largestFootprint,
                !transposeB || (!transposeA && m >= transposedOperandRows)
            else { return false }
            // Row-major C[m,n] is column-major Cᵀ[n,m] = op(B)ᵀ · op(A)ᵀ: B's rows are Bᵀ's columns
            // (ld = ldb; with transposeB, those of the copy of Bᵀ made below, ld = n) and A's rows
            // op(A)ᵀ's columns, transposed once more when A is.
            guard
                let kernel = kernel(
                    KernelShape(
                        m: n, n: m, k: k, lda: transposeB ? n : ldb, ldb: lda, ldc: ldc, beta: beta,
                        transposeB: transposeA))
            else { return false }
            guard transposeB else {
                qklab_xsmm_run(kernel, b, a, c)
                return true
            }
            let transposed = TensorStorage(count: k * n, zeroed: false)  // Bᵀ, [k, n]
            lock.lock()
            qklab_xsmm_transpose(transposed.pointer, b, Int32(n), Int32(k), Int32(ldb))
            lock.unlock()
            qklab_xsmm_run(kernel, transposed.pointer, a, c)
            withExtendedLifetime(transposed) {}
            return true
        #else
            return false
        #endif
    }

    #if canImport(CLibXSMM)
        /// A column-major libxsmm product: `C[m,n] = A[m,k] · op(B) (+ C when beta is 1)`.
        private struct KernelShape: Hashable {
            let m, n, k, lda, ldb, ldc: Int
            let beta: Float
            let transposeB: Bool
        }

        /// libxsmm's kernel for `shape` (nil where it builds none), from QKLab's table: libxsmm is
        /// asked once per shape, under `lock`.
        private static func kernel(_ shape: KernelShape) -> UnsafeRawPointer? {
            lock.lock()
            defer { lock.unlock() }
            if let known = kernels[shape] { return known }
            _ = initialized
            let made = qklab_xsmm_kernel(
                Int32(shape.m), Int32(shape.n), Int32(shape.k), Int32(shape.lda), Int32(shape.ldb),
                Int32(shape.ldc), shape.beta == 0 ? 0 : 1, shape.transposeB ? 1 : 0)
            kernels[shape] = made
            return made
        }

        private static let lock = NSLock()
        nonisolated(unsafe) private static var kernels: [KernelShape: UnsafeRawPointer?] = [:]
    #endif

    /// The instruction set libxsmm generates its kernels for (libxsmm 1.17's names: "hsw" for
    /// AVX2, "skx", "clx", "cpx" for AVX-512 generations…): detected from the CPU, or set by the
    /// `LIBXSMM_TARGET` environment variable. Like OpenBLAS's kernel, it decides the bits of the
    /// products it runs. nil in a build without libxsmm.
    public static var target: String? {
        #if canImport(CLibXSMM)
            _ = initialized
            return String(cString: qklab_xsmm_name(qklab_xsmm_target_id()))
        #else
            return nil
        #endif
    }

    /// Why libxsmm's kernels cannot run on this CPU, or nil: `LIBXSMM_TARGET` asks for
    /// instructions the CPU lacks, which libxsmm 1.17 accepts and which would then stop the
    /// process with an illegal instruction at the first product. Commands check it first.
    /// libxsmm's ids grow with the instruction sets, except Xeon Phi's (KNL, KNM), a branch of
    /// their own that only a Xeon Phi runs.
    public static var unsupportedTarget: String? {
        #if canImport(CLibXSMM)
            _ = initialized
            let (target, cpu) = (qklab_xsmm_target_id(), qklab_xsmm_cpu_id())
            let xeonPhi = LIBXSMM_X86_AVX512_MIC...LIBXSMM_X86_AVX512_KNM
            guard target > cpu || (xeonPhi.contains(target) && target != cpu) else { return nil }
            let asked =
                ProcessInfo.processInfo.environment["LIBXSMM_TARGET"] ?? String(cString: qklab_xsmm_name(target))
            return "LIBXSMM_TARGET=\(asked) asks libxsmm for \(String(cString: qklab_xsmm_name(target))) instructions, "
                + "which this CPU (\(String(cString: qklab_xsmm_name(cpu)))) lacks: unset it or name \(String(cString: qklab_xsmm_name(cpu))) or an older set"
        #else
            return nil
        #endif
    }

    /// Exits with status 1 and one line on stderr, `program: <unsupportedTarget>`, when libxsmm's
    /// kernels cannot run on this CPU; commands call it first (after OpenBLAS's re-exec).
    public static func exitIfTargetUnsupported(program: String) {
        guard let problem = unsupportedTarget else { return }
        FileHandle.standardError.write(Data("\(program): \(problem)\n".utf8))
        exit(1)
    }

    #if canImport(CLibXSMM)
        /// libxsmm sets itself up once per process, before the first kernel.
        private static let initialized: Void = libxsmm_init()
    #endif
}
