#!/usr/bin/env python3
"""Write the llama.cpp reference token ids for tests/tokenizer_parity.rs.

Usage:
    scripts/tokenizer-fixtures.py MODELS_DIR [MODEL_ID ...]

MODELS_DIR holds the GGUF files named in MODELS below (the same files the parity test
finds through tests/common). With no MODEL_ID, every model whose file is present is done.

For each model, every string of tests/fixtures/tokenizer/strings.json is tokenized by
llama.cpp's `llama-tokenize` (built by scripts/llamacpp.sh, which this script runs; set
LLAMA_TOKENIZE to use another binary) twice: with special-token parsing on (its default)
and off (--no-parse-special). BOS is added when the model's metadata asks for it, as
llama-tokenize does by default. The ids go to tests/fixtures/tokenizer/<model-id>.json.

Needs only the Python standard library.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "tokenizer"
LLAMA_CPP_COMMIT = "0c1e57098"

# model id -> GGUF file name (keep in sync with tests/tokenizer_parity.rs)
MODELS = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma-3-270m": "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
}


def llama_tokenize_binary() -> str:
    explicit = os.environ.get("LLAMA_TOKENIZE")
    if explicit:
        return explicit
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "llamacpp.sh"), "llama-tokenize"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    bin_dir = out.stdout.strip().splitlines()[-1]
    return str(Path(bin_dir) / "llama-tokenize")


def tokenize(binary: str, model: Path, text: str, parse_special: bool) -> list:
    args = [binary, "-m", str(model), "--stdin", "--ids", "--log-disable", "--no-escape"]
    if not parse_special:
        args.append("--no-parse-special")
    out = subprocess.run(
        args, input=text.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    if out.returncode != 0:
        sys.exit(
            f"llama-tokenize failed ({out.returncode}) on {model.name}:\n"
            + out.stderr.decode("utf-8", "replace")[-2000:]
        )
    ids = json.loads(out.stdout.decode("utf-8").strip())
    assert isinstance(ids, list) and all(isinstance(i, int) for i in ids), out.stdout
    return ids


def render(fixture: dict) -> str:
    """JSON with one line per id list, so that diffs stay readable."""
    dump = lambda v: json.dumps(v, ensure_ascii=False)
    lines = ["{"]
    for key in ("model", "file", "reference"):
        lines.append(f" {dump(key)}: {dump(fixture[key])},")
    lines.append(' "cases": [')
    for i, case in enumerate(fixture["cases"]):
        fields = [f"  {dump(k)}: {dump(v)}" for k, v in case.items()]
        end = "," if i + 1 < len(fixture["cases"]) else ""
        lines.append(" {\n" + ",\n".join(fields) + "\n }" + end)
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    models_dir = Path(sys.argv[1])
    wanted = sys.argv[2:] or list(MODELS)
    unknown = [m for m in wanted if m not in MODELS]
    if unknown:
        sys.exit(f"unknown model id(s): {', '.join(unknown)}; known: {', '.join(MODELS)}")
    strings = json.loads((FIXTURES / "strings.json").read_text(encoding="utf-8"))
    binary = llama_tokenize_binary()
    for model_id in wanted:
        path = models_dir / MODELS[model_id]
        if not path.is_file():
            print(f"skip {model_id}: no {path}", file=sys.stderr)
            continue
        cases = []
        for case in strings:
            text = case["text"]
            cases.append(
                {
                    "id": case["id"],
                    "text": text,
                    "parse_special": tokenize(binary, path, text, True),
                    "no_parse_special": tokenize(binary, path, text, False),
                }
            )
        fixture = {
            "model": model_id,
            "file": MODELS[model_id],
            "reference": f"llama.cpp {LLAMA_CPP_COMMIT} llama-tokenize --stdin --ids --no-escape "
            "(BOS per model metadata; cases with and without --no-parse-special)",
            "cases": cases,
        }
        target = FIXTURES / f"{model_id}.json"
        target.write_text(render(fixture), encoding="utf-8")
        print(f"wrote {target.relative_to(REPO)} ({len(cases)} strings)")


if __name__ == "__main__":
    main()
