//! Beam search on real models through the real loader: every beam's logits are those of its
//! sequence run alone, after the beams are forked and reordered; `generate` with beams
//! finishes, repeats itself exactly, and refuses an engine without beams.

mod common;

use candle_core::Device;
use summarise::engine::{self, EngineKind, LoadedModel};
use summarise::generate;

/// Logits of `prompt` then `tail` run as one sequence, the tail a token at a time (the path
/// beams take).
fn alone(model: &mut LoadedModel, prompt: &[u32], tail: &[u32]) -> Vec<f32> {
    let lm = &mut model.lm;
    lm.reset();
    lm.reserve(prompt.len() + tail.len() + 8).unwrap();
    let mut logits = lm.forward(prompt, 0).unwrap().to_vec();
    for (i, &t) in tail.iter().enumerate() {
        logits = lm.forward(&[t], prompt.len() + i).unwrap().to_vec();
    }
    logits
}

fn assert_close(id: &str, what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{id}: {what}");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "{id}: {what}: logits differ by up to {worst}");
}

/// `opening` repeated `times`, then the sentence the beams continue: a long prompt makes a
/// sliding-window layer's ring of slots wrap before the beams fork.
fn beams_match_their_sequences(id: &str, opening: &str, times: usize) {
    let Some(path) = common::model_file(id) else {
        return;
    };
    let mut model = engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Native).unwrap();
    let text = format!(
        "{}El puerto de Valparaíso reabrió el lunes tras",
        opening.repeat(times)
    );
    let prompt = model.tokenizer.encode(&text, true, false).unwrap();
    let p = prompt.len();
    assert!(
        times == 0 || p > 768,
        "{id}: a {p}-token prompt does not wrap the window"
    );
    let word = |m: &LoadedModel, w: &str| m.tokenizer.encode(w, false, false).unwrap()[0];
    let [a, b, c] = [" the", " a", " three"].map(|w| word(&model, w));
    let [x, y, z] = [" strike", " days", " weeks"].map(|w| word(&model, w));

    // Three beams from the prompt, one step each.
    let lm = &mut model.lm;
    lm.reset();
    lm.reserve(p + 8).unwrap();
    lm.forward(&prompt, 0).unwrap();
    let beams = lm.beams().expect("the native engine runs beams");
    beams.fork(3, p).unwrap();
    let first = beams.forward(&[a, b, c], p).unwrap().to_vec();
    // Beam 0 continues beam 2, beams 1 and 2 continue beam 0: histories cross over.
    beams.reorder(&[2, 0, 0], p..p + 1).unwrap();
    let second = beams.forward(&[x, y, z], p + 1).unwrap().to_vec();

    let vocab = first.len() / 3;
    let row = |l: &[f32], i: usize| l[i * vocab..(i + 1) * vocab].to_vec();
    for (i, t) in [a, b, c].into_iter().enumerate() {
        let want = alone(&mut model, &prompt, &[t]);
        assert_close(id, &format!("step 1, beam {i}"), &row(&first, i), &want);
    }
    for (i, tail) in [[c, x], [a, y], [a, z]].into_iter().enumerate() {
        let want = alone(&mut model, &prompt, &tail);
        assert_close(id, &format!("step 2, beam {i}"), &row(&second, i), &want);
    }
}

#[test]
fn qwen2_beams_match_their_sequences() {
    beams_match_their_sequences("qwen2.5-coder-0.5b-instruct", "", 0);
}

#[test]
fn llama_beams_match_their_sequences() {
    beams_match_their_sequences("smollm2-135m-instruct", "", 0);
}

#[test]
fn gemma_beams_with_sliding_windows_match_their_sequences() {
    beams_match_their_sequences("gemma-3-270m", "", 0);
    // Past its 512-position window and a 256-token chunk: the window's ring has wrapped.
    let opening = "La marea subió de noche y el muelle norte quedó bajo el agua. ";
    beams_match_their_sequences("gemma-3-270m", opening, 60);
}

#[test]
fn generate_with_beams_is_repeatable_and_needs_the_native_engine() {
    let id = "smollm2-135m-instruct";
    let Some(path) = common::model_file(id) else {
        return;
    };
    let mut model = engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Native).unwrap();
    let ids = model
        .tokenizer
        .encode(
            "Spanish: El ministro llegó a Madrid el martes.\nEnglish:",
            true,
            false,
        )
        .unwrap();
    let mut streamed = String::new();
    let one = generate::generate(&mut model, &ids, &common::short_line(4), &mut |t| {
        streamed += t
    })
    .unwrap();
    assert!(!one.text.trim().is_empty(), "{id}: empty beam output");
    assert!(
        !one.text.contains('\n'),
        "{id}: stop text kept: {:?}",
        one.text
    );
    assert!(one.generated_tokens <= 24);
    assert_eq!(streamed, one.text, "{id}: the chosen text is handed on");
    let two = generate::generate(&mut model, &ids, &common::short_line(4), &mut |_| {}).unwrap();
    assert_eq!(one.text, two.text, "{id}: beam search is deterministic");
    assert_eq!(one.alternatives, two.alternatives);
    // The other finished beams: at least the width, less the chosen one and repeats, all
    // distinct, none the chosen text, none keeping its stop text.
    assert!(!one.alternatives.is_empty(), "{id}: no alternatives");
    for (i, alt) in one.alternatives.iter().enumerate() {
        assert_ne!(
            alt, &one.text,
            "{id}: the chosen text is not an alternative"
        );
        assert!(!one.alternatives[..i].contains(alt), "{id}: {alt:?} twice");
        assert!(!alt.contains('\n'), "{id}: stop text kept: {alt:?}");
    }

    // Greedy decoding after a beam search keeps the prompt's cached positions, and answers as
    // it does from a cold start.
    let warm = generate::generate(&mut model, &ids, &common::short_line(1), &mut |_| {}).unwrap();
    assert!(warm.cached_tokens > 0, "{id}: the prompt's cache is kept");
    model.lm.reset();
    let cold = generate::generate(&mut model, &ids, &common::short_line(1), &mut |_| {}).unwrap();
    assert_eq!(cold.cached_tokens, 0);
    assert!(warm.alternatives.is_empty() && cold.alternatives.is_empty());
    // The prompt's last token runs alone when the rest is cached, and its rounding differs
    // slightly from a prefill's (see prefix_cache.rs): the first word is compared.
    let first_word = |t: &str| t.split_whitespace().next().map(str::to_lowercase);
    assert_eq!(
        first_word(&warm.text),
        first_word(&cold.text),
        "{id}: greedy after beams"
    );

    let mut candle = engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Candle).unwrap();
    let err =
        generate::generate(&mut candle, &ids, &common::short_line(4), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("--beams 1"), "{err}");
}
