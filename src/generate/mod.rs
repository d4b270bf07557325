//! The inference loop: prefill the prompt, then sample token by token until a stop rule fires,
//! streaming text as it is decoded.

pub mod batch;
pub mod beam;
pub mod choose;
pub mod copy;
pub mod draft;
pub mod sampler;
mod tail;
pub mod template;

use std::time::Instant;

use serde::Serialize;

use crate::engine::LoadedModel;
use crate::error::{Error, Result};
pub use batch::{generate_batch, generate_batch_limited};
use draft::Drafter;
pub use sampler::{Sampler, SamplerConfig};
use tail::Tail;

/// Limits and stop rules of one generation.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Token ids that end generation (not included in the output).
    pub stop_ids: Vec<u32>,
    /// Texts that end generation when they appear in the output (cut there).
    pub stop_texts: Vec<String>,
    /// How to pick tokens.
    pub sampler: SamplerConfig,
    /// Beams of a beam search (see [`beam`]); 1 picks token by token with `sampler`.
    pub beams: usize,
    /// Check drafts from the prompt several tokens per pass ([`draft`]) when decoding is
    /// plain greedy; the output is the same as without.
    pub speculate: bool,
}

/// `1` (or `true`, `yes`, `on`) checks drafts when decoding greedily, `0` (or `false`, `no`,
/// `off`) never does (`--speculate`, `--no-speculate`); unset, the CPU decides
/// ([`crate::engine::native::drafts_pay`]).
pub const SPECULATE_ENV: &str = "SUMMARISE_SPECULATE";

/// Whether generations should check drafts: as `--speculate`, `--no-speculate` or their
/// variable say, else where a check's extra rows cost this CPU little enough to pay.
pub fn speculation_wanted() -> bool {
    match std::env::var(SPECULATE_ENV) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => crate::engine::native::drafts_pay(),
        },
        Err(_) => crate::engine::native::drafts_pay(),
    }
}

/// What speculative decoding did in one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Speculation {
    /// Forward passes after the prompt's, each giving one token or more.
    pub passes: usize,
    /// Of those, passes that checked a draft.
    pub checks: usize,
    /// Draft tokens proposed.
    pub drafted: usize,
    /// Draft tokens the model kept (each one a token without a pass of its own).
    pub accepted: usize,
}

impl Speculation {
    /// Add another generation's counts.
    pub fn add(&mut self, o: &Speculation) {
        self.passes += o.passes;
        self.checks += o.checks;
        self.drafted += o.drafted;
        self.accepted += o.accepted;
    }

    /// Share of the drafted tokens kept.
    pub fn acceptance(&self) -> f64 {
        rate(self.accepted, self.drafted as f64)
    }

    /// Tokens generated per forward pass after the prompt's.
    pub fn tokens_per_pass(&self) -> f64 {
        rate(self.passes + self.accepted, self.passes as f64)
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced a stop token.
    Stop,
    /// `max_tokens` reached.
    MaxTokens,
    /// The model's context is full.
    Context,
    /// The output started repeating itself; the repeats are cut.
    Repetition,
}

/// The result of one generation, with timings.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Generated text, stop token excluded.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Leading prompt tokens whose keys and values were kept from the previous request.
    pub cached_tokens: usize,
    /// Tokens generated (stop token excluded).
    pub generated_tokens: usize,
    /// Seconds spent on the prompt (to the first sampled token).
    pub prefill_secs: f64,
    /// Seconds spent generating after the first token.
    pub decode_secs: f64,
    /// Why it ended.
    pub stop: StopReason,
    /// A beam search's other finished continuations, best first, each cut at its stop text
    /// and none equal to `text` or to another; empty for token-by-token decoding. A caller
    /// with a rule the model's favourite breaks (keep the quotation marks) takes the first
    /// that keeps it.
    pub alternatives: Vec<String>,
    /// Draft checks, when speculating.
    pub speculation: Speculation,
}

impl Generation {
    /// Prompt tokens run per second (cached ones are not run).
    pub fn prefill_tok_s(&self) -> f64 {
        rate(self.prompt_tokens - self.cached_tokens, self.prefill_secs)
    }

    /// Generated tokens per second, after the first one.
    pub fn decode_tok_s(&self) -> f64 {
        rate(self.generated_tokens.saturating_sub(1), self.decode_secs)
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// Where the first stop text in `text` begins, looking only at matches that end after byte
/// `from` (earlier text was checked before).
fn find_stop_text(text: &str, from: usize, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter_map(|stop| {
            let mut start = from.saturating_sub(stop.len().saturating_sub(1));
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            text[start..].find(stop.as_str()).map(|i| start + i)
        })
        .min()
}

/// Longest repeated period checked, in tokens.
const MAX_PERIOD: usize = 48;
/// A repeat must span at least this many tokens (so a short period needs more copies).
const MIN_REPEAT_TOKENS: usize = 16;

/// If the last tokens are the same block of `p` tokens at least three times over (and at
/// least `MIN_REPEAT_TOKENS` in all), the number of tokens to keep: everything up to the end of
/// the block's first copy. Allocates nothing.
fn repeated_tail(tokens: &[u32]) -> Option<usize> {
    let n = tokens.len();
    for p in 1..=MAX_PERIOD.min(n / 3) {
        let copies = 3.max(MIN_REPEAT_TOKENS.div_ceil(p));
        if copies * p > n {
            continue;
        }
        let tail = &tokens[n - copies * p..];
        if (p..tail.len()).all(|i| tail[i] == tail[i - p]) {
            return Some(n - (copies - 1) * p);
        }
    }
    None
}

/// Size the model's cache for `prompt` and `max_tokens` more, keeping the keys and values of
/// the opening it shares with the last request (the same system turn and instructions), so
/// only the rest runs; one token always runs, for its logits. Returns how many are kept.
fn prepare(
    lm: &mut Box<dyn crate::engine::CausalLm>,
    prompt: &[u32],
    max_tokens: usize,
    context: usize,
) -> Result<usize> {
    let cached = lm.cached_prefix(prompt).min(prompt.len() - 1);
    if cached == 0 {
        lm.reset();
    }
    lm.reserve((prompt.len() + max_tokens).min(context))?;
    Ok(cached)
}

/// Generate from `prompt`, calling `on_text` with each piece of decoded text as it appears.
pub fn generate(
    model: &mut LoadedModel,
    prompt: &[u32],
    config: &GenerateConfig,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation> {
    let context = model.info.context_length;
    if prompt.is_empty() {
        return Err(Error::Usage("the prompt is empty".into()));
    }
    if prompt.len() >= context {
        return Err(Error::PromptTooLong {
            tokens: prompt.len(),
            context,
        });
    }
    if config.beams > 1 {
        return beam::search(model, prompt, config, on_text);
    }
    let mut sampler = Sampler::new(config.sampler);
    let LoadedModel { lm, tokenizer, .. } = model;
    let mut tail = Tail::new(tokenizer, prompt.len(), context, config.max_tokens);

    let start = Instant::now();
    let cached = prepare(lm, prompt, config.max_tokens, context)?;
    // Greedy with no penalty needs only the argmax, which a GPU engine takes on the device.
    let plain_greedy = sampler.is_plain_greedy();
    let mut step = |lm: &mut Box<dyn crate::engine::CausalLm>,
                    tokens: &[u32],
                    pos: usize,
                    generated: &[u32]|
     -> Result<u32> {
        if plain_greedy {
            lm.forward_argmax(tokens, pos)
        } else {
            sampler.sample(lm.forward(tokens, pos)?, generated)
        }
    };
    let mut next = step(lm, &prompt[cached..], cached, &tail.generated)?;
    let prefill_secs = start.elapsed().as_secs_f64();
    let decode_start = Instant::now();

    // Speculation (plain greedy only, where the engine checks drafts exactly): `seq` is the
    // prompt and the output so far, `picks` the checked pass's picks still to hand out.
    let verify = match config.speculate && plain_greedy {
        true => lm.max_verify(),
        false => 0,
    };
    let mut drafter = draft::PromptLookup::default();
    let mut seq: Vec<u32> = Vec::new();
    if verify > 1 {
        seq.reserve(prompt.len() + config.max_tokens);
        seq.extend_from_slice(prompt);
    }
    let (mut draft, mut picks) = (Vec::with_capacity(verify), Vec::with_capacity(verify));
    let mut ready = 0..0;
    let mut spec = Speculation::default();

    let stop = loop {
        if let Some(stop) = tail.push(next, config, on_text)? {
            break stop;
        }
        let (pos, generated) = (tail.position(), &tail.generated);
        // A checked draft token is already in the cache, and its successor already picked.
        if let Some(i) = ready.next() {
            next = picks[i];
            continue;
        }
        spec.passes += 1;
        if verify > 1 {
            // Only the tokens generated since the last pass are new.
            seq.extend_from_slice(&generated[seq.len() - prompt.len()..]);
            let room = (verify - 1)
                .min(config.max_tokens - generated.len())
                .min(context - 1 - pos);
            drafter.draft(&seq, room, &mut draft);
            if !draft.is_empty() {
                draft.insert(0, next);
                lm.forward_argmax_each(&draft, pos, &mut picks)?;
                // picks[i] follows draft[i]; draft[i + 1] is kept while it equals picks[i].
                let kept = (0..draft.len() - 1)
                    .take_while(|&i| draft[i + 1] == picks[i])
                    .count();
                drafter.accepted(draft.len() - 1, kept);
                spec.checks += 1;
                spec.drafted += draft.len() - 1;
                spec.accepted += kept;
                next = picks[0];
                ready = 1..kept + 1;
                continue;
            }
        }
        next = step(lm, &[next], pos, generated)?;
    };
    Ok(Generation {
        generated_tokens: tail.generated.len(),
        text: tail.text,
        prompt_tokens: prompt.len(),
        cached_tokens: cached,
        prefill_secs,
        decode_secs: decode_start.elapsed().as_secs_f64(),
        stop,
        alternatives: Vec::new(),
        speculation: spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_said_three_times_is_cut_to_once() {
        let phrase = [5u32, 6, 7, 8, 9, 10];
        let mut t = vec![1, 2, 3];
        for _ in 0..3 {
            t.extend_from_slice(&phrase);
        }
        assert_eq!(repeated_tail(&t), Some(3 + 6));
        // Twice is not yet a loop.
        assert_eq!(repeated_tail(&t[..3 + 12]), None);
    }

    #[test]
    fn a_short_repeat_needs_more_copies() {
        let mut t = vec![1, 2, 3];
        t.extend(std::iter::repeat_n(4, 15));
        assert_eq!(repeated_tail(&t), None);
        t.push(4);
        assert_eq!(repeated_tail(&t), Some(4));
        // Ordinary text with a repeated word does not trip it.
        assert_eq!(repeated_tail(&[1, 2, 1, 3, 1, 4, 5, 6]), None);
    }

    #[test]
    fn stop_texts_are_found_across_pieces() {
        let stops = vec!["\n\nArticle:".to_string()];
        assert_eq!(find_stop_text("Summary text.\n\nArt", 14, &stops), None);
        assert_eq!(
            find_stop_text("Summary text.\n\nArticle:", 19, &stops),
            Some(13)
        );
        assert_eq!(find_stop_text("no stop here", 0, &stops), None);
    }
}
