# Recipes for summarise. `just --list` shows them. Everything here is plain cargo underneath.

# Build the release binary (tuned for this CPU, see .cargo/config.toml).
build:
    cargo build --release

# Summarise an article with the default model (fetched on first use).
run FILE="examples/articles/ferry-strike.txt" *ARGS="":
    cargo run --release -- {{FILE}} {{ARGS}}

# The test suite, exactly as CI runs it (the README's test command).
test:
    cargo test --release

# Format check and clippy with warnings as errors.
lint:
    cargo fmt --check
    cargo clippy --release --all-targets -- -D warnings

# Criterion benchmarks (sampling; prefill of 512 tokens and one decode step per engine).
bench:
    cargo bench

# Build llama.cpp's llama-bench into the cache once: the anchor of `summarise bench --vs-llamacpp`.
bench-anchor:
    bash scripts/llamacpp.sh llama-bench

# Every way of summarising the example articles (extractive, hybrid, abstractive with and without
# drafts, four decoding together), beside llama.cpp's completion and n-gram speculation on the
# same prompts; builds llama.cpp's tools into the cache once.
bench-summarise REPEAT="3": build
    bash scripts/llamacpp.sh llama-completion llama-speculative-simple
    target/release/summarise bench --task summarise -r {{REPEAT}} --vs-llamacpp examples/articles/*.txt

# Every GGUF registry model through `summarise bench`: ours beside llama.cpp, then candle's modules.
bench-compare THREADS="2" REPEAT="3": build bench-anchor
    bash scripts/bench-compare.sh {{THREADS}} {{REPEAT}}

# Summary quality and speed of candidate models on the CNN/DailyMail sample (needs ../shared/eval;
# pull the models first).
eval LIMIT="20" MODELS="qwen2.5-coder-1.5b-instruct qwen2.5-coder-0.5b-instruct":
    python3 scripts/eval-models.py --limit {{LIMIT}} {{MODELS}}

# List models, or run a models subcommand: `just models pull smollm2-135m-instruct`.
models *ARGS="list":
    cargo run --release -- models {{ARGS}}

# Build llama.cpp (the reference engine) into the cache.
llamacpp *TARGETS="llama-tokenize":
    bash scripts/llamacpp.sh {{TARGETS}}

# Regenerate the llama.cpp tokenizer fixtures from the cached models (pulls them if missing).
tokenizer-fixtures:
    #!/usr/bin/env bash
    set -euo pipefail
    dir=$(mktemp -d)
    for id in qwen2.5-coder-1.5b-instruct qwen2.5-coder-0.5b-instruct smollm2-135m-instruct gemma-3-270m; do
        cargo run -q --release -- models pull "$id" >/dev/null
        ln -s "$(cargo run -q --release -- models path "$id")" "$dir/"
    done
    python3 scripts/tokenizer-fixtures.py "$dir"

# Regenerate the llama.cpp reference logits for the inference parity fixtures from the cached
# models (pulls them if missing; builds llama.cpp's libraries if missing).
parity-fixtures *MODELS="smollm2-135m-instruct qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct gemma-3-270m":
    #!/usr/bin/env bash
    set -euo pipefail
    for id in {{MODELS}}; do
        cargo run -q --release -- models pull "$id" >/dev/null
    done
    bash scripts/parity-fixtures.sh {{MODELS}}

# Build the CUDA binary (`--features cuda`) with a CUDA 13.0 toolkit pip-installed into the
# cache (scripts/build-cuda.sh says why 13.0, and how it links with no driver here).
build-cuda:
    bash scripts/build-cuda.sh build

# `cargo check --features cuda` with the same toolkit (nvcc only, no libraries).
check-cuda:
    bash scripts/build-cuda.sh check

# Fill .gpu/ (stripped CUDA binary, model headers) for `bash scripts/gpu-check.sh` on a GPU machine.
gpu-prepare:
    bash scripts/gpu-prepare.sh
