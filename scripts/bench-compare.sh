#!/usr/bin/env bash
# Measure every GGUF registry model with `summarise bench` in one session: our engine with
# llama.cpp's llama-bench beside it (--vs-llamacpp), then candle-transformers' modules (the
# reference the issue compares against), one after the other on the same machine.
#
# Usage: scripts/bench-compare.sh [THREADS] [REPEAT] > results.jsonl
#   Needs `cargo build --release` and `just bench-anchor`. Prints one JSON object per run and a
#   Markdown table on stderr. Run it on a quiet machine: nothing else should hold the cores.
set -euo pipefail
THREADS="${1:-2}"
REPEAT="${2:-3}"
BIN="${SUMMARISE_BIN:-target/release/summarise}"
# shellcheck source=bench-models.sh
source "$(dirname "$0")/bench-models.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for m in "${MODELS[@]}"; do
    echo "bench-compare: $m native + llama.cpp" >&2
    "$BIN" bench --offline -m "$m" -t "$THREADS" -r "$REPEAT" --vs-llamacpp --format json \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); d["engine"]="native"; print(json.dumps(d))' | tee -a "$out"
    echo "bench-compare: $m candle" >&2
    if json="$("$BIN" bench --offline -m "$m" -t "$THREADS" -r "$REPEAT" --engine candle --format json 2>/dev/null)"; then
        echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["engine"]="candle"; print(json.dumps(d))' | tee -a "$out"
    else
        echo "bench-compare: candle's modules cannot run $m" >&2
    fi
done
python3 - "$out" >&2 <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("\n| model | engine | load s | pp512 tok/s | tg128 tok/s | tg floor tok/s (share) | peak RSS MiB | vs llama.cpp (pp / tg / rss) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    ratio = r.get("ratio")
    vs = f'{ratio["prefill"]:.2f} / {ratio["decode"]:.2f} / {ratio["rss"]:.2f}' if ratio else ""
    f = r.get("decode_floor")
    ceiling = f["ceiling_tok_s"] if f else 0
    floor = f'{ceiling:.0f} ({f["share"]:.0%})' if f else ""
    print(f'| {r["model"]} | {r["engine"]} | {r["load_s"]:.2f} | {r["prefill_tok_s"]:.1f} | {r["decode_tok_s"]:.1f} | {floor} | {r["peak_rss_mib"]:.0f} | {vs} |')
    a = r.get("anchor")
    if a:
        share = f'({a["decode_tok_s"] / ceiling:.0%})' if ceiling else ""
        print(f'| {r["model"]} | llama.cpp {a["commit"]} | | {a["prefill_tok_s"]:.1f} | {a["decode_tok_s"]:.1f} | {share} | {a["peak_rss_mib"]:.0f} | |')
PY
