#!/usr/bin/env bash
# Heap allocations per training step: runs qklab-bench (release, --skip-ops --no-probe) for 10 and for 30
# timed steps of one size under a small LD_PRELOAD counter of malloc/calloc/realloc/
# posix_memalign/aligned_alloc calls, and prints the difference per extra step.
#   scripts/count-mallocs.sh [S|M] [qklab-bench options…]
# e.g. `scripts/count-mallocs.sh S --measure-every 1`: every step measures the stability telemetry.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-S}"
shift $(( $# > 0 ? 1 : 0 ))
extra=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/count.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
static atomic_long calls;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
void *malloc(size_t n) { atomic_fetch_add(&calls, 1); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { atomic_fetch_add(&calls, 1); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { atomic_fetch_add(&calls, 1); return __libc_realloc(p, n); }
int posix_memalign(void **out, size_t a, size_t n) { atomic_fetch_add(&calls, 1); *out = __libc_memalign(a, n); return *out ? 0 : 12; }
void *aligned_alloc(size_t a, size_t n) { atomic_fetch_add(&calls, 1); return __libc_memalign(a, n); }
__attribute__((destructor)) static void report(void) { fprintf(stderr, "malloc calls: %ld\n", atomic_load(&calls)); }
C
gcc -O2 -shared -fPIC -o "$work/libcount.so" "$work/count.c"
swift build -c release --product qklab-bench
count() {
    LD_PRELOAD="$work/libcount.so" .build/release/qklab-bench --skip-ops --no-probe --only "$size" --steps "$1" --seconds-per-case 0.1 --generation-chars 10 "${extra[@]}" 2>&1 \
        | sed -n 's/^malloc calls: //p'
}
short=$(count 10)
long=$(count 30)
# Each run trains qk_norm head and off: 2 × 20 more steps in the long run.
echo "$size${extra[*]:+ (${extra[*]})}: $(( (long - short) / 40 )) malloc calls per training step ($short for 10 steps, $long for 30, both qk_norm values)"
