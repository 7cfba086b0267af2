#!/usr/bin/env bash
# Creates the Python environment the comparison scripts use (hf_check.py, scaling_torch_check.py,
# bench_torch.py): numpy, safetensors, transformers, tensorboard and a CPU build of PyTorch.
# The Swift build and `swift test` need none of it.
#
#   bash scripts/setup-python.sh            # into ${QKLAB_PYENV:-$HOME/.cache/qklab-pyenv}
#   "$HOME/.cache/qklab-pyenv/bin/python" scripts/hf_check.py RUN
#
# PyPI's default torch wheel is the CUDA build (several GB, and it needs its nvidia-* libraries).
# A CPU wheel is installed instead: $TORCH_WHEEL when set, else the first torch-*+cpu-*.whl found in
# /opt/wheels or the current folder (installed with --no-deps, its small dependencies named here);
# with none, it stops and says so. Idempotent: an environment that imports all of it is left alone.
set -euo pipefail

env_dir="${QKLAB_PYENV:-$HOME/.cache/qklab-pyenv}"
python="$env_dir/bin/python"
if [ -x "$python" ] && "$python" -c "import numpy, safetensors, transformers, torch" 2>/dev/null; then
    echo "$env_dir: ready"
    exit 0
fi

python3 -m venv --help >/dev/null 2>&1 || {
    echo "setup-python.sh: python3 has no venv module (Debian: apt-get install python3-venv)" >&2
    exit 1
}
python3 -m venv "$env_dir"
pip=("$env_dir/bin/pip" install --quiet --disable-pip-version-check)

wheel="${TORCH_WHEEL:-}"
if [ -z "$wheel" ]; then
    wheel="$(ls /opt/wheels/torch-*+cpu-*.whl ./torch-*+cpu-*.whl 2>/dev/null | head -n 1 || true)"
fi
if [ -n "$wheel" ]; then
    echo "installing $wheel (no dependencies) and torch's own small dependencies"
    "${pip[@]}" --no-deps "$wheel"
    "${pip[@]}" filelock typing_extensions sympy networkx jinja2 fsspec "setuptools>=77"
else
    echo "setup-python.sh: no torch CPU wheel (torch-*+cpu-*.whl) in /opt/wheels or here; set TORCH_WHEEL=PATH" >&2
    exit 1
fi
"${pip[@]}" numpy safetensors "transformers>=5" tensorboard
"$python" -c "import torch, transformers; print('torch', torch.__version__, '· transformers', transformers.__version__)"
echo "$env_dir: ready (use $python)"
