//! `summarise eval summarization`: score summaries against reference highlights.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::Format;
use crate::engine::{device, EngineKind};
use crate::error::{IoContext, Result};
use crate::models::Registry;
use crate::tasks::eval;
use crate::tasks::model;
use crate::tasks::summarise::Summariser;

/// Evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// ROUGE-1/2/Lsum of the model's summaries and of Lead-3 and the stored systems, on a
    /// CNN/DailyMail-style JSONL file (one article a line).
    Summarization {
        /// The evaluation file, e.g. ../shared/eval/summarization/frank_cnndm_test_250.jsonl.
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Score only the first N articles.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// Model: a registry id or a path to a .gguf file (default: the registry default).
        #[arg(long, short = 'm', value_name = "ID|PATH")]
        model: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also write each article's summary, scores and unsupported facts to FILE as JSON
        /// lines, as each finishes.
        #[arg(long, value_name = "FILE")]
        summaries: Option<PathBuf>,
        #[command(flatten)]
        summary: super::summarise::SummaryArgs,
    },
}

pub(super) fn run(cmd: EvalCommand, engine: EngineKind, offline: bool) -> Result<()> {
    match cmd {
        EvalCommand::Summarization {
            data,
            limit,
            model: model_spec,
            format,
            summaries,
            summary,
        } => {
            let options = summary.options(model_spec.is_some())?;
            // A bad file fails before a model is loaded.
            let articles = eval::read_articles(&data, limit.map(|n| n as usize))?;
            let device = device::open(device::DeviceChoice::Auto)?;
            let spec = if options.mode.needs_model() {
                let registry = Registry::load()?;
                Some(model::resolve(model_spec.as_deref(), &registry, offline)?)
            } else {
                None
            };
            let mut summariser = Summariser::new(spec, &device, engine)?
                .with_context_cap(summary.context.map(|n| n as usize));
            let total = articles.len();
            // Created before the model loads, so a bad path fails at once.
            let mut saved = match &summaries {
                Some(path) => Some((std::fs::File::create(path).at(path)?, path)),
                None => None,
            };
            let mut write_error = None;
            let mut progress = |r: &eval::ArticleResult| {
                let note = if r.unsupported.is_empty() {
                    String::new()
                } else {
                    format!(" (unsupported: {})", r.unsupported.join(", "))
                };
                eprintln!(
                    "eval: article {}/{total}: R1 {:.1} R2 {:.1} RLsum {:.1}, {:.1} s{note}",
                    r.index + 1,
                    r.scores.rouge1,
                    r.scores.rouge2,
                    r.scores.rouge_lsum,
                    r.seconds
                );
                if let Some((file, path)) = &mut saved {
                    let line = serde_json::to_string(r).expect("result serialises") + "\n";
                    if let Err(e) = file.write_all(line.as_bytes()).at(&**path) {
                        write_error.get_or_insert(e);
                    }
                }
            };
            let report = eval::summarization(&articles, &mut summariser, &options, &mut progress)?;
            if let Some(e) = write_error {
                return Err(e);
            }
            let text = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
                }
                Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
                Format::Text => {
                    let mut s = format!(
                        "{} articles, median {:.3} s per article, {} summaries with unsupported facts\n\n{:<10} {:>8} {:>8} {:>10}\n",
                        report.n, report.secs_per_article_median, report.unsupported_facts, "system", "ROUGE-1", "ROUGE-2", "ROUGE-Lsum"
                    );
                    let b = &report.baselines;
                    let ours = eval::RougeScores {
                        rouge1: report.rouge1,
                        rouge2: report.rouge2,
                        rouge_lsum: report.rouge_lsum,
                    };
                    for (name, r) in [
                        ("ours", &ours),
                        ("lead3", &b.lead3),
                        ("bart", &b.bart),
                        ("bert_sum", &b.bert_sum),
                        ("bus", &b.bus),
                        ("pgn", &b.pgn),
                        ("s2s", &b.s2s),
                    ] {
                        s += &format!(
                            "{name:<10} {:>8.2} {:>8.2} {:>10.2}\n",
                            r.rouge1, r.rouge2, r.rouge_lsum
                        );
                    }
                    s
                }
            };
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
                .at("<stdout>")
        }
    }
}
