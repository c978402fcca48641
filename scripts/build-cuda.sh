#!/usr/bin/env bash
# Build the mire2e binaries with the `cuda` feature on a machine without a CUDA toolkit or GPU,
# using NVIDIA's PyPI wheels for nvcc, headers and libraries (see docs/gpu.md).
#
#   scripts/build-cuda.sh [--cuda 13.0] [--cap 90] [--prefix DIR] [--target-dir DIR]
#
# --cap is the GPU's compute capability without the dot (H100/H200: 90, A100: 80, L4: 89).
# The toolkit goes to DIR/cuda (default ~/.cache/mire2e/cuda); the binaries to
# TARGET/release/ (default target-cuda/ in the repository). Idempotent.
set -euo pipefail

cuda=13.0
cap=90
prefix="${HOME}/.cache/mire2e/cuda"
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${repo}/target-cuda"
while [ $# -gt 0 ]; do
    case "$1" in
        --cuda) cuda="$2"; shift 2 ;;
        --cap) cap="$2"; shift 2 ;;
        --prefix) prefix="$2"; shift 2 ;;
        --target-dir) target="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "build-cuda.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

major="${cuda%%.*}"
root="${prefix}/root/nvidia/cu${major}"
if [ ! -x "${root}/bin/nvcc" ]; then
    mkdir -p "${prefix}/wheels" "${prefix}/root"
    # nvcc, its crt headers, cicc (nvvm), the runtime headers/library and the libraries candle links
    python3 -m pip download --no-deps --dest "${prefix}/wheels" \
        "nvidia-cuda-nvcc==${cuda}.*" "nvidia-cuda-crt==${cuda}.*" "nvidia-nvvm==${cuda}.*" \
        "nvidia-cuda-runtime==${cuda}.*" "nvidia-cuda-cccl==${cuda}.*" "nvidia-cuda-nvrtc==${cuda}.*" \
        "nvidia-cublas==${cuda}.*" "nvidia-curand"
    for w in "${prefix}"/wheels/*.whl; do
        python3 -m zipfile -e "$w" "${prefix}/root"
    done
    chmod +x "${root}"/bin/* "${root}"/nvvm/bin/*
fi

# Link-time names: the wheels ship only versioned sonames (libcublas.so.13, ...).
lib="${root}/lib"
for so in "${lib}"/lib{cudart,cublas,cublasLt,nvrtc}.so.* "${lib}"/libcurand.so.*; do
    [ -e "$so" ] || continue
    base="$(basename "$so")"
    ln -sf "$base" "${lib}/${base%%.so*}.so"
done

# The driver API (libcuda.so.1) comes with the NVIDIA driver, not with any wheel. Like the
# toolkit's lib/stubs/libcuda.so, a stub that defines the driver symbols lets the binaries link
# here; at run time the real driver library is loaded in its place.
if [ ! -e "${lib}/libcuda.so" ]; then
    stub="$(mktemp -d)"
    # the driver symbols cudarc declares, read from the version Cargo.lock pins
    (cd "$repo" && cargo fetch --locked >/dev/null)
    version="$(grep -A1 '^name = "cudarc"$' "${repo}/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')"
    cudarc="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "cudarc-${version}" | head -1)"
    grep -rhoE 'fn cu[A-Z][A-Za-z0-9_]*\(' "${cudarc}/src/driver/sys" | sed 's/^fn //; s/($//' | sort -u \
        | sed 's/.*/void &(void) {}/' > "${stub}/syms.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "${lib}/libcuda.so" "${stub}/syms.c"
    rm -rf "$stub"
fi

export CUDA_ROOT="$root" CUDA_PATH="$root" PATH="${root}/bin:${PATH}"
export CUDARC_CUDA_VERSION="${major}0${cuda#*.}0" CUDA_COMPUTE_CAP="$cap"
cd "$repo"
cargo build --release --locked --features cuda -p mire2e-cli --target-dir "$target"
echo "built: ${target}/release/mire2e{,-window,-fold,-mfe,-classify,-eval} (CUDA ${cuda}, sm_${cap})"
echo "run with --device cuda; the machine needs the NVIDIA driver and libcudart/libcublas/libcurand ${major}"
