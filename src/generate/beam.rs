//! Beam search: the `beams` likeliest continuations are grown together, a token each per step,
//! and the finished one with the best log-probability per token wins. Deterministic; it reads
//! the whole sentence's likelihood where greedy decoding commits to each word in turn.

use std::time::Instant;

use super::{find_stop_text, prepare, repeated_tail, GenerateConfig, Generation, StopReason};
use crate::engine::LoadedModel;
use crate::error::{Error, Result};

/// A continuation being grown: its tokens, and the log-probability of each prefix of them.
struct Alive {
    tokens: Vec<u32>,
    logp: Vec<f64>,
}

impl Alive {
    fn total(&self) -> f64 {
        self.logp.last().copied().unwrap_or(0.0)
    }

    /// This continuation with `token` of log-probability `l` after it.
    fn then(&self, token: u32, l: f64) -> Alive {
        let (mut tokens, mut logp) = (self.tokens.clone(), self.logp.clone());
        tokens.push(token);
        logp.push(self.total() + l);
        Alive { tokens, logp }
    }
}

/// A continuation that ended, ranked by `score`.
struct Done {
    tokens: Vec<u32>,
    score: f64,
    stop: StopReason,
}

impl Done {
    /// `alive`'s first `keep` tokens, ended for `stop`; `logp` is the log-probability of those
    /// tokens, and of the end token when `end_token` (which then counts as a token too).
    fn of(alive: &Alive, keep: usize, logp: f64, end_token: bool, stop: StopReason) -> Done {
        let counted = keep + usize::from(end_token);
        Done {
            tokens: alive.tokens[..keep].to_vec(),
            score: per_token(logp, counted),
            stop,
        }
    }
}

/// What a finished continuation is ranked by: its log-probability per token, the end token
/// counted, so that a complete sentence is not beaten by a shorter, cut one.
fn per_token(logp: f64, tokens: usize) -> f64 {
    logp / tokens.max(1) as f64
}

/// Beam search from `prompt` with `config.beams` beams; `on_text` gets the chosen text once.
pub(super) fn search(
    model: &mut LoadedModel,
    prompt: &[u32],
    config: &GenerateConfig,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation> {
    let width = config.beams;
    let context = model.info.context_length;
    let LoadedModel { lm, tokenizer, .. } = model;
    if lm.beams().is_none() {
        return Err(Error::Usage(
            "beam search runs on the native CPU engine only; use --beams 1 with this engine or device"
                .into(),
        ));
    }
    let start = Instant::now();
    let cached = prepare(lm, prompt, config.max_tokens, context)?;
    let mut lp = Vec::new();
    log_softmax(lm.forward(&prompt[cached..], cached)?, &mut lp);
    let prefill_secs = start.elapsed().as_secs_f64();
    let decode_start = Instant::now();
    let stops = &config.stop_ids;
    // The first tokens: the likeliest that do not end the answer at once.
    let mut alive: Vec<Alive> = top(&lp, width, |t| !stops.contains(&t))
        .into_iter()
        .map(|(t, l)| Alive {
            tokens: vec![t],
            logp: vec![l as f64],
        })
        .collect();
    if alive.len() < width {
        return Err(Error::Usage(format!(
            "--beams {width} is more than the {} tokens this model can start an answer with",
            alive.len()
        )));
    }
    let beams = lm.beams().expect("checked above");
    beams.fork(width, prompt.len())?;
    // A stop text ends a beam as a stop token does: the text is cut there at the end.
    let says_stop = |tokens: &[u32]| -> Result<bool> {
        if config.stop_texts.is_empty() {
            return Ok(false);
        }
        let text = tokenizer.decode(tokens, true)?;
        Ok(find_stop_text(&text, 0, &config.stop_texts).is_some())
    };
    let mut done: Vec<Done> = Vec::new();
    let mut pos = prompt.len();
    loop {
        let n = alive[0].tokens.len();
        if n >= config.max_tokens || pos + 1 >= context {
            let stop = match n >= config.max_tokens {
                true => StopReason::MaxTokens,
                false => StopReason::Context,
            };
            done.extend(alive.iter().map(|a| Done::of(a, n, a.total(), false, stop)));
            break;
        }
        let last: Vec<u32> = alive.iter().map(|a| a.tokens[n - 1]).collect();
        let logits = beams.forward(&last, pos)?;
        let vocab = logits.len() / width;
        // Each beam's 2 x width best tokens hold the step's `width` best continuations, however
        // many of them end.
        let mut candidates: Vec<(f64, usize, u32, f32)> = Vec::with_capacity(2 * width * width);
        for (b, a) in alive.iter().enumerate() {
            log_softmax(&logits[b * vocab..(b + 1) * vocab], &mut lp);
            for (t, l) in top(&lp, 2 * width, |_| true) {
                candidates.push((a.total() + l as f64, b, t, l));
            }
        }
        candidates.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut next = Vec::with_capacity(width);
        let mut parents = Vec::with_capacity(width);
        for (rank, (logp, b, t, l)) in candidates.into_iter().enumerate() {
            if next.len() == width {
                break;
            }
            if stops.contains(&t) {
                // An ending counts among the step's `width` best only.
                if rank < width {
                    done.push(Done::of(&alive[b], n, logp, true, StopReason::Stop));
                }
                continue;
            }
            let grown = alive[b].then(t, l as f64);
            if let Some(keep) = repeated_tail(&grown.tokens) {
                // A loop ends the beam, cut to its first copy and scored on what is kept.
                let kept = grown.logp[keep - 1];
                done.push(Done::of(&grown, keep, kept, false, StopReason::Repetition));
                continue;
            }
            if says_stop(&grown.tokens)? {
                done.push(Done::of(&grown, n + 1, logp, false, StopReason::Stop));
                continue;
            }
            next.push(grown);
            parents.push(b);
        }
        if next.len() < width {
            // Too few live continuations to fill the beams: what is left ends here.
            done.extend(
                next.iter()
                    .map(|a| Done::of(a, n + 1, a.total(), false, StopReason::MaxTokens)),
            );
            break;
        }
        beams.reorder(&parents, prompt.len()..pos + 1)?;
        alive = next;
        pos += 1;
        // A heuristic end, not a bound (a live beam's average could still rise): once
        // `width` continuations have finished and the worst of the best `width` of them scores
        // better per token than every live one does now. Stopping at the first finished one
        // would favour a sentence cut short (an early end token) over a live beam about to
        // write its likely last words ("he added.").
        if done.len() >= width {
            let mut scores: Vec<f64> = done.iter().map(|d| d.score).collect();
            scores.sort_by(|x, y| y.total_cmp(x));
            let best_alive = alive
                .iter()
                .map(|a| per_token(a.total(), n + 1))
                .fold(f64::NEG_INFINITY, f64::max);
            if scores[width - 1] >= best_alive {
                break;
            }
        }
    }
    done.sort_by(|x, y| y.score.total_cmp(&x.score));
    let best = done
        .first()
        .ok_or_else(|| Error::Engine("beam search ended with no continuation".into()))?;
    // A finished continuation's text, cut at its stop text; whether it was cut.
    let text_of = |d: &Done| -> Result<(String, bool)> {
        let mut text = tokenizer.decode(&d.tokens, true)?;
        let cut = find_stop_text(&text, 0, &config.stop_texts);
        if let Some(at) = cut {
            text.truncate(at);
        }
        Ok((text, cut.is_some()))
    };
    let (text, cut) = text_of(best)?;
    let stop = if cut { StopReason::Stop } else { best.stop };
    let mut alternatives: Vec<String> = Vec::with_capacity(done.len() - 1);
    for d in &done[1..] {
        let (other, _) = text_of(d)?;
        if other != text && !alternatives.contains(&other) {
            alternatives.push(other);
        }
    }
    on_text(&text);
    Ok(Generation {
        text,
        prompt_tokens: prompt.len(),
        cached_tokens: cached,
        generated_tokens: best.tokens.len(),
        prefill_secs,
        decode_secs: decode_start.elapsed().as_secs_f64(),
        stop,
        alternatives,
        speculation: Default::default(),
    })
}

/// `out` = log-softmax of `logits`.
fn log_softmax(logits: &[f32], out: &mut Vec<f32>) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&x| (x - max).exp()).sum();
    let shift = max + sum.ln();
    out.clear();
    out.extend(logits.iter().map(|&x| x - shift));
}

/// The `k` largest values of `lp` whose token passes `keep`, best first.
fn top(lp: &[f32], k: usize, keep: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, &v) in lp.iter().enumerate() {
        if best.len() == k && v <= best[k - 1].1 {
            continue;
        }
        if !keep(i as u32) || v.is_nan() {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= v);
        best.insert(at, (i as u32, v));
        best.truncate(k);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_keeps_the_largest_in_order_and_skips_excluded_tokens() {
        let lp = [-3.0, -0.5, -2.0, -0.1, -9.0, f32::NAN];
        assert_eq!(top(&lp, 2, |_| true), vec![(3, -0.1), (1, -0.5)]);
        assert_eq!(top(&lp, 2, |t| t != 3), vec![(1, -0.5), (2, -2.0)]);
        assert_eq!(top(&lp, 10, |_| true).len(), 5);
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let mut out = Vec::new();
        log_softmax(&[1.0, 2.0, 3.0, 1000.0], &mut out);
        let total: f32 = out.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert!(out[3] > -1e-3);
    }
}
