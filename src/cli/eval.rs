//! `summarise eval summarization|translation|quotes`: the evaluations on the command line;
//! the scoring lives in `tasks::eval`.

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
use crate::tasks::translate::Translator;

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
    /// Corpus chrF2 and BLEU (as sacrebleu computes them) of the model's translations, line by
    /// line: --src and --ref files of aligned lines, or --jsonl with --src-key and --ref-key.
    Translation {
        /// Source lines, one a line.
        #[arg(
            long,
            value_name = "FILE",
            requires = "reference",
            conflicts_with = "jsonl"
        )]
        src: Option<PathBuf>,
        /// Reference translations, aligned with --src.
        #[arg(long = "ref", id = "reference", value_name = "FILE")]
        reference: Option<PathBuf>,
        /// JSON lines holding source and reference in the fields --src-key and --ref-key.
        #[arg(long, value_name = "FILE")]
        jsonl: Option<PathBuf>,
        #[arg(long, default_value = "src", value_name = "KEY")]
        src_key: String,
        #[arg(long, default_value = "ref", value_name = "KEY")]
        ref_key: String,
        /// Source language (default: detected from the first lines).
        #[arg(long, value_name = "LANG", value_parser = crate::text::lang::Lang::parse)]
        from: Option<crate::text::lang::Lang>,
        /// Target language.
        #[arg(long, value_name = "LANG", default_value = "en", value_parser = crate::text::lang::Lang::parse)]
        to: crate::text::lang::Lang,
        /// Translate only the first N lines.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
        /// Also write every line's translation to FILE as JSON lines, as each finishes.
        #[arg(long, value_name = "FILE")]
        translations: Option<PathBuf>,
        /// Read the lines as one text: each is shown to the model after the lines before it,
        /// so pronouns and terms follow the text (on 100 FLORES lines: chrF2 +0.2, about 1.6x
        /// the time).
        #[arg(long)]
        document: bool,
        /// Decode each line with a beam search of N beams instead of greedily (native CPU
        /// engine only).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        beams: u16,
        #[command(flatten)]
        model: super::quotes::ModelArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Precision, recall and speaker accuracy of `summarise quotes` on passages annotated by
    /// hand (the built-in set of 44 English and Spanish passages, or --data).
    Quotes {
        /// Annotated passages as JSON lines (default: the built-in set).
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
        /// Also let the model attribute the quotations the rules cannot (as `quotes
        /// --model-speakers` does).
        #[arg(long)]
        model_speakers: bool,
        #[command(flatten)]
        model: super::quotes::ModelArgs,
        /// Output format; text also lists every miss.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub(super) fn run(cmd: EvalCommand, engine: EngineKind, offline: bool) -> Result<()> {
    match cmd {
        EvalCommand::Translation {
            src,
            reference,
            jsonl,
            src_key,
            ref_key,
            from,
            to,
            limit,
            translations,
            document,
            beams,
            model,
            format,
        } => {
            let mut pairs = match (&src, &reference, &jsonl) {
                (Some(s), Some(r), None) => eval::translation::read_aligned(s, r)?,
                (None, None, Some(j)) => eval::translation::read_jsonl(j, &src_key, &ref_key)?,
                _ => {
                    return Err(crate::error::Error::Usage(
                        "give --src and --ref, or --jsonl (with --src-key and --ref-key)".into(),
                    ))
                }
            };
            if let Some(n) = limit {
                pairs.truncate(n as usize);
            }
            let sample: String = pairs
                .iter()
                .take(20)
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let from = from
                .or_else(|| crate::text::langid::detect(&sample))
                .ok_or_else(|| {
                    crate::error::Error::Usage(
                        "the source language cannot be told; give --from".into(),
                    )
                })?;
            let mut saved = match &translations {
                Some(path) => Some((std::fs::File::create(path).at(path)?, path.clone())),
                None => None,
            };
            let mut loaded = model.load(engine, offline)?;
            let mut translator = match document {
                true => Translator::for_document(&mut loaded),
                false => Translator::new(&mut loaded),
            }
            .with_beams(beams as usize);
            let total = pairs.len();
            let mut write_error = None;
            let mut progress = |r: &eval::translation::LineResult| {
                eprintln!("eval: line {}/{total}, {:.1} s", r.index + 1, r.seconds);
                if let Some((file, path)) = &mut saved {
                    let line = serde_json::to_string(r).expect("result serialises") + "\n";
                    if let Err(e) = file.write_all(line.as_bytes()).at(&*path) {
                        write_error.get_or_insert(e);
                    }
                }
            };
            let report =
                eval::translation::evaluate(&pairs, from, to, &mut translator, &mut progress)?;
            if let Some(e) = write_error {
                return Err(e);
            }
            let text = match format {
                Format::Json => serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
                Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
                Format::Text => format!(
                    "{} lines {}->{}: chrF2 {:.2}  BLEU {:.2}  median {:.2} s a line  names kept {:.1}% (of those the reference keeps: {:.1}%)  quotation marks kept {:.1}%  both {:.1}%\n",
                    report.n, from.code, to.code, report.chrf, report.bleu, report.secs_per_line_median,
                    report.names_kept * 100.0, report.ref_names_kept * 100.0, report.marks_kept * 100.0,
                    report.names_and_marks_kept * 100.0
                ),
            };
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
                .at("<stdout>")
        }
        EvalCommand::Quotes {
            data,
            model_speakers,
            model,
            format,
        } => {
            let passages = eval::quotes::load(data.as_deref())?;
            let report = match model_speakers {
                false => eval::quotes::evaluate(&passages),
                true => {
                    let mut loaded = model.load(engine, offline)?;
                    eval::quotes::evaluate_with(&passages, &mut |text| {
                        crate::tasks::quotes::find_with_model(&mut loaded, text)
                    })?
                }
            };
            let text = match format {
                Format::Json => {
                    serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
                }
                Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
                Format::Text => {
                    let mut s = String::new();
                    for e in &report.errors {
                        s += &format!("  {e}\n");
                    }
                    let line = |name: &str, r: &eval::quotes::Scores| {
                        format!(
                            "{name:<6} {:>3} passages {:>4} quotes  precision {:.3}  recall {:.3}  speaker accuracy {:.3}\n",
                            r.passages, r.gold, r.precision, r.recall, r.speaker_accuracy
                        )
                    };
                    s += &line("all", &report.all);
                    for (lang, r) in &report.by_lang {
                        s += &line(lang, r);
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
