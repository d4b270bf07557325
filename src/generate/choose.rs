//! Constrained choice: how likely the model finds each of a few fixed answers, so that it can
//! only ever pick one of them.

use crate::engine::LoadedModel;
use crate::error::{Error, Result};

/// The log-probability of each of `answers` (token ids, each ending with the model's stop
/// token so that a prefix of a longer answer does not win) following `prompt`. The prompt's
/// keys and values are computed once and kept for every answer.
pub fn log_probs(
    model: &mut LoadedModel,
    prompt: &[u32],
    answers: &[Vec<u32>],
) -> Result<Vec<f64>> {
    if prompt.is_empty() {
        return Err(Error::Usage("the prompt is empty".into()));
    }
    let context = model.info.context_length;
    let longest = answers.iter().map(Vec::len).max().unwrap_or(0);
    if prompt.len() + longest >= context {
        return Err(Error::PromptTooLong {
            tokens: prompt.len() + longest,
            context,
        });
    }
    let lm = &mut model.lm;
    let mut out = Vec::with_capacity(answers.len());
    for answer in answers {
        if answer.is_empty() {
            out.push(0.0);
            continue;
        }
        let cached = lm.cached_prefix(prompt).min(prompt.len() - 1);
        if cached == 0 {
            lm.reset();
        }
        lm.reserve(prompt.len() + answer.len())?;
        let mut tokens = prompt[cached..].to_vec();
        tokens.extend_from_slice(answer);
        out.push(lm.sequence_log_prob(&tokens, cached, prompt.len() - cached)?);
    }
    Ok(out)
}
