// Vector math Swift cannot spell: Swift's `squareRoot()` of a SIMD vector is a loop of scalar
// square roots, each through C's errno-setting sqrtf (no vector instruction), while Clang's
// element-wise builtin becomes one vector instruction (vsqrtps with AVX-512, two with AVX2, four
// with SSE). Both are IEEE 754's correctly rounded square root: the same bits.
// `ext_vector_type(16)` floats are Swift's SIMD16<Float>.

typedef float qklab_float16 __attribute__((ext_vector_type(16)));

/// √v per lane (NaN for a negative lane).
static inline __attribute__((always_inline)) qklab_float16 qklab_sqrt16(qklab_float16 v) {
#if __has_builtin(__builtin_elementwise_sqrt)
    return __builtin_elementwise_sqrt(v);
#else
    // An older Clang: one square-root instruction per lane (no errno call), the same bits.
    qklab_float16 r;
    for (int i = 0; i < 16; i++) r[i] = __builtin_sqrtf(v[i]);
    return r;
#endif
}
