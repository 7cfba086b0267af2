// libxsmm's just-in-time small-matrix products (Debian: libxsmm-dev), for the products whose
// inner dimension is short (see Autograd's SmallProducts.swift). Its kernels are variadic
// function pointers, which Swift cannot call, so they pass through these functions.
#include <libxsmm.h>

// A kernel for the column-major C[m,n] = A[m,k] · op(B) (+ C when beta is 1), op(B) = B[k,n], or
// Bᵀ with B stored [n,k] when transposeB; alpha 1; NULL when libxsmm cannot build one. libxsmm
// 1.17's per-thread lookup cache is not safe when two threads get the same internal id (ids
// are a counter mod 1024 and threads come and go), so callers serialise this call.
static inline const void *qklab_xsmm_kernel(int m, int n, int k, int lda, int ldb, int ldc, int beta, int transposeB) {
    const libxsmm_blasint M = m, N = n, K = k, LDA = lda, LDB = ldb, LDC = ldc;
    const float alpha = 1, betaValue = beta ? 1 : 0;
    const int flags = transposeB ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
    const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    return (const void *)libxsmm_smmdispatch(M, N, K, &LDA, &LDB, &LDC, &alpha, &betaValue, &flags, &prefetch);
}

// out[k rows, n columns] = inᵀ for a row-major in[n rows, k columns] with row stride ldi (rows of
// out are n apart): libxsmm's out-of-place transpose, on the calling thread. It dispatches a
// kernel inside, so callers serialise it like qklab_xsmm_kernel.
static inline void qklab_xsmm_transpose(float *out, const float *in, int n, int k, int ldi) {
    libxsmm_otrans(out, in, sizeof(float), k, n, ldi, n);
}

// Runs a kernel from qklab_xsmm_kernel on the calling thread.
static inline void qklab_xsmm_run(const void *kernel, const float *a, const float *b, float *c) {
    ((libxsmm_smmfunction)kernel)(a, b, c);
}

// The instruction sets libxsmm generates code for, and those of this CPU (libxsmm's ids: larger
// is newer; LIBXSMM_TARGET may ask for more than the CPU has, which libxsmm 1.17 does not refuse).
static inline int qklab_xsmm_target_id(void) { return libxsmm_get_target_archid(); }
static inline int qklab_xsmm_cpu_id(void) { return libxsmm_cpuid(); }
static inline const char *qklab_xsmm_name(int id) { return libxsmm_cpuid_name(id); }
