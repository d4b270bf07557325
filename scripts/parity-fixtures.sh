#!/usr/bin/env bash
# Write llama.cpp reference logits for the inference parity fixtures, from the cached models.
#
# Usage:
#   scripts/parity-fixtures.sh [MODEL_ID...]
#   (default: smollm2-135m-instruct qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct
#    gemma-3-270m)
#
# For each model, scripts/llamacpp-logits.cpp (linked against llama.cpp 0c1e57098) evaluates
# tests/fixtures/parity/text.txt teacher-forced with 2 threads (top-K ids and logits,
# log-sum-exp and the next token's logit at every position) and greedily continues each prompt
# of tests/fixtures/parity/prompts.json for 64 tokens with 1 thread. It then runs again with
# an f32 KV cache and flash attention off (--kv-f32 --no-flash-attn), a change that should be
# numerically neutral, and adds how far the two runs differ to the first run's output as
# "noise_floor": llama.cpp's own noise, which any other engine is judged against. The result
# goes to tests/fixtures/parity/<model-id>.json, one line of compact JSON; the schema is in
# tests/fixtures/parity/README.md.
#
# Models are read from the summarise cache: $SUMMARISE_HOME/models/<id>/, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/summarise/models/<id>/ (pull them first, e.g.
# `just models pull gemma-3-270m`). The static llama.cpp libraries come from the build tree
# of scripts/llamacpp.sh, which is run when they are missing; the tool is compiled into that
# tree's bin/ dir (again whenever its source is newer). Once llama.cpp is built, no network is
# needed.
#
# Environment: PARITY_TOP_K (default 32), LLAMACPP_JOBS (build parallelism, default 2),
# CXX (default c++).
set -euo pipefail

COMMIT=0c1e57098
THREADS=2
GREEDY_THREADS=1
N_GEN=64
TOP_K="${PARITY_TOP_K:-32}"
MAX_BYTES=1000000
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURES="$REPO/tests/fixtures/parity"
SOURCE="$REPO/scripts/llamacpp-logits.cpp"
# Same place as scripts/llamacpp.sh.
ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/summarise/llama.cpp-$COMMIT"
SRC="$ROOT/src"
BUILD="$ROOT/build"
TOOL="$BUILD/bin/llamacpp-logits"
if [ -n "${SUMMARISE_HOME:-}" ]; then
    MODELS="$SUMMARISE_HOME/models"
else
    MODELS="${XDG_CACHE_HOME:-$HOME/.cache}/summarise/models"
fi
CXX="${CXX:-c++}"

log() { echo "parity-fixtures.sh: $*" >&2; }

# model id -> GGUF file name (as in scripts/tokenizer-fixtures.py)
model_file() {
    case "$1" in
        smollm2-135m-instruct) echo "SmolLM2-135M-Instruct.Q4_1.gguf" ;;
        qwen2.5-coder-0.5b-instruct) echo "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" ;;
        qwen2.5-coder-1.5b-instruct) echo "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" ;;
        gemma-3-270m) echo "gemma-3-270m-q4_k_m.gguf" ;;
        *) return 1 ;;
    esac
}

if [ "$#" -eq 0 ]; then
    set -- smollm2-135m-instruct qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct gemma-3-270m
fi
case "$1" in -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

# Every model present before any work.
ids=("$@")
paths=()
for id in "${ids[@]}"; do
    file="$(model_file "$id")" || { log "unknown model id $id"; exit 1; }
    path="$MODELS/$id/$file"
    [ -f "$path" ] || { log "no $path; pull it first: just models pull $id"; exit 1; }
    paths+=("$path")
done

# The static libraries (built with llama-tokenize by scripts/llamacpp.sh, or on their own).
LIBS=("$BUILD/src/libllama.a" "$BUILD/ggml/src/libggml.a" "$BUILD/ggml/src/libggml-cpu.a" "$BUILD/ggml/src/libggml-base.a")
libs_present() {
    local lib
    for lib in "${LIBS[@]}"; do [ -f "$lib" ] || return 1; done
}
if ! libs_present; then
    log "llama.cpp libraries missing; building them with scripts/llamacpp.sh"
    bash "$REPO/scripts/llamacpp.sh" >/dev/null
    if ! libs_present; then
        cmake --build "$BUILD" --config Release -j "${LLAMACPP_JOBS:-2}" --target llama >&2
    fi
    libs_present || { log "libraries still missing under $BUILD"; exit 1; }
fi

# The tool.
if [ ! -x "$TOOL" ] || [ "$SOURCE" -nt "$TOOL" ] || [ "$BUILD/src/libllama.a" -nt "$TOOL" ]; then
    log "compiling $TOOL"
    openmp=()
    if grep -q '^GGML_OPENMP_ENABLED:INTERNAL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
        openmp=(-fopenmp)
    fi
    mkdir -p "$BUILD/bin"
    "$CXX" -O2 -std=c++17 -I"$SRC/include" -I"$SRC/ggml/include" -I"$SRC/vendor" \
        "$SOURCE" -o "$TOOL.tmp" "${LIBS[@]}" "${openmp[@]}" -lpthread -ldl -lm
    mv "$TOOL.tmp" "$TOOL"
fi

# Adds "noise_floor" (variant run $2 against default run $1) to $1's JSON and writes it to $3.
# $1's own bytes are kept as they are (re-serializing would respell some floats).
noise_floor() {
    python3 - "$@" <<'PY'
import json, math, sys

raw = open(sys.argv[1], encoding="utf-8").read().rstrip()
a, b = json.loads(raw), json.load(open(sys.argv[2], encoding="utf-8"))
ta, tb = a["teacher_forced"], b["teacher_forced"]
assert ta["tokens"] == tb["tokens"]
n = len(ta["tokens"])
agree, sq, kl = 0, [], 0.0
for i in range(n):
    ids, la, lse_a = ta["top_ids"][i], ta["top_logits"][i], ta["lse"][i]
    lb, lse_b = dict(zip(tb["top_ids"][i], tb["top_logits"][i])), tb["lse"][i]
    agree += ids[0] == tb["top_ids"][i][0]
    sq += [((x - lse_a) - (lb[t] - lse_b)) ** 2 for t, x in zip(ids[:8], la) if t in lb]
    # KL(default || variant) over the default's top ids plus the rest; an id missing from the
    # variant's top list gets the variant's last listed logit (an upper bound).
    p = [math.exp(x - lse_a) for x in la]
    q = [math.exp(lb.get(t, tb["top_logits"][i][-1]) - lse_b) for t in ids]
    kl += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    p_tail, q_tail = 1 - sum(p), max(1 - sum(q), 1e-12)
    if p_tail > 0:
        kl += p_tail * math.log(p_tail / q_tail)
greedy = []
for ga, gb in zip(a["greedy"], b["greedy"]):
    same = next((k for k, (x, y) in enumerate(zip(ga["generated"], gb["generated"])) if x != y), len(ga["generated"]))
    gap = ga["gap"][same] if same < len(ga["gap"]) else None
    greedy.append({"id": ga["id"], "identical": same, "gap_at_divergence": gap})
floor = {
    "variant": "llama.cpp with an f32 KV cache and flash attention off, against the default run",
    "context": b["context"],
    "top1_agreement": round(agree / n, 5),
    "rms_logprob_diff": round(math.sqrt(sum(sq) / len(sq)), 5),
    "mean_kl": round(kl / n, 6),
    "greedy": greedy,
}
assert raw.endswith("}")
with open(sys.argv[3], "w", encoding="utf-8") as f:
    f.write(raw[:-1] + ',"noise_floor":' + json.dumps(floor, separators=(",", ":"), ensure_ascii=False) + "}\n")
PY
}

for i in "${!ids[@]}"; do
    id="${ids[$i]}"
    out="$FIXTURES/$id.json"
    log "$id"
    start=$SECONDS
    for run in default variant; do
        flags=()
        [ "$run" = variant ] && flags=(--kv-f32 --no-flash-attn)
        "$TOOL" --model "${paths[$i]}" --text "$FIXTURES/text.txt" --prompts "$FIXTURES/prompts.json" \
            --threads "$THREADS" --greedy-threads "$GREEDY_THREADS" --top-k "$TOP_K" --n-gen "$N_GEN" \
            "${flags[@]}" >"$out.$run.tmp"
    done
    noise_floor "$out.default.tmp" "$out.variant.tmp" "$out.tmp"
    rm -f "$out.default.tmp" "$out.variant.tmp"
    mv "$out.tmp" "$out"
    bytes=$(wc -c <"$out")
    log "wrote ${out#"$REPO"/} ($bytes bytes, $((SECONDS - start)) s)"
    if [ "$bytes" -ge "$MAX_BYTES" ]; then
        log "$id.json is over $MAX_BYTES bytes; rerun with a smaller PARITY_TOP_K"
        exit 1
    fi
done
