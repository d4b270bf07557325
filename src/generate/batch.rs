//! Batched decoding: several prompts generate together, each sequence in a cache slot of its
//! own with its own sampler and stop rules, one forward pass per step for all of them (so each
//! weight is read once per step, not once per sequence). A sequence that ends frees its slot
//! for the next prompt at once (continuous batching). Every sequence gets exactly the tokens it
//! gets alone: the engine's batched rows take the one-token kernels.

use std::time::Instant;

use super::tail::Tail;
use super::{generate, GenerateConfig, Generation, Sampler, Speculation};
use crate::engine::LoadedModel;
use crate::error::{Error, Result};

/// A sequence being decoded in a slot.
struct Running<'t> {
    /// Which prompt it answers.
    index: usize,
    tail: Tail<'t>,
    sampler: Sampler,
    /// The token to run next.
    next: u32,
    cached: usize,
    prefill_secs: f64,
    /// Seconds of the batched steps it took part in: not the other prompts' prefills, which
    /// it waits through.
    decode_secs: f64,
}

impl Running<'_> {
    fn finish(self, stop: super::StopReason) -> Generation {
        Generation {
            generated_tokens: self.tail.generated.len(),
            text: self.tail.text,
            prompt_tokens: self.tail.prompt_len,
            cached_tokens: self.cached,
            prefill_secs: self.prefill_secs,
            decode_secs: self.decode_secs,
            stop,
            alternatives: Vec::new(),
            speculation: Speculation::default(),
        }
    }
}

/// Generate from every prompt of `prompts` with `config`, up to `width` of them decoding at
/// once; the results in the prompts' order. A prompt that cannot run (empty, or too long for
/// the context) gets its error and the others go on; an engine failure fails the call.
/// Engines without batched steps, beam searches and a `width` of 1 generate one prompt at a
/// time, as [`generate`] does.
pub fn generate_batch(
    model: &mut LoadedModel,
    prompts: &[Vec<u32>],
    config: &GenerateConfig,
    width: usize,
) -> Result<Vec<Result<Generation>>> {
    let limits = vec![config.max_tokens; prompts.len()];
    generate_batch_limited(model, prompts, &limits, config, width)
}

/// [`generate_batch`] with a token limit of its own for each prompt (`max_tokens[i]` in place
/// of `config.max_tokens`), as [`generate`] with that limit would run it.
pub fn generate_batch_limited(
    model: &mut LoadedModel,
    prompts: &[Vec<u32>],
    max_tokens: &[usize],
    config: &GenerateConfig,
    width: usize,
) -> Result<Vec<Result<Generation>>> {
    if max_tokens.len() != prompts.len() {
        return Err(Error::Usage(format!(
            "{} token limits for {} prompts",
            max_tokens.len(),
            prompts.len()
        )));
    }
    let most = model.lm.batch().map_or(0, |b| b.max_batch());
    let width = width.min(most).min(prompts.len());
    if width <= 1 || config.beams > 1 {
        return Ok(prompts
            .iter()
            .zip(max_tokens)
            .map(|(p, &max_tokens)| {
                let config = GenerateConfig {
                    max_tokens,
                    ..config.clone()
                };
                generate(model, p, &config, &mut |_| {})
            })
            .collect());
    }
    let context = model.info.context_length;
    let mut results: Vec<Option<Result<Generation>>> = prompts
        .iter()
        .map(|p| match p.len() {
            0 => Some(Err(Error::Usage("the prompt is empty".into()))),
            n if n >= context => Some(Err(Error::PromptTooLong { tokens: n, context })),
            _ => None,
        })
        .collect();
    let runnable: Vec<usize> = (0..prompts.len())
        .filter(|&i| results[i].is_none())
        .collect();
    let LoadedModel { lm, tokenizer, .. } = model;
    // Every slot's cache is sized for the longest request, before any is adopted.
    let positions = runnable
        .iter()
        .map(|&i| (prompts[i].len() + max_tokens[i]).min(context))
        .max()
        .unwrap_or(1);
    let mut pending = runnable.into_iter();
    if let Some(first) = prompts.iter().find(|p| !p.is_empty() && p.len() < context) {
        if lm.cached_prefix(first) == 0 {
            lm.reset();
        }
    }
    lm.reserve(positions)?;

    let mut slots: Vec<Option<Running>> = (0..width).map(|_| None).collect();
    let (mut ids, mut tokens, mut at) = (Vec::new(), Vec::new(), Vec::new());
    let mut picks = Vec::with_capacity(width);
    loop {
        // Fill the free slots: run each new prompt alone, then hand its cache to the slot.
        for (slot, held) in slots.iter_mut().enumerate() {
            while held.is_none() {
                let Some(index) = pending.next() else { break };
                let prompt = &prompts[index];
                let start = Instant::now();
                let cached = lm.cached_prefix(prompt).min(prompt.len() - 1);
                let mut sampler = Sampler::new(config.sampler);
                let logits = lm.forward(&prompt[cached..], cached)?;
                let first = sampler.sample(logits, &[])?;
                let mut run = Running {
                    index,
                    tail: Tail::new(tokenizer, prompt.len(), context, max_tokens[index]),
                    sampler,
                    next: first,
                    cached,
                    prefill_secs: start.elapsed().as_secs_f64(),
                    decode_secs: 0.0,
                };
                match run.tail.push(first, config, &mut |_| {})? {
                    Some(stop) => results[index] = Some(Ok(run.finish(stop))),
                    None => {
                        batch_of(lm)?.adopt(slot, prompt.len())?;
                        *held = Some(run);
                    }
                }
            }
        }
        ids.clear();
        tokens.clear();
        at.clear();
        for (slot, run) in slots.iter().enumerate() {
            if let Some(run) = run {
                ids.push(slot);
                tokens.push(run.next);
                at.push(run.tail.position());
            }
        }
        if ids.is_empty() {
            break;
        }
        let step = Instant::now();
        let logits = batch_of(lm)?.forward(&ids, &tokens, &at)?;
        let vocab = logits.len() / ids.len();
        picks.clear();
        for (row, &slot) in ids.iter().enumerate() {
            let run = slots[slot].as_mut().expect("rows are running slots");
            let pick = run
                .sampler
                .sample(&logits[row * vocab..(row + 1) * vocab], &run.tail.generated)?;
            picks.push(pick);
        }
        let step_secs = step.elapsed().as_secs_f64();
        for (&slot, &pick) in ids.iter().zip(&picks) {
            let run = slots[slot].as_mut().expect("rows are running slots");
            run.next = pick;
            run.decode_secs += step_secs;
            if let Some(stop) = run.tail.push(pick, config, &mut |_| {})? {
                let run = slots[slot].take().expect("just used");
                let index = run.index;
                results[index] = Some(Ok(run.finish(stop)));
            }
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every prompt is answered or refused"))
        .collect())
}

/// The engine's batched side, checked present before decoding starts.
fn batch_of(lm: &mut Box<dyn crate::engine::CausalLm>) -> Result<&mut dyn crate::engine::BatchLm> {
    lm.batch()
        .ok_or_else(|| Error::Engine("this engine has no batched decoding".into()))
}
