//! What a summary run reports (`--format json`), and the model work summed into it.

use serde::Serialize;

use super::{Coverage, FactCheck, Mode};
use crate::generate::StopReason;
use crate::tasks::model::ModelReport;
use crate::text::clean::Removed;

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
    /// Generation speed; decoded together with other articles, over the steps it took part
    /// in (each of which also served the others).
    pub decode_tok_s: f64,
    /// Seconds to load the model.
    pub load_s: f64,
    /// Seconds for this article, cleaning to last token; for articles decoded together
    /// (`batch` above 1), from the start of their batch.
    pub seconds: f64,
    /// Articles decoded together with this one, itself included (1: alone).
    pub batch: usize,
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
pub(super) struct Work {
    pub(super) prompt_tokens: usize,
    pub(super) cached_tokens: usize,
    pub(super) generated_tokens: usize,
    pub(super) prefill_secs: f64,
    pub(super) decode_secs: f64,
    pub(super) speculation: crate::generate::Speculation,
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
    pub(super) fn of(s: &crate::generate::Speculation) -> Option<SpeculationReport> {
        (s.checks > 0).then(|| SpeculationReport {
            passes: s.passes,
            drafted: s.drafted,
            accepted: s.accepted,
            acceptance: super::round2(s.acceptance()),
            tokens_per_pass: super::round2(s.tokens_per_pass()),
        })
    }
}
