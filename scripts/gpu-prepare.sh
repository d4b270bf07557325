#!/usr/bin/env bash
# Prepare .gpu/, the folder that scripts/gpu-check.sh needs on the GPU machine: builds the CUDA
# binary (scripts/build-cuda.sh), strips it and packs it as .gpu/summarise.xz (65 MB of it is
# GPU code, 9 MB packed), and cuts the GGUF headers of
# the two checked models into .gpu/headers/ (models are pulled first if not cached). Checks
# that the folder stays under 60 MiB (the device tool carries 64 MiB with the work tree).
#
#   bash scripts/gpu-prepare.sh        # or: just gpu-prepare
#   GPU_MODELS="smollm2-135m-instruct qwen2.5-coder-1.5b-instruct" bash scripts/gpu-prepare.sh
#
# The binary is run here against the stub driver the build made (it finds no GPU here, which
# proves only that it links and starts): those runs also cut the headers.
set -euo pipefail
cd "$(dirname "$0")/.."

models="${GPU_MODELS:-qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/summarise"
cuda="$cache/cuda-13.0/toolkit/nvidia/cu13"
libs="$cache/cuda-13.0/libs/nvidia/cu13/lib"

built=$(bash scripts/build-cuda.sh build | tail -1)
rm -rf .gpu
mkdir -p .gpu/headers
bin="$(mktemp -d)/summarise"
trap 'rm -rf "$(dirname "$bin")"' EXIT
cp "$built" "$bin"
strip "$bin"

export LD_LIBRARY_PATH="$cuda/lib:$cuda/lib/stubs:$libs"
"$bin" --version
if ! ("$bin" bench --device cuda 2>&1 || true) | grep -q "no usable CUDA GPU"; then
    echo "error: $bin did not refuse --device cuda on the stub driver as expected" >&2
    exit 1
fi
for id in $models; do
    "$bin" models pull "$id" >/dev/null
    "$bin" models header "$id" --out ".gpu/headers/$id.header"
done

# What the binary needs of the GPU machine: shared libraries and the newest glibc symbols.
{
    echo "built: $(date -u +%Y-%m-%dT%H:%MZ) from $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
    echo "needs: $(readelf -d "$bin" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); printf "%s ", $5}')"
    echo "glibc: $(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    echo "libstdc++: $(objdump -T "$bin" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)"
} | tee .gpu/BUILD.txt
nice -n 19 xz -T1 -6 -c "$bin" >.gpu/summarise.xz

size=$(du -cb .gpu | tail -1 | cut -f1)
ls -l .gpu .gpu/headers
echo ".gpu: $((size / 1024 / 1024)) MiB"
if ((size > 60 * 1024 * 1024)); then
    echo "error: .gpu is over 60 MiB; the device tool carries 64 MiB in all" >&2
    exit 1
fi
