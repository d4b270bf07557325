//! chrF2 and BLEU as sacrebleu computes them: corpus scores from sacrebleu 2.4.3 for subsets of
//! sentence pairs we wrote, and for every pair alone (committed by scripts/mt-fixtures.py).

mod common;

use serde::Deserialize;
use summarise::text::mt_metrics::{bleu, chrf};

#[derive(Deserialize)]
struct Pair {
    hyp: String,
    #[serde(rename = "ref")]
    reference: String,
}

#[derive(Deserialize)]
struct Subset {
    name: String,
    indices: Vec<usize>,
    chrf: f64,
    bleu: f64,
}

#[derive(Deserialize)]
struct Single {
    index: usize,
    chrf: f64,
    bleu: f64,
}

#[derive(Deserialize)]
struct Expected {
    sacrebleu: String,
    subsets: Vec<Subset>,
    pairs: Vec<Single>,
}

fn load() -> (Vec<Pair>, Expected) {
    let dir = common::fixtures().join("mt");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let pairs: Vec<Pair> = serde_json::from_str(&read("pairs.json")).unwrap();
    let expected: Expected = serde_json::from_str(&read("expected.json")).unwrap();
    (pairs, expected)
}

/// Scores of our code on the pairs at `indices`, checked against sacrebleu's within 0.01.
fn check(pairs: &[Pair], what: &str, indices: &[usize], want_chrf: f64, want_bleu: f64) {
    let hyps: Vec<&str> = indices.iter().map(|&i| pairs[i].hyp.as_str()).collect();
    let refs: Vec<&str> = indices
        .iter()
        .map(|&i| pairs[i].reference.as_str())
        .collect();
    for (metric, ours, want) in [
        ("chrF2", chrf(&hyps, &refs), want_chrf),
        ("BLEU", bleu(&hyps, &refs), want_bleu),
    ] {
        assert!(
            (ours - want).abs() <= 0.01,
            "{what} {metric}: ours {ours:.6}, sacrebleu {want:.6}"
        );
    }
}

#[test]
fn corpus_scores_match_sacrebleu_on_subsets() {
    let (pairs, expected) = load();
    assert!(expected.sacrebleu.starts_with("2."));
    assert!(pairs.len() >= 30);
    let names: Vec<&str> = expected.subsets.iter().map(|s| s.name.as_str()).collect();
    for name in ["all", "en", "es", "empty_hyp", "punct_numbers"] {
        assert!(
            names.contains(&name),
            "subset {name} missing from expected.json"
        );
    }
    for s in &expected.subsets {
        check(
            &pairs,
            &format!("subset {}", s.name),
            &s.indices,
            s.chrf,
            s.bleu,
        );
    }
}

#[test]
fn single_pair_scores_match_sacrebleu() {
    let (pairs, expected) = load();
    assert_eq!(expected.pairs.len(), pairs.len());
    for p in &expected.pairs {
        check(
            &pairs,
            &format!("pair {}", p.index),
            &[p.index],
            p.chrf,
            p.bleu,
        );
    }
}
