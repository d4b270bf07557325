//! `summarise bench`: measure a model's load time, speed and memory, optionally beside
//! llama.cpp's `llama-bench` on the same file.

use std::io::Write;

use serde::Serialize;

use super::Format;
use crate::engine::{device, EngineKind};
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::anchor::{self, Anchor, Ratio};
use crate::tasks::bench::{self, BenchOptions, BenchReport};
use crate::tasks::bench_summarise;
use crate::tasks::model;
use crate::tasks::summarise::cpu_threads;
use crate::text::input;

/// What `summarise bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    /// The model alone: load, prefill and decode of synthetic tokens, peak memory.
    Model,
    /// Summarising the given articles every way (extractive, hybrid, abstractive with and
    /// without drafts, several decoding together), and llama.cpp on the same prompts with
    /// `--vs-llamacpp`.
    Summarise,
}

/// Options of `summarise bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Task::Model)]
    pub task: Task,

    /// Articles for `--task summarise` (text or HTML files).
    #[arg(value_name = "FILE")]
    pub articles: Vec<String>,

    /// Model: a registry id or a path to a .gguf file (default: the registry default).
    #[arg(long, short = 'm', value_name = "ID|PATH")]
    pub model: Option<String>,

    /// Device to run on; `auto` picks the best compiled-in device that is present.
    #[arg(long, value_enum, default_value_t = device::DeviceChoice::Auto)]
    pub device: device::DeviceChoice,

    /// Runs per figure; the median is reported.
    #[arg(long, short = 'r', default_value_t = 3, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Prompt tokens for the prefill figure.
    #[arg(long, default_value_t = 512, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub prompt_tokens: u32,

    /// Tokens generated for the decode figure.
    #[arg(long, default_value_t = 128, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub decode_tokens: u32,

    /// Also time decoding with N beams together, as `--beams N` of `translate` runs them
    /// (native CPU engine); reported as tokens per second over all beams.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=16))]
    pub beams: u16,

    /// Also run llama.cpp on the same file and threads, and report ours over theirs:
    /// llama-bench (`just bench-anchor` builds it), or with `--task summarise` its
    /// llama-completion and llama-speculative-simple on our prompts.
    #[arg(long)]
    pub vs_llamacpp: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Serialize)]
struct Output {
    #[serde(flatten)]
    ours: BenchReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    anchor: Option<Anchor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<Ratio>,
}

pub(super) fn run(args: &BenchArgs, engine: EngineKind, offline: bool) -> Result<()> {
    if args.task == Task::Model && !args.articles.is_empty() {
        return Err(Error::Usage(format!(
            "`{}` given, but only `--task summarise` reads articles",
            args.articles[0]
        )));
    }
    if args.task == Task::Summarise && args.articles.is_empty() {
        return Err(Error::Usage(
            "--task summarise needs articles to summarise, e.g. \
             `summarise bench --task summarise examples/articles/*.txt`"
                .into(),
        ));
    }
    // Bad article files fail before a model is loaded.
    let articles = args
        .articles
        .iter()
        .map(|a| input::read(a))
        .collect::<Result<Vec<_>>>()?;
    let device = device::open(args.device)?;
    let registry = Registry::load()?;
    let spec = model::resolve(args.model.as_deref(), &registry, offline)?;
    if args.task == Task::Summarise {
        let opts = bench_summarise::TaskBenchOptions {
            repeat: args.repeat as usize,
            engine,
            vs_llamacpp: args.vs_llamacpp,
        };
        let report = bench_summarise::run(&spec, &device, &articles, &opts)?;
        let text = match args.format {
            Format::Json => {
                serde_json::to_string_pretty(&report).expect("report serialises") + "\n"
            }
            Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
            Format::Text => bench_summarise::table(&report),
        };
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
            .at("<stdout>");
    }
    let opts = BenchOptions {
        prompt_tokens: args.prompt_tokens as usize,
        decode_tokens: args.decode_tokens as usize,
        repeat: args.repeat as usize,
        engine,
        beams: args.beams as usize,
    };
    // llama.cpp runs first, while this process is still small: a child started by posix_spawn
    // shares our memory until it execs, and Linux counts our peak so far into the child's
    // peak RSS. Run after our model, it would report our peak instead of its own.
    let anchor = match args.vs_llamacpp {
        true => Some(anchor::run(&spec.path, cpu_threads(), opts)?),
        false => None,
    };
    let ours = bench::run(&spec, &device, opts)?;
    let ratio = anchor.as_ref().map(|a| Ratio::of(&ours, a));
    let out = Output {
        ours,
        anchor,
        ratio,
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&out).expect("report serialises") + "\n",
        Format::Jsonl => serde_json::to_string(&out).expect("report serialises") + "\n",
        Format::Text => table(&out),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .at("<stdout>")
}

fn table(o: &Output) -> String {
    let r = &o.ours;
    let mut s = format!(
        "model {} on {}, {} threads (sha256 {}…)\n\n{:<12} {:>10} {:>14} {:>14} {:>10}\n",
        r.model,
        r.device,
        r.threads,
        &r.file_sha256[..r.file_sha256.len().min(12)],
        "engine",
        "load s",
        format!("pp{} tok/s", r.prefill_tokens),
        format!("tg{} tok/s", r.decode_tokens),
        "peak MiB"
    );
    s += &format!(
        "{:<12} {:>10.3} {:>14.2} {:>14.2} {:>10.1}\n",
        "summarise", r.load_s, r.prefill_tok_s, r.decode_tok_s, r.peak_rss_mib
    );
    if let (Some(beams), Some(tok_s)) = (r.beams, r.beam_tok_s) {
        s += &format!(
            "{:<12} {:>10} {:>14} {:>14.2} {:>10}   ({beams} beams: tokens over all beams)\n",
            format!("{beams} beams"),
            "",
            "",
            tok_s,
            ""
        );
    }
    if let Some(f) = &r.decode_floor {
        s += &format!(
            "{:<12} {:>10} {:>14} {:>14.2} {:>10}   (memory floor: {:.1} MiB a token at {:.2} GiB/s; \
             summarise reaches {:.0}%{})\n",
            "floor",
            "",
            "",
            f.ceiling_tok_s,
            "",
            f.weight_mib_per_token,
            f.read_gib_s,
            100.0 * f.share,
            match &o.anchor {
                Some(a) if f.ceiling_tok_s > 0.0 => {
                    format!(", llama.cpp {:.0}%", 100.0 * a.decode_tok_s / f.ceiling_tok_s)
                }
                _ => String::new(),
            }
        );
    }
    if let (Some(a), Some(x)) = (&o.anchor, &o.ratio) {
        s += &format!(
            "{:<12} {:>10} {:>14.2} {:>14.2} {:>10.1}\n{:<12} {:>10} {:>14.3} {:>14.3} {:>10.3}\n",
            format!("llama.cpp {}", &a.commit[..a.commit.len().min(9)]),
            "",
            a.prefill_tok_s,
            a.decode_tok_s,
            a.peak_rss_mib,
            "ratio",
            "",
            x.prefill,
            x.decode,
            x.rss
        );
    }
    s
}
