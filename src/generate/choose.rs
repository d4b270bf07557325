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
        let cached = lm.cached_prefix(prompt).min(prompt.len() - 1);
        if cached == 0 {
            lm.reset();
        }
        lm.reserve(prompt.len() + answer.len())?;
        let mut total = log_softmax_at(lm.forward(&prompt[cached..], cached)?, answer.first());
        for (i, &token) in answer
            .iter()
            .enumerate()
            .take(answer.len().saturating_sub(1))
        {
            let logits = lm.forward(&[token], prompt.len() + i)?;
            total += log_softmax_at(logits, answer.get(i + 1));
        }
        out.push(total);
    }
    Ok(out)
}

/// `log p(token)` under `logits`; 0 for no token, minus infinity for one past the vocabulary.
fn log_softmax_at(logits: &[f32], token: Option<&u32>) -> f64 {
    let Some(&token) = token else {
        return 0.0;
    };
    let Some(&x) = logits.get(token as usize) else {
        return f64::NEG_INFINITY;
    };
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    x as f64 - max - sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_matches_its_definition() {
        let logits = [1.0f32, 2.0, 3.0];
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        let want = 2.0 - z.ln();
        assert!((log_softmax_at(&logits, Some(&1)) - want).abs() < 1e-9);
        assert_eq!(log_softmax_at(&logits, None), 0.0);
        assert_eq!(log_softmax_at(&logits, Some(&7)), f64::NEG_INFINITY);
    }
}
