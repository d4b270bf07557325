//! ROUGE as the evaluation protocol defines it: values from Google's rouge-score 0.1.2 on texts
//! we wrote (committed by scripts/rouge-fixtures.py), and the protocol's published baseline
//! figures on the shared CNN/DailyMail file when `../shared/eval` is present.

mod common;

use std::path::PathBuf;

use serde::Deserialize;
use summarise::tasks::eval::{self, Rouge};

#[derive(Deserialize)]
struct Case {
    reference: String,
    candidate: String,
    rouge1: f64,
    rouge2: f64,
    #[serde(rename = "rougeLsum")]
    rouge_lsum: f64,
}

#[test]
fn matches_rouge_score_on_our_fixtures() {
    let path = common::fixtures().join("rouge/expected.json");
    let cases: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(cases.len() >= 10);
    let rouge = Rouge::new();
    for (i, c) in cases.iter().enumerate() {
        let got = rouge.score(&c.reference, &c.candidate);
        for (name, ours, want) in [
            ("rouge1", got.rouge1, c.rouge1),
            ("rouge2", got.rouge2, c.rouge2),
            ("rougeLsum", got.rouge_lsum, c.rouge_lsum),
        ] {
            assert!(
                (ours - want).abs() <= 0.01,
                "case {i} {name}: ours {ours:.4}, rouge-score {want:.4}"
            );
        }
    }
}

fn shared_data() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/eval/summarization/frank_cnndm_test_250.jsonl");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIP: {} is absent", path.display());
        None
    }
}

#[test]
fn baselines_match_the_protocol_figures_on_the_shared_file() {
    let Some(path) = shared_data() else {
        return;
    };
    let articles = eval::read_articles(&path, None).unwrap();
    assert_eq!(articles.len(), 250);
    let b = eval::baselines(&Rouge::new(), &articles);
    eprintln!("{b:?}");
    // The figures of ../shared/eval/README.md, measured there with rouge-score.
    for (name, got, want) in [
        ("lead3", b.lead3, (41.27, 18.67, 37.45)),
        ("bart", b.bart, (45.31, 22.53, 42.31)),
        ("bert_sum", b.bert_sum, (42.76, 19.93, 39.61)),
        ("bus", b.bus, (42.25, 19.59, 39.10)),
        ("pgn", b.pgn, (39.79, 17.87, 36.50)),
    ] {
        let close = |a: f64, b: f64| (a - b).abs() <= 0.011;
        assert!(
            close(got.rouge1, want.0) && close(got.rouge2, want.1) && close(got.rouge_lsum, want.2),
            "{name}: {got:?} vs {want:?}"
        );
    }
}
