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
use crate::tasks::summarise::{Summariser, SummaryOptions};

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
    },
}

pub(super) fn run(cmd: EvalCommand, engine: EngineKind, offline: bool) -> Result<()> {
    match cmd {
        EvalCommand::Summarization {
            data,
            limit,
            model: model_spec,
            format,
        } => {
            // A bad file fails before a model is loaded.
            let articles = eval::read_articles(&data, limit.map(|n| n as usize))?;
            let device = device::open(device::DeviceChoice::Auto)?;
            let registry = Registry::load()?;
            let spec = model::resolve(model_spec.as_deref(), &registry, offline)?;
            let mut summariser = Summariser::new(spec, &device, engine)?;
            let options = SummaryOptions {
                max_tokens: 256,
                temperature: None,
                seed: 1,
                sentences: 3,
            };
            let total = articles.len();
            let mut progress = |i: usize, _: &str, missing: &[String]| {
                let note = if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (unsupported: {})", missing.join(", "))
                };
                eprintln!("eval: article {}/{total}{note}", i + 1);
            };
            let report = eval::summarization(&articles, &mut summariser, &options, &mut progress)?;
            let text = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
                }
                Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
                Format::Text => {
                    let mut s = format!(
                        "{} articles, median {:.1} s per article, {} summaries with unsupported facts\n\n{:<10} {:>8} {:>8} {:>10}\n",
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
