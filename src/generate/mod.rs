//! The inference loop: prefill the prompt, then sample token by token until a stop rule fires,
//! streaming text as it is decoded.

pub mod sampler;
pub mod template;

use std::time::Instant;

use serde::Serialize;

use crate::engine::LoadedModel;
use crate::error::{Error, Result};
pub use sampler::{Sampler, SamplerConfig};

/// Limits and stop rules of one generation.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Token ids that end generation (not included in the output).
    pub stop_ids: Vec<u32>,
    /// How to pick tokens.
    pub sampler: SamplerConfig,
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
}

/// The result of one generation, with timings.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Generated text, stop token excluded.
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated (stop token excluded).
    pub generated_tokens: usize,
    /// Seconds spent on the prompt (to the first sampled token).
    pub prefill_secs: f64,
    /// Seconds spent generating after the first token.
    pub decode_secs: f64,
    /// Why it ended.
    pub stop: StopReason,
}

impl Generation {
    /// Prompt tokens per second.
    pub fn prefill_tok_s(&self) -> f64 {
        rate(self.prompt_tokens, self.prefill_secs)
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
    let mut sampler = Sampler::new(config.sampler);
    let lm = &mut model.lm;
    let mut stream = model.tokenizer.inner().decode_stream(true);
    let mut text = String::new();
    let mut generated: Vec<u32> = Vec::with_capacity(config.max_tokens);

    let start = Instant::now();
    lm.reset();
    lm.reserve((prompt.len() + config.max_tokens).min(context))?;
    let mut next = sampler.sample(lm.forward(prompt, 0)?, &generated)?;
    let prefill_secs = start.elapsed().as_secs_f64();
    let decode_start = Instant::now();

    let stop = loop {
        if config.stop_ids.contains(&next) {
            break StopReason::Stop;
        }
        generated.push(next);
        let piece = stream
            .step(next)
            .map_err(|e| Error::Decode(format!("token {next}: {e}")))?;
        if let Some(piece) = piece {
            on_text(&piece);
            text.push_str(&piece);
        }
        if generated.len() >= config.max_tokens {
            break StopReason::MaxTokens;
        }
        let pos = prompt.len() + generated.len() - 1;
        if pos + 1 >= context {
            break StopReason::Context;
        }
        next = sampler.sample(lm.forward(&[next], pos)?, &generated)?;
    };
    Ok(Generation {
        text,
        prompt_tokens: prompt.len(),
        generated_tokens: generated.len(),
        prefill_secs,
        decode_secs: decode_start.elapsed().as_secs_f64(),
        stop,
    })
}
