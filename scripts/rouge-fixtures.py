#!/usr/bin/env python3
"""Write tests/fixtures/rouge/expected.json: rouge-score 0.1.2's ROUGE-1/2/Lsum F1 (x100,
Porter stemming) for the reference/candidate pairs of tests/fixtures/rouge/cases.json, texts we
wrote. Sentences are split one per line by the evaluation protocol's rule before scoring.

Usage: python3 scripts/rouge-fixtures.py   (runs in the evaluation venv of scripts/evalvenv.py,
${XDG_CACHE_HOME:-~/.cache}/summarise/eval-venv, installing rouge-score 0.1.2 when missing)
"""
import json
import re
from pathlib import Path

import evalvenv

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests/fixtures/rouge/cases.json"
OUT = ROOT / "tests/fixtures/rouge/expected.json"

# The protocol: split after . ! ? followed by whitespace and an upper-case letter, digit or quote.
SPLIT = re.compile(r'(?<=[.!?])["\')]*\s+(?=[A-Z0-9"\'])')


def one_per_line(text):
    return "\n".join(s.strip() for s in SPLIT.split(text) if s.strip())


def main():
    evalvenv.run_inside("rouge-score", "0.1.2")
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    out = []
    for case in json.loads(CASES.read_text()):
        s = scorer.score(one_per_line(case["reference"]), one_per_line(case["candidate"]))
        out.append(dict(case, **{k: round(v.fmeasure * 100, 6) for k, v in s.items()}))
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
