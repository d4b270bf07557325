#!/usr/bin/env bash
# Build (or only check) `summarise --features cuda` with a CUDA toolkit taken from NVIDIA's
# packages on PyPI, so no system CUDA install is needed. The binary is built here and run on
# a GPU machine, where it links that machine's CUDA libraries.
#
#   bash scripts/build-cuda.sh check   # `cargo check --features cuda`: needs nvcc only (~100 MB)
#   bash scripts/build-cuda.sh build   # release binary (also fetches cuBLAS, cuRAND, NVRTC: ~570 MB)
#   just build-cuda                    # the same as `build`
#
# What it does:
# - pip-installs pinned CUDA 13.0 packages (`--target`, never system-wide) into
#   $XDG_CACHE_HOME/summarise/cuda-13.0 (default ~/.cache/summarise/cuda-13.0). 13.0 because the
#   GPU machine's driver is 580 (CUDA 13.0): PTX from a newer nvcc does not load on an older
#   driver, and the shared libraries' major version (libcublas.so.13, ...) must match the ones
#   there. Change CUDA_PINS below for another machine.
# - candle-kernels' build script compiles its .cu files with that nvcc for CUDA_COMPUTE_CAP
#   (default 90: H100/H200); cudarc's reads the CUDA version from `nvcc --version`.
# - Linking needs libcuda.so, the driver, which no PyPI package ships (NVIDIA's toolkit has it
#   as lib/stubs/libcuda.so, the wheels do not). So this script makes a stub: a shared library
#   named libcuda.so.1 (the driver's soname) exporting every `cu*` function cudarc declares,
#   each returning CUDA_ERROR_STUB_LIBRARY (34). The binary records only "needs libcuda.so.1";
#   on the GPU machine the real driver answers. The stub never leaves this machine.
# - Builds with RUSTFLAGS="-C target-cpu=x86-64-v3" (any AVX2+FMA x86-64): the GPU machine's
#   CPU is unknown, and the CPU engine still runs there (parity's reference).
# - Target folder: $XDG_CACHE_HOME/summarise/cuda-target (kept apart from ./target, since
#   other RUSTFLAGS rebuild everything).
# Prints the binary's path on the last line of `build`.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-build}"
case "$mode" in check | build) ;; *)
    echo "usage: $0 check|build" >&2
    exit 2
    ;;
esac

cache="${XDG_CACHE_HOME:-$HOME/.cache}/summarise"
root="$cache/cuda-13.0"
# Toolkit for compiling kernels (nvcc, its front end and headers, the runtime, CCCL).
TOOLKIT_PINS="nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85"
# Libraries linked against (CUDA 13.0 releases of each).
LIB_PINS="nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35 nvidia-cuda-nvrtc==13.0.88"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

# pip-install the pinned packages $2 into folder $1 once (a stamp records the pins).
install_pins() {
    local dir="$1" pins="$2"
    if [[ -f "$dir/.pins" && "$(cat "$dir/.pins")" == "$pins" ]]; then
        return
    fi
    rm -rf "$dir"
    mkdir -p "$root/wheels"
    # shellcheck disable=SC2086
    PIP_ROOT_USER_ACTION=ignore nice -n 19 python3 -m pip download -q --no-deps --only-binary=:all: -d "$root/wheels" $pins
    local wheels=()
    for pin in $pins; do
        local name="${pin%%==*}" version="${pin##*==}"
        wheels+=("$(ls "$root/wheels/${name//-/_}-${version}-"*.whl)")
    done
    PIP_ROOT_USER_ACTION=ignore nice -n 19 python3 -m pip install -q --no-deps --no-index --no-compile --target "$dir" "${wheels[@]}"
    echo "$pins" >"$dir/.pins"
}

install_pins "$root/toolkit" "$TOOLKIT_PINS"
cuda="$root/toolkit/nvidia/cu13"
export CUDA_HOME="$cuda" NVCC="$cuda/bin/nvcc" PATH="$cuda/bin:$PATH"
if ! "$NVCC" --version | grep -q "release 13.0"; then
    echo "error: $NVCC is not CUDA 13.0; delete $root and run again" >&2
    exit 1
fi
# The runtime wheel ships libcudart.so.13 only; the linker looks for libcudart.so.
ln -sf libcudart.so.13 "$cuda/lib/libcudart.so"

if [[ "$mode" == build ]]; then
    install_pins "$root/libs" "$LIB_PINS"
    libs="$root/libs/nvidia/cu13/lib"
    for l in cublas cublasLt curand nvrtc; do
        so=$(cd "$libs" && ls "lib$l.so."* | grep -v alt | head -1)
        ln -sf "$libs/$so" "$cuda/lib/lib$l.so"
    done
    # The driver stub (see the header): one function per `cu*` symbol cudarc can call.
    stubs="$cuda/lib/stubs"
    cudarc=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10 2>/dev/null | head -1)
    if [[ -z "$cudarc" ]]; then
        cargo fetch -q
        cudarc=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.10 | head -1)
    fi
    mkdir -p "$stubs"
    grep -ho '^pub unsafe fn cu[A-Za-z0-9_]*' "$cudarc/src/driver/sys/mod.rs" | awk '{print $4}' | sort -u |
        awk '{print "int " $1 "(void) { return 34; /* CUDA_ERROR_STUB_LIBRARY */ }"}' >"$stubs/libcuda-stub.c"
    cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$stubs/libcuda-stub.c"
    ln -sf libcuda.so "$stubs/libcuda.so.1"
fi

export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"
export RUSTFLAGS="-C target-cpu=x86-64-v3"
target="$cache/cuda-target"
nice -n 19 cargo "$mode" --release --features cuda --target-dir "$target"
if [[ "$mode" == build ]]; then
    echo "$target/release/summarise"
fi
