#!/usr/bin/env python3
"""Compare models for the default: ROUGE and seconds per article on the CNN/DailyMail sample.

Usage: python3 scripts/eval-models.py [--limit 20] [--data PATH] [--threads 2] MODEL_ID...

Runs the release binary (`cargo build --release` first) once per article with
`--format json --offline`, so pull the models first (`summarise models pull ID`). Scores with
Google's rouge-score 0.1.2 (installed with pip into a cache venv if missing) per the protocol of
../shared/eval/README.md: ROUGE-1/2/Lsum F1 x100, Porter stemming, one sentence per line.
Lead-3 (first three `article_sentences`) is scored on the same articles. The data file is
third-party and is read in place, never copied.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_rouge():
    try:
        from rouge_score import rouge_scorer  # noqa: F401
        return
    except ImportError:
        pass
    venv = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "summarise", "eval-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "rouge-score==0.1.2"])
    os.execv(py, [py] + sys.argv)


SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“‘])")


def sentences(text):
    text = text.replace(" . ", " .\n")
    out = []
    for line in text.split("\n"):
        out.extend(s.strip() for s in SPLIT.split(line) if s.strip())
    return "\n".join(out)


def main():
    ensure_rouge()
    from rouge_score import rouge_scorer

    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "eval", "summarization", "frank_cnndm_test_250.jsonl"))
    ap.add_argument("--out", help="write per-article outputs as JSON lines here")
    args = ap.parse_args()
    if not os.path.exists(args.data):
        print(f"SKIP: {args.data} is absent", file=sys.stderr)
        return
    rows = [json.loads(l) for l in open(args.data, encoding="utf-8")][: args.limit]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)

    def score(cands):
        agg = {k: [] for k in ["rouge1", "rouge2", "rougeLsum"]}
        for row, cand in zip(rows, cands):
            s = scorer.score(sentences(row["reference_detok"]), sentences(cand))
            for k in agg:
                agg[k].append(s[k].fmeasure * 100)
        return {k: round(statistics.mean(v), 2) for k, v in agg.items()}

    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "summarise")
    results = {"n": len(rows), "lead3": score([" ".join(r["article_sentences"][:3]) for r in rows])}
    out = open(args.out, "w") if args.out else None
    for model in args.models:
        cands, secs, words = [], [], []
        for i, row in enumerate(rows):
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                f.write(row["article"])
            try:
                p = subprocess.run([binary, "--model", model, "--format", "json", "--offline",
                                    "--threads", str(args.threads), f.name],
                                   capture_output=True, text=True)
            finally:
                os.unlink(f.name)
            if p.returncode != 0:
                sys.exit(f"{model} failed on article {i}: {p.stderr.strip()}")
            rep = json.loads(p.stdout)
            cands.append(rep["summary"])
            secs.append(rep["seconds"])
            words.append(len(rep["summary"].split()))
            if out:
                out.write(json.dumps({**rep, "article_id": row["id"]}) + "\n")
            print(f"{model} {i + 1}/{len(rows)} {rep['seconds']:.1f}s", file=sys.stderr)
        results[model] = {**score(cands), "secs_per_article_median": round(statistics.median(secs), 1),
                          "words_mean": round(statistics.mean(words), 1)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
