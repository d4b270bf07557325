#!/usr/bin/env bash
# Build llama.cpp, the reference engine, into a per-user cache outside the repository, once.
#
# Usage:
#   scripts/llamacpp.sh [TARGET...]        # default target: llama-tokenize
#   scripts/llamacpp.sh llama-tokenize llama-bench llama-completion
#   scripts/llamacpp.sh llama-completion llama-speculative-simple   # bench --task summarise
#
# llama.cpp is taken from the llama-cpp-python source distribution (pinned below), whose
# vendor/llama.cpp is llama.cpp commit 0c1e57098. The sdist is fetched with `pip download`
# unless it is already in the cache, or LLAMACPP_SDIST names a local copy of that file.
#
# Everything goes to ${XDG_CACHE_HOME:-$HOME/.cache}/summarise/llama.cpp-0c1e57098/:
#   src/    the unpacked llama.cpp source
#   build/  the CMake build tree; the binaries are in build/bin/
# A second run with targets already built does nothing. The last line printed is the bin dir.
#
# Instruction sets: on x86-64 the build never uses GGML_NATIVE, which turns on everything the
# CPU reports, AMX included; some virtual machines report AMX but fault on its instructions
# (SIGILL in ggml's `tileloadd`). Instead each set the CPU reports (/proc/cpuinfo flags, or
# LLAMACPP_CPUFLAGS) is enabled by name, AMX never. The choice is written to
# build/summarise-isa.txt, which `summarise bench --vs-llamacpp` reports as `anchor.build`; a
# later run on a CPU with other sets reconfigures the build.
#   scripts/llamacpp.sh --print-isa        # print the CMake flags it would use, build nothing
#
# Needs a C/C++ compiler; cmake is installed with pip (or apt-get) when it is missing.
set -euo pipefail

PY_VERSION=0.3.36
COMMIT=0c1e57098
SDIST_NAME="llama_cpp_python-${PY_VERSION}.tar.gz"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/summarise"
ROOT="$CACHE/llama.cpp-$COMMIT"
SRC="$ROOT/src"
BUILD="$ROOT/build"
BIN="$BUILD/bin"
JOBS="${LLAMACPP_JOBS:-2}"

log() { echo "llamacpp.sh: $*" >&2; }

# The CMake instruction-set flags for this CPU, one `-DNAME=ON|OFF` a line, then a `# ` line
# naming the reported sets left off. ggml's AVX-512 code needs F, CD, VL, DQ and BW together.
isa_flags() {
    local arch flags
    arch="${LLAMACPP_ARCH:-$(uname -m)}"
    if [ "$arch" != "x86_64" ]; then
        echo "-DGGML_NATIVE=ON"
        echo "# $arch: ggml's native build (no AMX there)"
        return
    fi
    flags=" $(echo "${LLAMACPP_CPUFLAGS:-$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)}" | tr -s ' \t' '  ') "
    has() { local f; for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
    onoff() { if has "${@:2}"; then echo "-D$1=ON"; else echo "-D$1=OFF"; fi; }
    echo "-DGGML_NATIVE=OFF"
    onoff GGML_SSE42 sse4_2
    onoff GGML_AVX avx
    onoff GGML_AVX2 avx2
    onoff GGML_FMA fma
    onoff GGML_F16C f16c
    onoff GGML_BMI2 bmi2
    onoff GGML_AVX_VNNI avx_vnni
    onoff GGML_AVX512 avx512f avx512cd avx512vl avx512dq avx512bw
    if has avx512f avx512cd avx512vl avx512dq avx512bw; then
        onoff GGML_AVX512_VBMI avx512vbmi
        onoff GGML_AVX512_VNNI avx512_vnni
        onoff GGML_AVX512_BF16 avx512_bf16
    else
        echo "-DGGML_AVX512_VBMI=OFF"
        echo "-DGGML_AVX512_VNNI=OFF"
        echo "-DGGML_AVX512_BF16=OFF"
    fi
    echo "-DGGML_AMX_TILE=OFF"
    echo "-DGGML_AMX_INT8=OFF"
    echo "-DGGML_AMX_BF16=OFF"
    if has amx_tile; then
        echo "# amx reported, not enabled (it faults on some virtual machines)"
    fi
}

if [ "${1:-}" = "--print-isa" ]; then
    isa_flags
    exit 0
fi

if [ "$#" -eq 0 ]; then
    set -- llama-tokenize
fi

ISA="$(isa_flags)"
ISA_FILE="$BUILD/summarise-isa.txt"

# Built for another CPU's instruction sets (or by an older script)? Reconfigure and rebuild.
if [ -f "$BUILD/CMakeCache.txt" ] && [ "$(cat "$ISA_FILE" 2>/dev/null)" != "$ISA" ]; then
    log "the build in $BUILD was made for other instruction sets; reconfiguring"
    rm -f "$BUILD/CMakeCache.txt" "$ISA_FILE"
    rm -rf "$BIN"
fi

# Already built?
missing=()
for t in "$@"; do
    [ -x "$BIN/$t" ] || missing+=("$t")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "$BIN"
    exit 0
fi

# cmake: use the one on PATH, else install it.
if ! command -v cmake >/dev/null 2>&1; then
    log "cmake not found; installing it with pip"
    if python3 -m pip install --quiet cmake >&2; then
        cmake_dir="$(python3 -c 'import cmake, os; print(cmake.CMAKE_BIN_DIR)')"
        export PATH="$cmake_dir:$PATH"
    elif command -v apt-get >/dev/null 2>&1; then
        log "pip failed; trying apt-get"
        apt-get update >&2 && apt-get install -y cmake >&2
    fi
    command -v cmake >/dev/null 2>&1 || { log "could not install cmake; install it and rerun"; exit 1; }
fi

# Source.
if [ ! -f "$SRC/CMakeLists.txt" ]; then
    mkdir -p "$CACHE/downloads"
    sdist="$CACHE/downloads/$SDIST_NAME"
    if [ ! -f "$sdist" ]; then
        if [ -n "${LLAMACPP_SDIST:-}" ] && [ -f "$LLAMACPP_SDIST" ]; then
            log "using sdist $LLAMACPP_SDIST"
            cp "$LLAMACPP_SDIST" "$sdist"
        else
            log "downloading llama-cpp-python==$PY_VERSION sdist with pip"
            python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
                --dest "$CACHE/downloads" "llama-cpp-python==$PY_VERSION" >&2
        fi
    fi
    [ -f "$sdist" ] || { log "no $SDIST_NAME in $CACHE/downloads after download"; exit 1; }
    tmp="$(mktemp -d "$CACHE/unpack.XXXXXX")"
    tar -xzf "$sdist" -C "$tmp" "llama_cpp_python-$PY_VERSION/vendor/llama.cpp"
    mkdir -p "$ROOT"
    rm -rf "$SRC"
    mv "$tmp/llama_cpp_python-$PY_VERSION/vendor/llama.cpp" "$SRC"
    rm -rf "$tmp"
fi

# Configure (once; again for a tree configured without the examples, where
# llama-speculative-simple lives) and build the missing targets.
if [ ! -f "$BUILD/CMakeCache.txt" ] || grep -q '^LLAMA_BUILD_EXAMPLES:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
    log "configuring in $BUILD with: $(echo "$ISA" | grep -v '^#' | tr '\n' ' ')"
    # shellcheck disable=SC2046 # one flag a line, none with spaces
    cmake -S "$SRC" -B "$BUILD" \
        -DCMAKE_BUILD_TYPE=Release \
        $(echo "$ISA" | grep -v '^#') \
        -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_SERVER=OFF \
        -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=ON \
        -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_USE_PREBUILT_UI=OFF >&2
    echo "$ISA" > "$ISA_FILE"
fi
log "building ${missing[*]} with -j$JOBS (this takes a while)"
cmake --build "$BUILD" --config Release -j "$JOBS" --target "${missing[@]}" >&2

for t in "$@"; do
    [ -x "$BIN/$t" ] || { log "build finished but $BIN/$t is missing"; exit 1; }
done
echo "$BIN"
