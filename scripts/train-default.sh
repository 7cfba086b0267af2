#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu machine to a trained model: installs OpenBLAS and the
# KJV corpus when missing, builds in release mode, trains configs/default.toml.
# Extra arguments go to `qklab train` (e.g. --set train.max_steps=300).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/get-data.sh kjv
swift build -c release --product qklab
.build/release/qklab train --config configs/default.toml "$@"
