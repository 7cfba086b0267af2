#!/usr/bin/env bash
# Installs the system packages QKLab builds against (Debian/Ubuntu): OpenBLAS, libxsmm (x86-64 only:
# Debian ships it for amd64, and a build for another CPU leaves every product to OpenBLAS) and
# pkg-config; with --mpi also Open MPI (libopenmpi-dev, openmpi-bin), for `swift build --traits MPI`.
# Idempotent: does nothing when they are present. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(libopenblas-dev pkg-config)
[ "$(dpkg --print-architecture)" = "amd64" ] && packages+=(libxsmm-dev)
[ "${1:-}" = "--mpi" ] && packages+=(libopenmpi-dev openmpi-bin)

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
