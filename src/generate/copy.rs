//! Deletion-only decoding: the model shortens a source text, but at every step it may only pick
//! a later token of that source, so the result is the source's own words in the source's order.
//! Nothing can be invented: no word, number or name the source does not hold, in that place.

use std::time::Instant;

use crate::engine::LoadedModel;
use crate::error::{Error, Result};

/// Limits of one shortening.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    /// Most tokens to copy.
    pub max_tokens: usize,
    /// Tokens that end the answer early (end of turn, end of text).
    pub stop_ids: Vec<u32>,
    /// Words the copy should stay within; past it, leaving out a clause or ending gains
    /// `length_push` in logits per word over.
    pub target_words: usize,
    /// See `target_words`; 0 lets the model alone decide.
    pub length_push: f32,
}

/// A shortened text and which source tokens it kept.
#[derive(Debug, Clone)]
pub struct Copied {
    /// The kept tokens, decoded.
    pub text: String,
    /// Indices into the source tokens, increasing.
    pub kept: Vec<usize>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Seconds spent on the prompt.
    pub prefill_secs: f64,
    /// Seconds spent copying after the prompt.
    pub decode_secs: f64,
}

/// Words that open a clause a summary can do without.
const CLAUSE_OPENERS: &[&str] = &[
    "who",
    "which",
    "whose",
    "where",
    "after",
    "before",
    "while",
    "when",
    "because",
    "although",
    "though",
    "since",
    "prompting",
    "according",
    "including",
    "despite",
    "amid",
    "following",
    "saying",
    "adding",
];

/// Where deletions may happen: whole clauses only. A clause starts after `,` `;` `:` or a
/// dash, or at a word that opens one ("who", "after", "according" ...). A deletion runs from
/// the end of one clause to the start of a later one, or drops the rest of the source.
struct Layout {
    /// Token j starts a word.
    word_start: Vec<bool>,
    /// Token j starts a clause: the copy may begin or resume here.
    clause_start: Vec<bool>,
    /// The source's closing punctuation, which may end the copy after any clause.
    last_punct: Option<usize>,
}

fn layout(model: &LoadedModel, source: &[u32]) -> Result<Layout> {
    let mut texts = Vec::with_capacity(source.len());
    for &t in source {
        texts.push(model.tokenizer.decode(&[t], false)?);
    }
    let n = texts.len();
    let word_start: Vec<bool> = (0..n)
        .map(|j| j == 0 || texts[j].starts_with(char::is_whitespace))
        .collect();
    let clause_start = (0..n)
        .map(|j| {
            if j == 0 {
                return true;
            }
            if !word_start[j] {
                return false;
            }
            let prev = texts[j - 1].trim_end();
            let after_mark = prev.ends_with([',', ';', ':', '-', '–', '—']);
            let word = texts[j].trim().to_lowercase();
            after_mark || CLAUSE_OPENERS.contains(&word.as_str())
        })
        .collect();
    let last_punct = texts
        .last()
        .filter(|t| {
            t.trim()
                .trim_matches(['"', '\'', '’', '”'])
                .ends_with(['.', '!', '?'])
        })
        .map(|_| n - 1);
    Ok(Layout {
        word_start,
        clause_start,
        last_punct,
    })
}

/// Let the model, prompted with `prompt`, copy a shortened version of `source` (token ids of
/// the text to shorten, as the tokenizer encodes it on its own).
pub fn shorten(
    model: &mut LoadedModel,
    prompt: &[u32],
    source: &[u32],
    config: &CopyConfig,
) -> Result<Copied> {
    let context = model.info.context_length;
    if prompt.is_empty() || source.is_empty() {
        return Err(Error::Usage(
            "shortening needs a prompt and a source".into(),
        ));
    }
    if prompt.len() + source.len() >= context {
        return Err(Error::PromptTooLong {
            tokens: prompt.len() + source.len(),
            context,
        });
    }
    let layout = layout(model, source)?;
    let start = Instant::now();
    let lm = &mut model.lm;
    lm.reset();
    let budget = config.max_tokens.min(source.len());
    lm.reserve(prompt.len() + budget + 1)?;
    let mut kept: Vec<usize> = Vec::with_capacity(budget);
    let mut words = 0usize;
    let mut logits = lm.forward(prompt, 0)?;
    let prefill_secs = start.elapsed().as_secs_f64();
    loop {
        let from = kept.last().map_or(0, |&p| p + 1);
        // At a clause boundary the copy may skip to any later clause or end; inside a clause
        // it must copy the next token.
        let at_boundary = from == source.len() || layout.clause_start[from];
        let over = words.saturating_sub(config.target_words) as f32 * config.length_push;
        let mut best: Option<(f32, usize)> = None;
        for j in from..source.len() {
            let allowed = j == from
                || (at_boundary && layout.clause_start[j])
                || (at_boundary && Some(j) == layout.last_punct);
            if allowed {
                let score = logits[source[j] as usize] + if j == from { 0.0 } else { over };
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, j));
                }
            }
            if !at_boundary {
                break;
            }
        }
        let stop = config
            .stop_ids
            .iter()
            .map(|&t| logits[t as usize])
            .fold(f32::MIN, f32::max)
            + over;
        let Some((score, j)) = best else { break };
        if !kept.is_empty() && at_boundary && stop > score {
            break;
        }
        kept.push(j);
        words += usize::from(layout.word_start[j]);
        // The rest of this clause is forced: no choice is made before the next clause start,
        // so those tokens are copied at once and run through the model in one pass (prefill
        // speed, not a step per token); only the last one's logits are needed.
        let pos = prompt.len() + kept.len() - 1;
        let mut end = j + 1;
        while end < source.len() && !layout.clause_start[end] && kept.len() < budget {
            kept.push(end);
            words += usize::from(layout.word_start[end]);
            end += 1;
        }
        if end == source.len() || kept.len() >= budget {
            break;
        }
        logits = lm.forward(&source[j..end], pos)?;
    }
    let ids: Vec<u32> = kept.iter().map(|&j| source[j]).collect();
    let text = model.tokenizer.decode(&ids, false)?;
    Ok(Copied {
        text,
        kept,
        prompt_tokens: prompt.len(),
        prefill_secs,
        decode_secs: start.elapsed().as_secs_f64() - prefill_secs,
    })
}
