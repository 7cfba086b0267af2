#!/usr/bin/env bash
# Longer, randomised rounds of the damaged-file tests (config, state.json, metrics):
#   scripts/fuzz.sh [SCALE] [SEED]     default: 30× the flips of `swift test`, a random seed
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-30}"
seed="${2:-$RANDOM$RANDOM}"
echo "fuzz: ${scale}× flips, seed $seed"
QKLAB_FUZZ_FLIPS="$scale" QKLAB_FUZZ_SEED="$seed" swift test --filter "BadFileEndToEndTests|SafeTensorsTests"
