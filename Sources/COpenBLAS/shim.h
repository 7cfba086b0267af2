// The one C dependency of QKLab: OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>

// Declared by OpenBLAS but not by every cblas.h: name of the kernel set in use
// ("Haswell", "SkylakeX", "Zen", or the generic "Prescott").
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
