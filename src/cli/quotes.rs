//! `summarise quotes FILE|-` and `summarise translate FILE|-`: quotations with speakers and
//! offsets, translated on request; plain text translated sentence by sentence.

use std::io::Write;

use clap::Args;

use super::Format;
use crate::engine::device::{self, DeviceChoice};
use crate::engine::EngineKind;
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::model::{self, Loaded};
use crate::tasks::quotes;
use crate::tasks::translate::Translator;
use crate::text::clean::Cleaner;
use crate::text::input;
use crate::text::lang::Lang;
use crate::text::langid;

/// Options of `summarise quotes`.
#[derive(Debug, Args)]
pub struct QuotesArgs {
    /// The article: a text or HTML file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub input: String,
    /// Translate every quotation not already in LANG (`en`, `Spanish`, ...) with the model.
    #[arg(long, value_name = "LANG", value_parser = Lang::parse)]
    pub to: Option<Lang>,
    /// Also let the model attribute the quotations the rules cannot, choosing among the people
    /// the article names, or nobody; those records say `attributed_by: model`.
    #[arg(long)]
    pub model_speakers: bool,
    /// Translate each quotation with a beam search of N beams instead of greedily (native CPU
    /// engine only).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub beams: u16,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format: text (a quotation a line), json (one object), jsonl (a quotation a line).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Options of `summarise translate`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// The text: a file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    pub input: String,
    /// Target language (`en`, `Spanish`, ...).
    #[arg(long, value_name = "LANG", value_parser = Lang::parse)]
    pub to: Lang,
    /// Source language (default: detected).
    #[arg(long, value_name = "LANG", value_parser = Lang::parse)]
    pub from: Option<Lang>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format: text (the translation), json or jsonl (each sentence with its source).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show the model each sentence after the ones before it, as earlier turns, so pronouns
    /// and terms follow the text (on 100 FLORES lines: chrF2 +0.2, about 1.6x the time).
    #[arg(long)]
    pub document: bool,
    /// Decode each sentence with a beam search of N beams instead of greedily (native CPU
    /// engine only).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub beams: u16,
}

/// Which model to run, where.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model: a registry id or a path to a .gguf file (default: the registry default).
    #[arg(long, short = 'm', value_name = "ID|PATH")]
    pub model: Option<String>,
    /// Device to run on.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
}

impl ModelArgs {
    /// Resolve and load the model.
    pub fn load(&self, engine: EngineKind, offline: bool) -> Result<Loaded> {
        let device = device::open(self.device)?;
        let registry = Registry::load()?;
        let spec = model::resolve(self.model.as_deref(), &registry, offline)?;
        Loaded::new(spec, &device, engine)
    }
}

fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .at("<stdout>")
}

pub(super) fn run_quotes(args: &QuotesArgs, engine: EngineKind, offline: bool) -> Result<()> {
    let article = input::read(&args.input)?;
    let (text, _) = Cleaner::builtin().clean(&article.text);
    let mut loaded = match args.to.is_some() || args.model_speakers {
        true => Some(args.model.load(engine, offline)?),
        false => None,
    };
    let report = quotes::run(
        &article.source,
        &text,
        args.to,
        loaded.as_mut(),
        args.model_speakers,
        args.beams as usize,
    )?;
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
        Format::Jsonl => report
            .quotes
            .iter()
            .map(|q| serde_json::to_string(q).expect("record serialises") + "\n")
            .collect(),
        Format::Text => report
            .quotes
            .iter()
            .map(|q| {
                let who = q.quote.speaker.as_ref().map_or("?", |s| s.name.as_str());
                let mut line = format!("{who}: “{}”", q.quote.text);
                if let Some(t) = &q.translation {
                    line += &format!("\n    {t}");
                }
                line + "\n"
            })
            .collect(),
    };
    print(&out)
}

pub(super) fn run_translate(args: &TranslateArgs, engine: EngineKind, offline: bool) -> Result<()> {
    let article = input::read(&args.input)?;
    let from = match args.from.or_else(|| langid::detect(&article.text)) {
        Some(l) => l,
        None => {
            return Err(Error::Input {
                source_name: article.source,
                message: "its language cannot be told; give it with --from".into(),
            })
        }
    };
    let mut loaded = args.model.load(engine, offline)?;
    let mut translator = match args.document {
        true => Translator::for_document(&mut loaded),
        false => Translator::new(&mut loaded),
    }
    .with_beams(args.beams as usize);
    let mut out = String::new();
    let mut pieces = Vec::new();
    for paragraph in article.text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let done = translator.text(paragraph, from, args.to)?;
        match args.format {
            Format::Text => {
                let joined: Vec<&str> = done.iter().map(|t| t.translation.as_str()).collect();
                out += &(joined.join(" ") + "\n\n");
                print(&std::mem::take(&mut out))?;
            }
            Format::Jsonl => {
                for t in &done {
                    print(&(serde_json::to_string(t).expect("serialises") + "\n"))?;
                }
            }
            Format::Json => pieces.extend(done),
        }
    }
    if args.format == Format::Json {
        let report = serde_json::json!({
            "input": article.source,
            "from": from.code,
            "to": args.to.code,
            "sentences": pieces,
        });
        print(&(serde_json::to_string_pretty(&report).expect("serialises") + "\n"))?;
    }
    Ok(())
}
