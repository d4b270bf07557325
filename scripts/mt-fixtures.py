#!/usr/bin/env python3
"""Write tests/fixtures/mt/expected.json: sacrebleu's corpus chrF2 and BLEU (x100, default
settings) for subsets of the hypothesis/reference pairs of tests/fixtures/mt/pairs.json, sentences
we wrote. tests/eval_mt.rs checks src/text/mt_metrics.rs against these numbers.

Usage: python3 scripts/mt-fixtures.py

It runs itself again inside the evaluation venv, ${XDG_CACHE_HOME:-~/.cache}/summarise/eval-venv
(shared with scripts/eval-models.py and scripts/rouge-fixtures.py), creating the venv and
installing sacrebleu==2.4.3 with pip when either is missing. Paths are relative to this script,
so it runs from any working directory.

Settings are sacrebleu's defaults for `corpus_chrf` (char order 6, word order 0, beta 2,
whitespace removed, effective-order averaging) and `corpus_bleu` (13a tokenizer, exp smoothing,
case-sensitive, no effective order), one reference per hypothesis. Every subset lists the indices
of its pairs, so the Rust test does not repeat the selection rules; `pairs` holds each pair scored
alone as a one-line corpus.
"""
import json
from pathlib import Path

import evalvenv

SACREBLEU = "2.4.3"
ROOT = Path(__file__).resolve().parent.parent
PAIRS = ROOT / "tests/fixtures/mt/pairs.json"
OUT = ROOT / "tests/fixtures/mt/expected.json"

def subsets(pairs):
    """(name, description, indices) for every corpus scored besides the single pairs."""

    def having(*tags):
        return [i for i, p in enumerate(pairs) if set(tags) & set(p["tags"])]

    return [
        ("all", "every pair", list(range(len(pairs)))),
        ("en", "English pairs", [i for i, p in enumerate(pairs) if p["lang"] == "en"]),
        ("es", "Spanish pairs", [i for i, p in enumerate(pairs) if p["lang"] == "es"]),
        ("empty_hyp", "the empty hypothesis among exact and very short pairs",
         having("empty", "exact", "short")),
        ("empty_only", "only the empty hypothesis", having("empty")),
        ("punct_numbers", "punctuation-heavy and number-heavy pairs", having("punct", "numbers")),
    ]


def compact_json(out):
    """The document with one line per subset and per pair, for readable diffs."""
    line = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    parts = []
    for key, value in out.items():
        if isinstance(value, list):
            rows = ",\n".join(f"  {line(v)}" for v in value)
            parts.append(f" {line(key)}: [\n{rows}\n ]")
        else:
            parts.append(f" {line(key)}: {line(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main():
    evalvenv.run_inside("sacrebleu", SACREBLEU)

    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF

    assert sacrebleu.__version__ == SACREBLEU, sacrebleu.__version__
    pairs = json.loads(PAIRS.read_text(encoding="utf-8"))

    def score(indices):
        hyps = [pairs[i]["hyp"] for i in indices]
        refs = [[pairs[i]["ref"] for i in indices]]
        return {
            # Python's float repr round-trips, so these are the full-precision values.
            "chrf": sacrebleu.corpus_chrf(hyps, refs).score,
            "bleu": sacrebleu.corpus_bleu(hyps, refs).score,
        }

    def signature(metric):
        # The default metric object equals what corpus_chrf/corpus_bleu build; a signature needs
        # one evaluation to know the number of references.
        metric.corpus_score([p["hyp"] for p in pairs], [[p["ref"] for p in pairs]])
        return str(metric.get_signature())

    out = {
        "sacrebleu": sacrebleu.__version__,
        "signatures": {"chrf": signature(CHRF()), "bleu": signature(BLEU())},
        "subsets": [
            dict(name=name, description=desc, indices=indices, **score(indices))
            for name, desc, indices in subsets(pairs)
        ],
        "pairs": [dict(index=i, **score([i])) for i in range(len(pairs))],
    }
    OUT.write_text(compact_json(out), encoding="utf-8")
    print(f"wrote {len(out['subsets'])} subsets and {len(pairs)} pairs to {OUT.relative_to(ROOT)}")
    for s in out["subsets"]:
        print(f"  {s['name']:<14} n={len(s['indices']):<3} chrF2 {s['chrf']:.4f}  BLEU {s['bleu']:.4f}")


if __name__ == "__main__":
    main()
