//! Scoring a given continuation (`CausalLm::sequence_log_prob`), which the speaker choice
//! relies on: the engine's one-pass sum against llama.cpp's log-probabilities of the
//! same tokens (the parity fixtures of `scripts/parity-fixtures.sh`), and against running the
//! tokens one at a time.

mod common;

use candle_core::Device;
use common::parity::TeacherForced;
use serde::Deserialize;
use summarise::engine::{self, CausalLm, EngineKind};
use summarise::Result;

#[derive(Deserialize)]
struct Fixture {
    teacher_forced: TeacherForced,
}

/// How far apart, in nats per scored token, our sum and llama.cpp's may be. Measured: 0.008 to
/// 0.022 over runs of 17 to 28 tokens, up to 0.027 after a cached head. Scoring one position
/// off would put them several nats per token apart.
const TOLERANCE: f64 = 0.05;

/// A model that scores with the trait's default, one token at a time.
struct OneAtATime<'a>(&'a mut dyn CausalLm);

impl CausalLm for OneAtATime<'_> {
    fn reserve(&mut self, positions: usize) -> Result<()> {
        self.0.reserve(positions)
    }
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        self.0.forward(tokens, pos)
    }
    fn reset(&mut self) {
        self.0.reset()
    }
}

/// llama.cpp's log-probability of `tokens[i]` given the tokens before it, where the fixture
/// keeps it (among its top logits of position `i - 1`).
fn known(tf: &TeacherForced, i: usize) -> Option<f64> {
    let j = tf.top_ids[i - 1].iter().position(|&t| t == tf.tokens[i])?;
    Some(tf.top_logits[i - 1][j] - tf.lse[i - 1])
}

/// The longest run `from..to` of tokens, within the first `cap`, whose log-probabilities the
/// fixture keeps.
fn longest_known_run(tf: &TeacherForced, cap: usize) -> (usize, usize) {
    let (mut best, mut start) = ((1, 1), 1);
    for i in 1..cap.min(tf.tokens.len()) {
        if known(tf, i).is_none() {
            start = i + 1;
        } else if i + 1 - start > best.1 - best.0 {
            best = (start, i + 1);
        }
    }
    best
}

fn reference(tf: &TeacherForced, from: usize, to: usize) -> f64 {
    (from..to).map(|i| known(tf, i).unwrap()).sum()
}

fn check(id: &str) {
    let Some(path) = common::model_file(id) else {
        return;
    };
    let file = common::fixtures().join("parity").join(format!("{id}.json"));
    let fx: Fixture = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let tf = &fx.teacher_forced;
    let (from, to) = longest_known_run(tf, 400);
    assert!(
        to - from >= 12,
        "{id}: only {from}..{to} covered by the fixture's top logits"
    );
    let tokens = &tf.tokens[..to];
    let want = reference(tf, from, to);

    let mut model = engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Native).unwrap();
    let lm = &mut model.lm;
    lm.reserve(to).unwrap();
    let one_pass = lm.sequence_log_prob(tokens, 0, from).unwrap();
    let per_token = (one_pass - want).abs() / (to - from) as f64;
    eprintln!(
        "{id}: tokens {from}..{to}, ours {one_pass:.3}, llama.cpp {want:.3}, {per_token:.4} nats/token apart"
    );
    assert!(
        per_token < TOLERANCE,
        "{id}: {one_pass} against llama.cpp's {want}"
    );

    // After a cached head, and one token at a time, the same tokens score the same.
    let head = (from + to) / 2;
    lm.reset();
    lm.reserve(to).unwrap();
    lm.forward(&tokens[..head], 0).unwrap();
    let tail = lm
        .sequence_log_prob(&tokens[head - 1..], head - 1, 1)
        .unwrap();
    let mut slow = OneAtATime(lm.as_mut());
    slow.reset();
    slow.reserve(to).unwrap();
    let stepped = slow.sequence_log_prob(tokens, 0, head).unwrap();
    let tail_want = reference(tf, head, to);
    // Prefill chunks of 8 tokens: the scored positions start chunks after the first.
    let mut small = summarise::engine::native::Decoder::open(&path).unwrap();
    small.set_chunk(8);
    small.reserve(to);
    let chunked = CausalLm::sequence_log_prob(&mut small, tokens, 0, from).unwrap();
    let apart = (chunked - want).abs() / (to - from) as f64;
    assert!(
        apart < TOLERANCE,
        "{id}, chunks of 8: {chunked} against llama.cpp's {want}"
    );

    for (what, got) in [("cached head", tail), ("one at a time", stepped)] {
        let apart = (got - tail_want).abs() / (to - head) as f64;
        eprintln!("{id}, {what}: {got:.3} against {tail_want:.3}");
        assert!(
            apart < TOLERANCE,
            "{id}, {what}: {got} against llama.cpp's {tail_want}"
        );
    }
}

#[test]
fn llama_scores_text_as_llamacpp_does() {
    check("smollm2-135m-instruct");
}

#[test]
fn qwen2_scores_text_as_llamacpp_does() {
    check("qwen2.5-coder-0.5b-instruct");
}

#[test]
fn gemma_scores_text_as_llamacpp_does() {
    check("gemma-3-270m");
}

#[test]
fn scoring_nothing_or_without_context_is_an_error() {
    let Some(path) = common::model_file("smollm2-135m-instruct") else {
        return;
    };
    let mut model = engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Native).unwrap();
    model.lm.reserve(8).unwrap();
    for (tokens, from) in [(&[1u32, 2, 3][..], 0), (&[1, 2, 3][..], 3), (&[][..], 1)] {
        let err = model.lm.sequence_log_prob(tokens, 0, from).unwrap_err();
        assert!(err.to_string().contains("scoring tokens"), "{err}");
    }
    let mut slow = OneAtATime(model.lm.as_mut());
    assert!(slow.sequence_log_prob(&[1, 2], 0, 0).is_err());
}
