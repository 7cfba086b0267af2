// QKLab's BLAS: OpenBLAS's CBLAS interface (Debian: libopenblas-dev); on x86-64 short products go to libxsmm (CLibXSMM).
#include <cblas.h>

// Declared by OpenBLAS but not by every cblas.h: name of the kernel set in use
// ("Haswell", "SkylakeX", "Zen", or the generic "Prescott").
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

// Sets this thread's flush-to-zero and denormals-are-zero bits (MXCSR bits 15 and 6) on x86-64;
// does nothing on other architectures.
#if defined(__x86_64__)
#include <xmmintrin.h>
static inline void qklab_flush_subnormals_on_this_thread(void) { _mm_setcsr(_mm_getcsr() | 0x8040); }
static inline int qklab_flushes_subnormals_on_this_thread(void) { return (_mm_getcsr() & 0x8040) == 0x8040; }
#else
static inline void qklab_flush_subnormals_on_this_thread(void) {}
static inline int qklab_flushes_subnormals_on_this_thread(void) { return 0; }
#endif
