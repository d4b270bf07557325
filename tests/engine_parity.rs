//! The native engine against llama.cpp: teacher-forced logits over our own ~650-token text,
//! and greedy continuations, compared with fixtures from `scripts/parity-fixtures.sh`.
//!
//! The fixtures keep llama.cpp's top 32 logits per position plus the log-sum-exp of the whole
//! row, so KL(llama.cpp || ours) is computed over those 32 tokens plus one bucket for the rest
//! of the vocabulary. Merging outcomes can only lower a KL divergence, so this is a lower bound
//! of the full KL. The test prints how much of llama.cpp's mass the top 32 hold.
//!
//! The bars. Mean KL must be at most 0.02 nats. Top-1 agreement and greedy identity are judged
//! against llama.cpp's own noise floor, which the fixtures carry (`noise_floor`): llama.cpp run
//! with an f32 KV cache and flash attention off, a numerically neutral change, agrees with its
//! default run on only 95-98% of top-1s and leaves its greedy path at top-2 gaps up to 0.142.
//! Top-1 agreement of 99% is therefore out of reach for any engine that is not bit-identical
//! to llama.cpp; ours must come within 2 points of llama.cpp's agreement with itself, and our
//! greedy tokens must match up to the first step whose top-2 gap is under `NEAR_TIE`.
//!
//! `PARITY_VERBOSE=1 cargo test --release --test engine_parity -- --nocapture` also lists the
//! positions where the top-1 choices differ.

mod common;

use common::parity::TeacherForced;
use serde::Deserialize;
use summarise::engine::native::Decoder;
use summarise::generate::sampler::argmax;

#[derive(Deserialize)]
struct Fixture {
    teacher_forced: TeacherForced,
    greedy: Vec<Greedy>,
    noise_floor: NoiseFloor,
}

#[derive(Deserialize)]
struct NoiseFloor {
    top1_agreement: f64,
    greedy: Vec<FloorGreedy>,
}

#[derive(Deserialize)]
struct FloorGreedy {
    gap_at_divergence: Option<f64>,
}

#[derive(Deserialize)]
struct Greedy {
    id: String,
    tokens: Vec<u32>,
    generated: Vec<u32>,
    gap: Vec<f64>,
}

/// Where llama.cpp's top two logits are closer than this, either choice is right: llama.cpp
/// itself changes its choice at gaps up to 0.142 under the f32-KV change (checked below).
const NEAR_TIE: f64 = 0.15;

/// How far under llama.cpp's agreement with itself our top-1 agreement may be.
const TOP1_MARGIN: f64 = 0.02;

fn fixture(id: &str) -> Fixture {
    let path = common::fixtures().join("parity").join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn log_sum_exp(xs: &[f32]) -> f64 {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    max + xs.iter().map(|&x| (x as f64 - max).exp()).sum::<f64>().ln()
}

/// KL(p || q) over the reference's top-k plus a bucket for everything else.
fn kl_top_k(ids: &[u32], ref_logits: &[f64], ref_lse: f64, ours: &[f32], ours_lse: f64) -> f64 {
    let mut kl = 0.0;
    let (mut p_top, mut q_top) = (0.0, 0.0);
    for (&id, &l) in ids.iter().zip(ref_logits) {
        let lp = l - ref_lse;
        let lq = ours[id as usize] as f64 - ours_lse;
        kl += lp.exp() * (lp - lq);
        p_top += lp.exp();
        q_top += lq.exp();
    }
    let (p_tail, q_tail) = ((1.0 - p_top).max(1e-12), (1.0 - q_top).max(1e-12));
    kl + p_tail * (p_tail / q_tail).ln()
}

fn check(id: &str) {
    let Some(path) = common::model_file(id) else {
        return;
    };
    let fx = fixture(id);
    let mut decoder = Decoder::open(&path).unwrap();

    // Teacher-forced logits.
    let tf = &fx.teacher_forced;
    let n = tf.tokens.len();
    decoder.reserve(n);
    let (mut agree, mut kl_sum, mut kl_max, mut top_mass, mut err2) =
        (0usize, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    decoder
        .forward_each(&tf.tokens, 0, |i, logits| {
            let ours = argmax(logits);
            if ours == tf.top_ids[i][0] {
                agree += 1;
            } else if std::env::var_os("PARITY_VERBOSE").is_some() {
                let gap = tf.top_logits[i][0] - tf.top_logits[i][1];
                let ours_gap = logits[ours as usize] - logits[tf.top_ids[i][0] as usize];
                let rank = tf.top_ids[i].iter().position(|&t| t == ours);
                eprintln!("  pos {i}: llama.cpp top-2 gap {gap:.4}; ours picks its #{rank:?}, ahead by {ours_gap:.4}");
            }
            let kl = kl_top_k(&tf.top_ids[i], &tf.top_logits[i], tf.lse[i], logits, log_sum_exp(logits));
            kl_sum += kl;
            let ours_lse = log_sum_exp(logits);
            for j in 0..8 {
                let d = (logits[tf.top_ids[i][j] as usize] as f64 - ours_lse) - (tf.top_logits[i][j] - tf.lse[i]);
                err2 += d * d;
            }
            top_mass += tf.top_logits[i].iter().map(|l| (l - tf.lse[i]).exp()).sum::<f64>();
            if kl > kl_max && std::env::var_os("PARITY_VERBOSE").is_some() {
                eprintln!("  new max KL {kl:.4} at position {i}");
            }
            kl_max = kl_max.max(kl);
        })
        .unwrap();
    let top1 = agree as f64 / n as f64;
    eprintln!(
        "{id}: rms log-prob error over llama.cpp's top 8: {:.4}",
        (err2 / (8 * n) as f64).sqrt()
    );
    let kl_mean = kl_sum / n as f64;
    eprintln!(
        "{id}: {n} positions, top-1 agreement {top1:.4}, mean KL {kl_mean:.5}, max KL {kl_max:.4}, \
         llama.cpp mass in its top 32 {:.3}",
        top_mass / n as f64
    );

    // Greedy continuations, compared up to llama.cpp's first near-tie.
    let mut report = Vec::new();
    for g in &fx.greedy {
        let horizon = g
            .gap
            .iter()
            .position(|&gap| gap < NEAR_TIE)
            .unwrap_or(g.gap.len());
        decoder.reserve(g.tokens.len() + g.generated.len());
        let mut ours = Vec::with_capacity(g.generated.len());
        let mut next = argmax(decoder.forward(&g.tokens, 0).unwrap());
        for step in 0..g.generated.len() {
            ours.push(next);
            if step + 1 < g.generated.len() {
                next = argmax(decoder.forward(&[next], g.tokens.len() + step).unwrap());
            }
        }
        let same = ours
            .iter()
            .zip(&g.generated)
            .take_while(|(a, b)| a == b)
            .count();
        report.push(format!(
            "{}: {same}/64 identical, first near-tie at {horizon}",
            g.id
        ));
        assert!(
            same >= horizon,
            "{id}/{}: greedy tokens differ from llama.cpp at step {same}, before its first near-tie at {horizon}\n ours: {:?}\n llama.cpp: {:?}",
            g.id,
            &ours[..horizon.min(ours.len())],
            &g.generated[..horizon]
        );
    }
    eprintln!("{id}: greedy {}", report.join("; "));
    let floor = fx.noise_floor.top1_agreement;
    assert!(
        top1 >= 0.99 || top1 >= floor - TOP1_MARGIN,
        "{id}: top-1 agreement {top1:.4} is below both 0.99 and llama.cpp's own {floor:.4} less {TOP1_MARGIN}"
    );
    assert!(kl_mean <= 0.02, "{id}: mean KL {kl_mean:.5} > 0.02");
}

#[test]
fn near_tie_covers_llamacpp_own_divergences() {
    for id in [
        "smollm2-135m-instruct",
        "gemma-3-270m",
        "qwen2.5-coder-0.5b-instruct",
        "qwen2.5-coder-1.5b-instruct",
    ] {
        for g in fixture(id).noise_floor.greedy {
            let gap = g.gap_at_divergence.unwrap_or(0.0);
            assert!(
                gap < NEAR_TIE,
                "{id}: llama.cpp diverged from itself at gap {gap} >= {NEAR_TIE}"
            );
        }
    }
}

#[test]
fn smollm2_matches_llamacpp() {
    check("smollm2-135m-instruct");
}

#[test]
fn gemma3_matches_llamacpp() {
    check("gemma-3-270m");
}

#[test]
fn qwen25_05b_matches_llamacpp() {
    check("qwen2.5-coder-0.5b-instruct");
}

#[test]
fn qwen25_15b_matches_llamacpp() {
    check("qwen2.5-coder-1.5b-instruct");
}
