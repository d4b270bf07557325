//! Speculative decoding on real models through the real loader: a draft checked in one pass
//! picks exactly what one-token steps pick, and `generate` with drafts from the prompt writes
//! exactly what it writes without them, while actually keeping drafted tokens.

mod common;

use candle_core::Device;
use summarise::engine::{self, EngineKind, LoadedModel};
use summarise::generate::{self, GenerateConfig};

/// A passage we wrote, then a request to copy it: the answer repeats long runs of the prompt.
const PASSAGE: &str = "The harbour authority of Puerto Alto said on Tuesday that the north \
pier would stay closed until the storm damage to its cranes had been assessed. \"We will not \
reopen a berth that we cannot guarantee is safe,\" said Marta Quiroga, the authority's head of \
operations. Shipping lines have moved 14 vessels to the southern terminal, where queues reached \
two days on Monday.";

fn load(id: &str, kind: EngineKind) -> Option<LoadedModel> {
    let path = common::model_file(id)?;
    Some(engine::load_gguf(&path, None, &Device::Cpu, kind).unwrap())
}

fn config(max_tokens: usize, speculate: bool) -> GenerateConfig {
    let mut c = common::short_line(1);
    c.max_tokens = max_tokens;
    c.stop_texts = vec!["\n\n".into()];
    c.speculate = speculate;
    c
}

/// Greedy picks after each of `draft`'s tokens, checked in one pass and stepped one at a time.
fn picks_match_steps(id: &str, model: &mut LoadedModel, prompt: &[u32], draft: &[u32]) {
    let lm = &mut model.lm;
    let p = prompt.len();
    assert!(
        lm.max_verify() >= draft.len(),
        "{id}: checks {}",
        lm.max_verify()
    );
    lm.reset();
    lm.reserve(p + draft.len() + 8).unwrap();
    lm.forward(prompt, 0).unwrap();
    let mut checked = Vec::new();
    lm.forward_argmax_each(draft, p, &mut checked).unwrap();
    lm.reset();
    lm.reserve(p + draft.len() + 8).unwrap();
    lm.forward(prompt, 0).unwrap();
    let stepped: Vec<u32> = (0..draft.len())
        .map(|i| lm.forward_argmax(&draft[i..i + 1], p + i).unwrap())
        .collect();
    assert_eq!(checked, stepped, "{id}: one pass and single steps disagree");
    // Past the limit is an error that says so, not a silently different computation.
    let long = vec![draft[0]; lm.max_verify() + 1];
    let err = lm.forward_argmax_each(&long, p, &mut checked).unwrap_err();
    assert!(err.to_string().contains("at most"), "{id}: {err}");
}

/// `generate` with and without drafts on a copy request: the same text, token for token.
fn same_output(id: &str, opening_times: usize) {
    let Some(mut model) = load(id, EngineKind::Native) else {
        return;
    };
    let opening = "The tide rose overnight and the north pier went under water. ";
    let text = format!(
        "{}{PASSAGE}\n\nRepeat the second sentence of the passage above word for word:\n",
        opening.repeat(opening_times)
    );
    let prompt = model.tokenizer.encode(&text, true, false).unwrap();
    let draft = model
        .tokenizer
        .encode(" \"We will not reopen a berth", false, false)
        .unwrap();
    picks_match_steps(id, &mut model, &prompt, &draft[..draft.len().min(7)]);

    let plain = generate::generate(&mut model, &prompt, &config(96, false), &mut |_| {}).unwrap();
    let mut streamed = String::new();
    let fast = generate::generate(&mut model, &prompt, &config(96, true), &mut |t| {
        streamed += t
    })
    .unwrap();
    assert_eq!(
        fast.text, plain.text,
        "{id}: speculation changed the output"
    );
    assert_eq!(fast.generated_tokens, plain.generated_tokens, "{id}");
    assert_eq!(fast.stop, plain.stop, "{id}");
    // Streaming hands text on before a repeated tail is cut, so it may run past the result.
    assert!(
        streamed.starts_with(&fast.text),
        "{id}: the streamed text starts the text"
    );
    assert_eq!(plain.speculation.checks, 0, "{id}: drafts checked when off");
    let s = fast.speculation;
    assert!(
        s.accepted > 0 && s.passes < plain.speculation.passes,
        "{id}: no draft token kept on a copy request ({s:?}); output {:?}",
        fast.text
    );
    eprintln!(
        "{id}: {} tokens, {} passes instead of {}, {:.0}% of {} drafted kept",
        fast.generated_tokens,
        s.passes,
        plain.speculation.passes,
        100.0 * s.acceptance(),
        s.drafted
    );
}

#[test]
fn llama_speculation_keeps_the_greedy_output() {
    same_output("smollm2-135m-instruct", 0);
}

#[test]
fn qwen2_speculation_keeps_the_greedy_output() {
    same_output("qwen2.5-coder-0.5b-instruct", 0);
}

#[test]
fn gemma_speculation_keeps_the_greedy_output_across_the_window() {
    same_output("gemma-3-270m", 0);
    // Past its 512-position window: the sliding layers' ring has wrapped before decoding.
    same_output("gemma-3-270m", 45);
}

#[test]
fn engines_that_cannot_check_drafts_decode_token_by_token() {
    let Some(mut model) = load("smollm2-135m-instruct", EngineKind::Candle) else {
        return;
    };
    assert_eq!(model.lm.max_verify(), 0);
    let prompt = model
        .tokenizer
        .encode(&format!("{PASSAGE}\n\nRepeat it:\n"), true, false)
        .unwrap();
    let out = generate::generate(&mut model, &prompt, &config(16, true), &mut |_| {}).unwrap();
    assert_eq!(out.speculation.checks, 0);
    assert!(out.generated_tokens > 0);
}
