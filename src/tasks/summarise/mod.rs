//! Summarising one article: clean it, then pick sentences (extractive), shorten picked
//! sentences with the model (hybrid), or have the model write the summary behind the
//! faithfulness guard (abstractive); report what was done.

pub mod extract;
pub mod guard;
pub mod layout;
pub mod options;
pub mod plan;
pub mod prompt;

use std::time::Instant;

use serde::Serialize;

use crate::engine::device;
use crate::error::{Error, Result};
use crate::generate::copy::{self, CopyConfig};
use crate::generate::{template, StopReason};
use crate::tasks::model::{Loaded, ModelReport, ModelSpec};
use crate::text::clean::{Cleaner, Removed};
use crate::text::input::Article;

pub use guard::FactCheck;
pub use options::{Length, Mode, Style, SummaryOptions};
pub use plan::Coverage;

/// Logits added per word over the target, in favour of leaving a clause out (`--mode hybrid`).
const LENGTH_PUSH: f32 = 0.5;

/// What a summary run reports (the `--format json` output).
#[derive(Debug, Clone, Serialize)]
pub struct SummaryReport {
    /// The input's name.
    pub input: String,
    /// The summary.
    pub summary: String,
    /// How the summary was made.
    pub mode: Mode,
    /// How much of the article was used.
    pub coverage: Coverage,
    /// The faithfulness guard's findings.
    pub facts: FactCheck,
    /// Lines of web clutter removed from the article before summarising, with their rule.
    pub removed: Vec<Removed>,
    /// Which model was used; `null` for extractive summaries.
    pub model: Option<ModelReport>,
    /// Device used.
    pub device: String,
    /// CPU threads used.
    pub threads: usize,
    /// Tokens in the prompts.
    pub prompt_tokens: usize,
    /// Of those, tokens kept in the cache from the previous request rather than run again.
    pub cached_tokens: usize,
    /// Tokens generated (or copied, in hybrid mode).
    pub generated_tokens: usize,
    /// Prompt processing speed, over the tokens run.
    pub prefill_tok_s: f64,
    /// Generation speed.
    pub decode_tok_s: f64,
    /// Seconds to load the model.
    pub load_s: f64,
    /// Seconds for this article, cleaning to last token.
    pub seconds: f64,
    /// Why generation stopped (`stop` when no text was generated).
    pub stop_reason: StopReason,
    /// What checking drafts from the article did; `null` when no draft was checked.
    pub speculation: Option<SpeculationReport>,
    /// The article's quotations, when asked for (`--quotes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quotes: Option<Vec<crate::tasks::quotes::QuoteRecord>>,
}

/// What the model did for one summary, summed over its calls.
#[derive(Debug, Default)]
struct Work {
    prompt_tokens: usize,
    cached_tokens: usize,
    generated_tokens: usize,
    prefill_secs: f64,
    decode_secs: f64,
    speculation: crate::generate::Speculation,
}

/// Speculative decoding's figures for one article.
#[derive(Debug, Clone, Serialize)]
pub struct SpeculationReport {
    /// Forward passes after the prompts'.
    pub passes: usize,
    /// Draft tokens proposed, and kept.
    pub drafted: usize,
    pub accepted: usize,
    /// Share of drafted tokens kept.
    pub acceptance: f64,
    /// Tokens generated per pass.
    pub tokens_per_pass: f64,
}

impl SpeculationReport {
    fn of(s: &crate::generate::Speculation) -> Option<SpeculationReport> {
        (s.checks > 0).then(|| SpeculationReport {
            passes: s.passes,
            drafted: s.drafted,
            accepted: s.accepted,
            acceptance: round2(s.acceptance()),
            tokens_per_pass: round2(s.tokens_per_pass()),
        })
    }
}

/// Summarises many articles with one loaded model (or none, for extractive summaries).
pub struct Summariser {
    loaded: Option<Loaded>,
    cleaner: Cleaner,
    /// Most tokens of context to use (the model's own, or less when asked).
    context_cap: Option<usize>,
}

impl Summariser {
    /// Load the model named by `spec` onto `device`; `None` makes a summariser for extractive
    /// summaries only.
    pub fn new(
        spec: Option<ModelSpec>,
        device: &candle_core::Device,
        engine: crate::engine::EngineKind,
    ) -> Result<Summariser> {
        let loaded = match spec {
            Some(spec) => Some(Loaded::new(spec, device, engine)?),
            None => None,
        };
        Ok(Summariser {
            loaded,
            cleaner: Cleaner::builtin(),
            context_cap: None,
        })
    }

    /// Use at most `tokens` of the model's context (prompt and answer).
    pub fn with_context_cap(mut self, tokens: Option<usize>) -> Summariser {
        self.context_cap = tokens;
        self
    }

    /// Summarise `article`, streaming text to `on_text`.
    pub fn summarise(
        &mut self,
        article: &Article,
        options: &SummaryOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<SummaryReport> {
        options.validate()?;
        let start = Instant::now();
        let (text, removed) = self.cleaner.clean(&article.text);
        if text.trim().is_empty() {
            return Err(Error::Input {
                source_name: article.source.clone(),
                message:
                    "holds nothing but web clutter (bylines, share prompts, links) once cleaned"
                        .into(),
            });
        }
        let mut work = Work::default();
        let mut facts = FactCheck::default();
        let (sentences, coverage, stop) = match options.mode {
            Mode::Abstractive => {
                let (written, coverage, stop) = self.write(article, &text, options, &mut work)?;
                let (kept, check) = guard::check(written, &text);
                facts = check;
                let kept = if kept.is_empty() {
                    // Every sentence made something up: fall back to the article's own.
                    let all = extract::split(&text);
                    extract::select(&all, options.sentences)
                        .into_iter()
                        .map(|i| all[i].clone())
                        .collect()
                } else {
                    kept
                };
                stream(&kept, options.style, on_text);
                (kept, coverage, stop)
            }
            Mode::Extractive | Mode::Hybrid => {
                let all = extract::split(&text);
                let picked = extract::select(&all, options.sentences);
                let mut out = Vec::with_capacity(picked.len());
                for (k, &i) in picked.iter().enumerate() {
                    let sentence = match options.mode {
                        Mode::Hybrid => self.shorten(article, &all[i], options, &mut work)?,
                        _ => all[i].clone(),
                    };
                    on_text(&layout::piece(&sentence, k, options.style));
                    out.push(sentence);
                }
                (out, plan::extractive(all.len()), StopReason::Stop)
            }
        };
        if options.mode != Mode::Abstractive {
            // Copied words need no guard, but the report still lists what the summary holds.
            let (_, check) = guard::check(sentences.clone(), &text);
            facts = check;
        }
        let (model, device, load_s) = match &self.loaded {
            Some(l) => (
                Some(l.spec.report()),
                device::name(&l.model.device),
                l.model.load_secs,
            ),
            None => (None, "none".to_string(), 0.0),
        };
        Ok(SummaryReport {
            input: article.source.clone(),
            summary: layout::join(&sentences, options.style),
            mode: options.mode,
            coverage,
            facts,
            removed,
            model,
            device,
            threads: cpu_threads(),
            prompt_tokens: work.prompt_tokens,
            cached_tokens: work.cached_tokens,
            generated_tokens: work.generated_tokens,
            prefill_tok_s: round2(rate(
                work.prompt_tokens - work.cached_tokens,
                work.prefill_secs,
            )),
            decode_tok_s: round2(rate(work.generated_tokens, work.decode_secs)),
            load_s: round2(load_s),
            seconds: round2(start.elapsed().as_secs_f64()),
            stop_reason: stop,
            speculation: SpeculationReport::of(&work.speculation),
            quotes: None,
        })
    }

    /// The loaded model, if any (to translate with the same model).
    pub fn model(&mut self) -> Option<&mut Loaded> {
        self.loaded.as_mut()
    }

    /// The article as the summariser reads it: cleaned of web clutter.
    pub fn clean(&self, text: &str) -> String {
        self.cleaner.clean(text).0
    }

    fn loaded(&mut self, mode: Mode) -> Result<&mut Loaded> {
        self.loaded.as_mut().ok_or_else(|| {
            Error::Usage(format!(
                "--mode {} needs a model, and this summariser was made without one",
                mode.name()
            ))
        })
    }

    /// The model writes the summary from as much of the article as fits its context.
    fn write(
        &mut self,
        article: &Article,
        text: &str,
        options: &SummaryOptions,
        work: &mut Work,
    ) -> Result<(Vec<String>, Coverage, StopReason)> {
        let cap = self.context_cap;
        let l = self.loaded(Mode::Abstractive)?;
        let context = cap.map_or(l.model.info.context_length, |c| {
            c.min(l.model.info.context_length)
        });
        let answer = options.answer_budget();
        let overhead = {
            let empty = prompt::request(&l.spec.prompts, options, "");
            l.encode(&empty.system, &empty.user, &empty.answer)?.len()
        };
        let room = context.saturating_sub(overhead + answer);
        if room < 16 {
            return Err(Error::Input {
                source_name: article.source.clone(),
                message: format!(
                    "cannot be summarised in a context of {context} tokens: the instructions take \
                     {overhead} and the answer {answer}; allow more context or a shorter summary"
                ),
            });
        }
        let tokenizer = &l.model.tokenizer;
        let mut count = |t: &str| Ok(tokenizer.encode(t, false, false)?.len());
        let (used, coverage) = plan::fit(text, room, &mut count)?;
        let request = prompt::request(&l.spec.prompts, options, &used);
        let ids = l.encode(&request.system, &request.user, &request.answer)?;
        let gen = l.generate(&ids, answer, &[], options.temperature, options.seed, 1)?;
        work.prompt_tokens += gen.prompt_tokens;
        work.cached_tokens += gen.cached_tokens;
        work.generated_tokens += gen.generated_tokens;
        work.prefill_secs += gen.prefill_secs;
        work.decode_secs += gen.decode_secs;
        work.speculation.add(&gen.speculation);
        let whole = whole_sentences(gen.text.trim(), gen.stop);
        let sentences = layout::lines(&whole)
            .iter()
            .flat_map(|line| crate::text::sentences::split(line))
            .collect();
        Ok((sentences, coverage, gen.stop))
    }

    /// The model shortens one sentence of the article by leaving out clauses.
    fn shorten(
        &mut self,
        article: &Article,
        sentence: &str,
        options: &SummaryOptions,
        work: &mut Work,
    ) -> Result<String> {
        let l = self.loaded(Mode::Hybrid)?;
        let words = options.words.to_string();
        let user = template::fill(
            &l.spec.prompts.shorten,
            &[("{words}", &words), ("{sentence}", sentence)],
        );
        let ids = l.encode(&l.spec.prompts.system, &user, "")?;
        let source = l.model.tokenizer.encode(sentence, false, false)?;
        let config = CopyConfig {
            max_tokens: source.len(),
            stop_ids: l.stop_ids.clone(),
            target_words: options.words,
            length_push: LENGTH_PUSH,
        };
        let copied = match copy::shorten(&mut l.model, &ids, &source, &config) {
            Ok(c) => c,
            // A sentence longer than the context is kept whole rather than failing the article.
            Err(Error::PromptTooLong { .. }) => return Ok(sentence.to_string()),
            Err(e) => {
                return Err(Error::Input {
                    source_name: article.source.clone(),
                    message: format!("could not be shortened: {e}"),
                })
            }
        };
        work.prompt_tokens += copied.prompt_tokens;
        work.generated_tokens += copied.kept.len();
        work.prefill_secs += copied.prefill_secs;
        work.decode_secs += copied.decode_secs;
        Ok(layout::tidy_copy(&copied.text, sentence))
    }
}

/// Send the finished sentences to `on_text` as `layout::join` lays them out.
fn stream(sentences: &[String], style: Style, on_text: &mut dyn FnMut(&str)) {
    for (k, s) in sentences.iter().enumerate() {
        on_text(&layout::piece(s, k, style));
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Threads candle's CPU kernels use (`--threads`, else the physical cores).
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// A summary cut short (by the token limit or a repetition) ends at its last complete sentence,
/// when it has one.
fn whole_sentences(text: &str, stop: StopReason) -> String {
    if matches!(stop, StopReason::Stop) {
        return text.to_string();
    }
    let mut sentences = crate::text::sentences::split(text);
    if sentences.len() > 1
        && !sentences
            .last()
            .is_some_and(|s| crate::text::sentences::ends_sentence(s))
    {
        sentences.pop();
        // Keep the writer's own spacing: cut the text at the end of the last whole sentence.
        if let Some(last) = sentences.last() {
            if let Some(at) = text.find(last.as_str()) {
                return text[..at + last.len()].to_string();
            }
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_summary_ends_at_its_last_whole_sentence() {
        let text = "The council voted to close the library. Residents will appeal. The county";
        assert_eq!(
            whole_sentences(text, StopReason::MaxTokens),
            "The council voted to close the library. Residents will appeal."
        );
        assert_eq!(whole_sentences(text, StopReason::Stop), text);
        // A single unfinished sentence is kept rather than emptied.
        assert_eq!(
            whole_sentences("The council voted", StopReason::MaxTokens),
            "The council voted"
        );
    }
}
