#!/usr/bin/env bash
# Release build of the benchmark, then run it: sgemm peak, per-op times, and real training
# steps of the benchmark models S and M with QK-Norm on and off (tokens/s, MFU, peak RSS,
# where the time goes). Arguments go to qklab-bench (--steps N, --only S|M, --seconds-per-case X,
# --skip-ops: training steps only, so that peak RSS is training's; --shards N: batch shards per step).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product qklab-bench
.build/release/qklab-bench "$@"
