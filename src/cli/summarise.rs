//! `summarise FILE|- ...`: summarise articles with one loaded model and print each as text,
//! JSON or JSON lines. A file that cannot be read or summarised is named on stderr and the
//! others go on; the exit status is then 1.

use std::io::{IsTerminal, Write};

use super::{Format, RunArgs};
use crate::engine::device;
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::model;
use crate::tasks::summarise::{Length, Mode, Style, Summariser, SummaryOptions, SummaryReport};
use crate::text::input;
use crate::text::lang::Lang;

/// The quotations of a report as text lines, after a blank line.
fn quote_lines(report: &SummaryReport) -> String {
    let Some(quotes) = &report.quotes else {
        return String::new();
    };
    let mut s = String::from("\nQuotes:\n");
    for q in quotes {
        let who = q.quote.speaker.as_ref().map_or("?", |s| s.name.as_str());
        s += &format!("- {who}: “{}”\n", q.quote.text);
        if let Some(t) = &q.translation {
            s += &format!("  {t}\n");
        }
    }
    s
}

/// What the summary should be like; shared by a summary run and `eval summarization`.
#[derive(Debug, Clone, clap::Args)]
pub struct SummaryArgs {
    /// Summary length: short (2 sentences), medium (3) or long (5).
    #[arg(long, value_enum, default_value_t = Length::Medium)]
    pub length: Length,

    /// Exactly how many sentences (overrides --length).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub sentences: Option<u32>,

    /// Layout of the summary.
    #[arg(long, value_enum, default_value_t = Style::Highlights)]
    pub style: Style,

    /// Language of the summary, as a code or English name (e.g. `en`, `Spanish`); default:
    /// the article's language.
    #[arg(long, value_name = "LANG", value_parser = Lang::parse)]
    pub lang: Option<Lang>,

    /// How the summary is made: the article's leading statements, picked without the model
    /// (extractive, the default: it scores best); written by the model behind a fact guard
    /// (abstractive, the default when --model or --lang is given); or picked, then shortened by
    /// the model leaving out clauses (hybrid).
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,

    /// Most tokens of model context to use, prompt and answer together (default: the model's
    /// own); a longer article is cut down to the sentences ranked first, as `coverage` reports.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(64..))]
    pub context: Option<u32>,

    /// Most tokens to generate (default: sized from the length asked for).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: Option<u32>,

    /// Sampling temperature; 0 is greedy. Defaults to the model's registry setting.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,

    /// Seed for sampling.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
}

impl SummaryArgs {
    /// The options these arguments ask for; a bad value is a usage error. `model_named` says
    /// whether `--model` was given: naming a model, like asking for a language, asks for the
    /// model to write the summary when no `--mode` is given.
    pub fn options(&self, model_named: bool) -> Result<SummaryOptions> {
        if let Some(t) = self.temperature {
            if !(t >= 0.0 && t.is_finite()) {
                return Err(Error::Usage("--temperature must be 0 or more".into()));
            }
        }
        let mut options = SummaryOptions::new(self.length);
        if let Some(n) = self.sentences {
            options.sentences = n as usize;
        }
        options.style = self.style;
        options.lang = self.lang;
        options.mode = match self.mode {
            Some(mode) => mode,
            None if self.lang.is_some() || model_named => Mode::Abstractive,
            None => Mode::DEFAULT,
        };
        options.max_tokens = self.max_tokens.map(|n| n as usize);
        options.temperature = self.temperature;
        options.seed = self.seed;
        options.validate()?;
        Ok(options)
    }
}

pub(super) fn run(inputs: &[String], args: &RunArgs) -> Result<()> {
    let options = args.summary.options(args.model.is_some())?;
    if inputs.iter().filter(|i| *i == "-").count() > 1 {
        return Err(Error::Usage(
            "`-` (standard input) can be given only once".into(),
        ));
    }
    // With one input, a bad file fails before a model is loaded.
    let first = match inputs {
        [one] => Some(input::read(one)?),
        _ => None,
    };
    let device = device::open(args.device)?;
    let spec = if options.mode.needs_model() || args.to.is_some() {
        let registry = Registry::load()?;
        Some(model::resolve(
            args.model.as_deref(),
            &registry,
            args.offline,
        )?)
    } else {
        None
    };
    let mut summariser = Summariser::new(spec, &device, args.engine)?
        .with_context_cap(args.summary.context.map(|n| n as usize));
    let many = inputs.len() > 1;
    let stream = args.format == Format::Text && std::io::stdout().is_terminal();
    let mut stdout = std::io::stdout().lock();
    let (mut reports, mut failed) = (Vec::new(), 0usize);
    // Several abstractive summaries decode together, in groups that keep the slots busy while
    // shorter answers finish; printed in input order as each group ends.
    let width = args.batch as usize;
    let group = match options.mode == Mode::Abstractive && many && width > 1 {
        true => 2 * width,
        false => 1,
    };
    let mut first = first;
    for specs in inputs.chunks(group) {
        let (articles, mut unread): (Vec<Option<input::Article>>, Vec<Option<Error>>) = specs
            .iter()
            .map(
                |spec| match first.take().map_or_else(|| input::read(spec), Ok) {
                    Ok(a) => (Some(a), None),
                    Err(e) => (None, Some(e)),
                },
            )
            .unzip();
        let done: Vec<Result<SummaryReport>> = if group == 1 {
            let spec = &specs[0];
            if many && args.format == Format::Text {
                let _ = writeln!(stdout, "== {spec}");
            }
            let mut on_text = |piece: &str| {
                if stream {
                    let _ = stdout.write_all(piece.as_bytes());
                    let _ = stdout.flush();
                }
            };
            articles
                .iter()
                .zip(&mut unread)
                .map(|(a, e)| match a {
                    Some(a) => summariser.summarise(a, &options, &mut on_text),
                    None => Err(e.take().expect("an unread input has its error")),
                })
                .collect()
        } else {
            let ok: Vec<input::Article> = articles.iter().flatten().cloned().collect();
            let mut summaries = summariser.summarise_batch(&ok, &options, width).into_iter();
            articles
                .iter()
                .zip(&mut unread)
                .map(|(a, e)| match a {
                    Some(_) => summaries.next().expect("one summary per article"),
                    None => Err(e.take().expect("an unread input has its error")),
                })
                .collect()
        };
        for ((spec, article), report) in specs.iter().zip(&articles).zip(done) {
            if many && group > 1 && args.format == Format::Text {
                let _ = writeln!(stdout, "== {spec}");
            }
            let streamed = stream && group == 1;
            let report = report.and_then(|mut report| {
                if let (true, Some(article)) = (args.quotes, article) {
                    let text = summariser.clean(&article.text);
                    let found = crate::tasks::quotes::run(
                        &article.source,
                        &text,
                        args.to,
                        summariser.model(),
                        false,
                        1,
                    )?;
                    report.quotes = Some(found.quotes);
                }
                Ok(report)
            });
            let report = match report {
                Ok(r) => r,
                Err(e) if many => {
                    // Name it and go on: the other articles' work is not lost.
                    eprintln!("error: {e}");
                    failed += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let out = match args.format {
                Format::Text if streamed => "\n".to_string() + &quote_lines(&report),
                Format::Text => format!("{}\n", report.summary) + &quote_lines(&report),
                Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
                Format::Json if many => {
                    reports.push(report);
                    continue;
                }
                Format::Json => {
                    serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
                }
            };
            stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .at("<stdout>")?;
        }
    }
    if args.format == Format::Json && many {
        let all: &[SummaryReport] = &reports;
        let out = serde_json::to_string_pretty(all).expect("reports serialise") + "\n";
        stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
            .at("<stdout>")?;
    }
    if failed > 0 {
        return Err(Error::Input {
            source_name: format!("{failed} of {} inputs", inputs.len()),
            message: "failed (named above); the others were summarised".into(),
        });
    }
    Ok(())
}
