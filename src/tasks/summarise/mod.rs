//! Summarising one article: clean it, then pick sentences (extractive), shorten picked
//! sentences with the model (hybrid), or have the model write the summary behind the
//! faithfulness guard (abstractive); report what was done.

pub mod extract;
pub mod guard;
pub mod layout;
pub mod options;
pub mod plan;
pub mod prompt;
mod report;
mod write;

use std::time::Instant;

use crate::engine::device;
use crate::error::{Error, Result};
use crate::generate::copy::{self, CopyConfig};
use crate::generate::{template, StopReason};
use crate::tasks::model::{Loaded, ModelSpec};
use crate::text::clean::{Cleaner, Removed};
use crate::text::input::Article;

pub use guard::FactCheck;
pub use options::{Length, Mode, Style, SummaryOptions};
pub use plan::Coverage;
use report::Work;
pub use report::{SpeculationReport, SummaryReport};

/// Logits added per word over the target, in favour of leaving a clause out (`--mode hybrid`).
const LENGTH_PUSH: f32 = 0.5;

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
        let (text, removed) = self.begin(article)?;
        let mut work = Work::default();
        let (sentences, facts, coverage, stop) = match options.mode {
            Mode::Abstractive => {
                let (ids, coverage) = self.request(article, &text, options)?;
                let gen = self.loaded(Mode::Abstractive)?.generate(
                    &ids,
                    options.answer_budget(),
                    &[],
                    options.temperature,
                    options.seed,
                    1,
                )?;
                let (kept, facts, stop) = write::written(gen, &text, options, &mut work);
                stream(&kept, options.style, on_text);
                (kept, facts, coverage, stop)
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
                // Copied words need no guard, but the report still lists what the summary holds.
                let (_, facts) = guard::check(out.clone(), &text);
                (out, facts, plan::extractive(all.len()), StopReason::Stop)
            }
        };
        Ok(self.report(
            article,
            options,
            Summary {
                sentences,
                facts,
                coverage,
                stop,
                removed,
                batch: 1,
            },
            work,
            start,
        ))
    }

    /// The article cleaned of web clutter, and what was removed; an error when nothing is left.
    fn begin(&self, article: &Article) -> Result<(String, Vec<Removed>)> {
        let (text, removed) = self.cleaner.clean(&article.text);
        if text.trim().is_empty() {
            return Err(Error::Input {
                source_name: article.source.clone(),
                message:
                    "holds nothing but web clutter (bylines, share prompts, links) once cleaned"
                        .into(),
            });
        }
        Ok((text, removed))
    }

    /// The report of a finished summary.
    fn report(
        &self,
        article: &Article,
        options: &SummaryOptions,
        summary: Summary,
        work: Work,
        start: Instant,
    ) -> SummaryReport {
        let (model, device, load_s) = match &self.loaded {
            Some(l) => (
                Some(l.spec.report()),
                device::name(&l.model.device),
                l.model.load_secs,
            ),
            None => (None, "none".to_string(), 0.0),
        };
        SummaryReport {
            input: article.source.clone(),
            summary: layout::join(&summary.sentences, options.style),
            mode: options.mode,
            coverage: summary.coverage,
            facts: summary.facts,
            removed: summary.removed,
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
            batch: summary.batch,
            stop_reason: summary.stop,
            speculation: SpeculationReport::of(&work.speculation),
            quotes: None,
        }
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

/// What a summary holds, for its report.
struct Summary {
    sentences: Vec<String>,
    facts: FactCheck,
    coverage: Coverage,
    stop: StopReason,
    removed: Vec<Removed>,
    /// Articles decoded together with this one, itself included.
    batch: usize,
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
