//! Batched decoding on real models through the real loader: prompts decoded together, more of
//! them than slots (so finished sequences hand their slots on), write exactly what each writes
//! alone, greedy and sampled; a prompt that cannot run is refused without failing the others.

mod common;

use candle_core::Device;
use summarise::engine::{self, EngineKind, LoadedModel};
use summarise::generate::{self, GenerateConfig};

/// Requests we wrote, of different lengths, so the sequences end at different steps.
const REQUESTS: [&str; 5] = [
    "Write one sentence about a ferry strike in a small port town.",
    "List three things a harbour master checks before a storm, as one line.",
    "Translate into English: El alcalde inauguró el puente nuevo el martes por la tarde.",
    "In one sentence: why do ports close when cranes are damaged?",
    "Say hello.",
];

fn load(id: &str) -> Option<LoadedModel> {
    let path = common::model_file(id)?;
    Some(engine::load_gguf(&path, None, &Device::Cpu, EngineKind::Native).unwrap())
}

fn prompts(model: &LoadedModel) -> Vec<Vec<u32>> {
    REQUESTS
        .iter()
        .map(|r| {
            let text = format!("Question: {r}\nAnswer:");
            model.tokenizer.encode(&text, true, false).unwrap()
        })
        .collect()
}

fn config(temperature: f64) -> GenerateConfig {
    let mut c = common::short_line(1);
    c.max_tokens = 40;
    c.stop_texts = vec!["\n\n".into()];
    c.sampler.params.temperature = temperature;
    c.sampler.params.top_k = 40;
    c.sampler.params.top_p = 0.9;
    c.sampler.seed = 7;
    c
}

fn same_as_alone(id: &str, temperature: f64, width: usize) {
    let Some(mut model) = load(id) else { return };
    let prompts = prompts(&model);
    let config = config(temperature);
    // Each prompt keeps the opening it shares with the one before (prefix caching), in both
    // runs alike when both start from an empty cache.
    model.lm.reset();
    let alone: Vec<_> = prompts
        .iter()
        .map(|p| generate::generate(&mut model, p, &config, &mut |_| {}).unwrap())
        .collect();
    model.lm.reset();
    let together = generate::generate_batch(&mut model, &prompts, &config, width).unwrap();
    assert_eq!(together.len(), prompts.len());
    let mut tokens = 0;
    for (i, (a, b)) in alone.iter().zip(together).enumerate() {
        let b = b.unwrap();
        assert_eq!(a.text, b.text, "{id} t={temperature}: request {i} differs");
        assert_eq!(a.generated_tokens, b.generated_tokens, "{id}: request {i}");
        assert_eq!(a.stop, b.stop, "{id}: request {i}");
        assert_eq!(b.prompt_tokens, prompts[i].len());
        tokens += b.generated_tokens;
    }
    // Something was decoded, and not only a stop token each.
    assert!(tokens > 5 * prompts.len(), "{id}: only {tokens} tokens");
}

#[test]
fn batched_greedy_decoding_writes_what_each_prompt_writes_alone() {
    same_as_alone("smollm2-135m-instruct", 0.0, 3);
    same_as_alone("qwen2.5-coder-0.5b-instruct", 0.0, 4);
}

#[test]
fn batched_sampling_draws_what_each_prompt_draws_alone() {
    same_as_alone("smollm2-135m-instruct", 0.8, 2);
}

#[test]
fn a_sliding_window_model_batches_exactly_too() {
    same_as_alone("gemma-3-270m", 0.0, 3);
}

#[test]
fn a_prompt_that_cannot_run_is_refused_and_the_others_go_on() {
    let Some(mut model) = load("smollm2-135m-instruct") else {
        return;
    };
    let mut prompts = prompts(&model);
    prompts.insert(1, Vec::new());
    let too_long = vec![prompts[0][0]; model.info.context_length + 5];
    prompts.push(too_long);
    let config = config(0.0);
    let out = generate::generate_batch(&mut model, &prompts, &config, 3).unwrap();
    assert_eq!(out.len(), prompts.len());
    let err = out[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let err = out.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(err.contains("tokens"), "{err}");
    let alone = generate::generate(&mut model, &prompts[2], &config, &mut |_| {}).unwrap();
    assert_eq!(out[2].as_ref().unwrap().text, alone.text);
}

#[test]
fn the_engine_refuses_slots_it_was_not_given() {
    let Some(mut model) = load("smollm2-135m-instruct") else {
        return;
    };
    let prompt = prompts(&model).remove(0);
    let lm = &mut model.lm;
    lm.reset();
    lm.reserve(prompt.len() + 4).unwrap();
    lm.forward(&prompt, 0).unwrap();
    let batch = lm.batch().expect("the native engine batches");
    let most = batch.max_batch();
    assert!(most >= 4, "{most}");
    // Nothing adopted yet, a slot past the limit, a slot twice, mismatched lengths.
    let p = prompt.len();
    assert!(batch.forward(&[0], &[1], &[p]).is_err());
    assert!(batch.adopt(most, p).is_err());
    assert!(batch.adopt(0, p + 1).is_err());
    batch.adopt(0, p).unwrap();
    assert!(batch.forward(&[0, 0], &[1, 2], &[p, p]).is_err());
    assert!(batch.forward(&[0], &[1, 2], &[p]).is_err());
    assert!(batch.forward(&[0], &[1], &[p + 100_000]).is_err());
    assert!(batch.forward(&[0], &[1], &[p]).is_ok());
}
