//! Summarising one article: build the prompt, generate, and report what was done.

use std::time::Instant;

use serde::Serialize;

use crate::engine::{device, LoadedModel};
use crate::error::{Error, Result};
use crate::generate::template::{self, Prompt};
use crate::generate::{self, GenerateConfig, SamplerConfig, StopReason};
use crate::tasks::model::{self, ModelReport, ModelSpec};
use crate::text::clean::{Cleaner, Removed};
use crate::text::input::Article;

/// Options of a summary, after the command line and registry defaults are merged.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Overrides the model's default temperature.
    pub temperature: Option<f64>,
    /// Sampling seed.
    pub seed: u64,
    /// Sentences asked for.
    pub sentences: usize,
}

/// What a summary run reports (the `--format json` output).
#[derive(Debug, Clone, Serialize)]
pub struct SummaryReport {
    /// The input's name.
    pub input: String,
    /// The summary.
    pub summary: String,
    /// Lines of web clutter removed from the article before summarising, with their rule.
    pub removed: Vec<Removed>,
    /// Which model wrote it.
    pub model: ModelReport,
    /// Device used.
    pub device: String,
    /// CPU threads used.
    pub threads: usize,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Prompt processing speed.
    pub prefill_tok_s: f64,
    /// Generation speed.
    pub decode_tok_s: f64,
    /// Seconds to load the model.
    pub load_s: f64,
    /// Seconds for this article, prompt to last token.
    pub seconds: f64,
    /// Why generation stopped.
    pub stop_reason: StopReason,
}

/// A loaded model ready to summarise many articles.
pub struct Summariser {
    spec: ModelSpec,
    model: LoadedModel,
    stop_ids: Vec<u32>,
    stop_texts: Vec<String>,
    cleaner: Cleaner,
}

impl Summariser {
    /// Load the model named by `spec` onto `device`.
    pub fn new(
        spec: ModelSpec,
        device: &candle_core::Device,
        engine: crate::engine::EngineKind,
    ) -> Result<Summariser> {
        let model = model::load(&spec, device, engine)?;
        let (stop_ids, stop_texts) = model::stops(&spec, &model);
        Ok(Summariser {
            spec,
            model,
            stop_ids,
            stop_texts,
            cleaner: Cleaner::builtin(),
        })
    }

    /// Summarise `article`, streaming text to `on_text`.
    pub fn summarise(
        &mut self,
        article: &Article,
        options: &SummaryOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<SummaryReport> {
        if options.max_tokens == 0 {
            return Err(Error::Usage("--max-tokens must be at least 1".into()));
        }
        let start = Instant::now();
        let system = format!(
            "You are a careful news editor. Summarise the article in {} short sentences. \
             Use only facts stated in the article; keep names and numbers exactly as written.",
            options.sentences
        );
        let (text, removed) = self.cleaner.clean(&article.text);
        if text.trim().is_empty() {
            return Err(Error::Input {
                source_name: article.source.clone(),
                message:
                    "holds nothing but web clutter (bylines, share prompts, links) once cleaned"
                        .into(),
            });
        }
        let user = format!("Article:\n{text}");
        let prompt = Prompt {
            system: &system,
            user: &user,
            answer_prefix: match self.spec.template {
                crate::models::registry::TemplateKind::Chatml => "",
                _ => "Summary:",
            },
        };
        let pieces = template::render(self.spec.template, &prompt);
        let ids = template::encode(&self.model.tokenizer, &pieces)?;
        let mut params = self.spec.sampling;
        if let Some(t) = options.temperature {
            params.temperature = t;
        }
        let config = GenerateConfig {
            max_tokens: options.max_tokens,
            stop_ids: self.stop_ids.clone(),
            stop_texts: self.stop_texts.clone(),
            sampler: SamplerConfig {
                params,
                seed: options.seed,
            },
        };
        let gen = generate::generate(&mut self.model, &ids, &config, on_text).map_err(|e| match e {
            Error::PromptTooLong { tokens, context } => Error::Input {
                source_name: article.source.clone(),
                message: format!(
                    "is too long for model `{}`: the prompt is {tokens} tokens and the model holds \
                     {context}; splitting long articles is not implemented yet, so summarise a shorter part",
                    self.spec.id
                ),
            },
            other => other,
        })?;
        Ok(SummaryReport {
            input: article.source.clone(),
            summary: whole_sentences(gen.text.trim(), gen.stop),
            removed,
            model: self.spec.report(),
            device: device::name(&self.model.device),
            threads: cpu_threads(),
            prompt_tokens: gen.prompt_tokens,
            generated_tokens: gen.generated_tokens,
            prefill_tok_s: round2(gen.prefill_tok_s()),
            decode_tok_s: round2(gen.decode_tok_s()),
            load_s: round2(self.model.load_secs),
            seconds: round2(start.elapsed().as_secs_f64()),
            stop_reason: gen.stop,
        })
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
    let ends_sentence = |s: &str| {
        s.trim_end_matches(['"', '\'', '”', '’', ')'])
            .ends_with(['.', '!', '?'])
    };
    let mut sentences = crate::text::sentences::split(text);
    if sentences.len() > 1 && !sentences.last().is_some_and(|s| ends_sentence(s)) {
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
