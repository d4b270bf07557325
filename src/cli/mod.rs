//! Command-line interface: clap definitions and one module per subcommand; no model logic.

mod bench;
mod eval;
mod models;
mod parity;
mod quotes;
mod summarise;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::device::DeviceChoice;
use crate::engine::EngineKind;
use crate::error::{Error, Result};

/// Summarise news articles with a local language model, offline.
#[derive(Debug, Parser)]
#[command(
    name = "summarise",
    version,
    about,
    after_help = "Examples:\n  summarise article.txt\n  cat article.txt | summarise - --format json\n  summarise --format jsonl articles/*.txt > summaries.jsonl\n  summarise models pull qwen2.5-coder-1.5b-instruct"
)]
pub struct Cli {
    /// Articles to summarise: text files, or `-` for standard input. Several files share one
    /// loaded model; each is reported as it finishes.
    #[arg(value_name = "FILE|-")]
    pub input: Vec<String>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of a summary run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Model: a registry id (`summarise models list`) or a path to a .gguf file.
    #[arg(long, short = 'm', value_name = "ID|PATH")]
    pub model: Option<String>,

    /// Device to run on; `auto` picks the best compiled-in device that is present.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,

    #[command(flatten)]
    pub summary: summarise::SummaryArgs,

    /// Also list the article's quotations (as `summarise quotes` does), from the same run.
    #[arg(long)]
    pub quotes: bool,

    /// With --quotes: translate quotations not in LANG with the model.
    #[arg(long, value_name = "LANG", requires = "quotes", value_parser = crate::text::lang::Lang::parse)]
    pub to: Option<crate::text::lang::Lang>,

    /// CPU threads (default: the physical cores); every subcommand takes it.
    #[arg(long, short = 't', value_name = "N", global = true,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Never touch the network; fail with a hint when a model is not downloaded.
    #[arg(
        long,
        env = "SUMMARISE_OFFLINE",
        global = true,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub offline: bool,

    /// Check drafts taken from the prompt several tokens per pass when decoding greedily (the
    /// output is the same). The default where the CPU has VNNI byte products (a drafted token
    /// costs about 0.3 of a step there, and drafts paid 5% on abstractive summaries); off on
    /// AVX2-only CPUs (about 0.4, no gain measured). README, "Speculative decoding".
    #[arg(long, global = true, conflicts_with = "no_speculate")]
    pub speculate: bool,

    /// Never check drafts (also SUMMARISE_SPECULATE=0).
    #[arg(long, global = true)]
    pub no_speculate: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// With several inputs, how many model-written summaries decode together (abstractive
    /// mode, CPU engine): each summary is the one it gets alone, and four together take about
    /// half the decode time of four in turn, for a KV cache per article. 1 decodes one at a
    /// time, streaming.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=7))]
    pub batch: u32,

    /// Inference engine: the built-in decoder, or candle-transformers' modules (the reference
    /// it is measured against; also used on CUDA/Metal for now).
    #[arg(long, value_enum, default_value_t = EngineKind::Native, global = true)]
    pub engine: EngineKind,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text (streamed on a terminal).
    Text,
    /// One JSON object (a JSON array of them for several inputs).
    Json,
    /// One JSON object per line, printed as each input finishes: for scripts and batches.
    Jsonl,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, fetch, check and remove models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Measure load time, prefill and decode speed and peak memory of a model.
    Bench(bench::BenchArgs),
    /// Score the model on evaluation data.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// The article's quotations: exact text and offsets, speaker, cue, kind, language, and a
    /// translation with --to.
    Quotes(quotes::QuotesArgs),
    /// Translate a text sentence by sentence with the model.
    Translate(quotes::TranslateArgs),
    /// Compare the logits of the engines and devices of this build on one text (CPU native,
    /// CPU candle, CUDA); exit 1 beyond the tolerances.
    Parity(parity::ParityArgs),
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(threads) = cli.run.threads {
        // candle sizes its CPU thread pools from these on first use, which is after this point.
        std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    // Read by every model loaded from here on (`generate::speculation_wanted`).
    if cli.run.speculate {
        std::env::set_var(crate::generate::SPECULATE_ENV, "1");
    } else if cli.run.no_speculate {
        std::env::set_var(crate::generate::SPECULATE_ENV, "0");
    }
    match cli.command {
        Some(Command::Models(cmd)) => models::run(cmd, cli.run.offline),
        Some(Command::Bench(args)) => bench::run(&args, cli.run.engine, cli.run.offline),
        Some(Command::Eval(cmd)) => eval::run(cmd, cli.run.engine, cli.run.offline),
        Some(Command::Quotes(args)) => quotes::run_quotes(&args, cli.run.engine, cli.run.offline),
        Some(Command::Translate(args)) => {
            quotes::run_translate(&args, cli.run.engine, cli.run.offline)
        }
        Some(Command::Parity(args)) => parity::run(&args, cli.run.offline),
        None if cli.input.is_empty() => Err(Error::Usage(
            "no input: pass article files, or `-` to read standard input (see --help)".into(),
        )),
        None => summarise::run(&cli.input, &cli.run),
    }
}
