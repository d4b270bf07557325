#!/usr/bin/env bash
# The README's speed table: every GGUF registry model at 1 and 2 threads, the native build
# (target-cpu=native) and a portable one (x86-64-v2, runtime dispatch) one after the other in
# each cell, each with llama.cpp's llama-bench beside it (--vs-llamacpp) in the same call.
#
# Usage: scripts/bench-builds.sh [REPEAT] > results.jsonl
#   Needs `cargo build --release`, `just bench-anchor`, and the portable build:
#   RUSTFLAGS="-C target-cpu=x86-64-v2" CARGO_TARGET_DIR=<dir> cargo build --release
#   with PORTABLE_BIN=<dir>/release/summarise. Prints one JSON object per run (with a
#   "build" key) and a Markdown table on stderr. Nothing else should hold the cores.
set -euo pipefail
REPEAT="${1:-3}"
NATIVE="${SUMMARISE_BIN:-target/release/summarise}"
PORTABLE="${PORTABLE_BIN:?set PORTABLE_BIN to the x86-64-v2 build of summarise}"
# shellcheck source=bench-models.sh
source "$(dirname "$0")/bench-models.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for t in 1 2; do
    for m in "${MODELS[@]}"; do
        for build in native portable; do
            bin="$NATIVE"
            [ "$build" = portable ] && bin="$PORTABLE"
            echo "bench-builds: $m, $t thread(s), $build" >&2
            "$bin" bench --offline -m "$m" -t "$t" -r "$REPEAT" --vs-llamacpp --format json \
                | python3 -c 'import json,sys; d=json.load(sys.stdin); d["build"]=sys.argv[1]; print(json.dumps(d))' "$build" \
                | tee -a "$out"
        done
    done
done
python3 - "$out" >&2 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\n| model | threads | build | pp512 tok/s | tg128 tok/s | tg floor share (ours / llama.cpp) | vs llama.cpp pp / tg / rss |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    ra, f = r["ratio"], r.get("decode_floor") or {}
    a = r["anchor"]
    share = f.get("share", 0)
    anchor_share = share / ra["decode"] if ra["decode"] else 0
    print(f'| {r["model"]} | {r["threads"]} | {r["build"]} | {r["prefill_tok_s"]:.1f} | {r["decode_tok_s"]:.1f} | {share:.0%} / {anchor_share:.0%} | {ra["prefill"]:.2f} / {ra["decode"]:.2f} / {ra["rss"]:.2f} |')
PY
