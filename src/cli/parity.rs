//! `summarise parity`: compare the logits of the engines and devices this build has on one
//! text (see `tasks::parity` for the schedule, metrics and tolerances). Exit 1 beyond them.

use std::io::Write;
use std::path::PathBuf;

use super::Format;
use crate::engine::device::{self, DeviceChoice};
use crate::engine::EngineKind;
use crate::error::{Error, IoContext, Result};
use crate::models::Registry;
use crate::tasks::model;
use crate::tasks::parity::{self, Judge, ParityReport, Side, Tolerance};

/// Options of `summarise parity`.
#[derive(Debug, clap::Args)]
pub struct ParityArgs {
    /// Model: a registry id or a path to a .gguf file (default: the registry default).
    #[arg(long, short = 'm', value_name = "ID|PATH")]
    pub model: Option<String>,

    /// The text to run, read as plain UTF-8 and tokenized without special tokens (the engine
    /// parity text: tests/fixtures/parity/text.txt).
    #[arg(long, value_name = "FILE")]
    pub text: PathBuf,

    /// Devices beside the CPU: `cuda` requires CUDA, `auto` adds it when present, `cpu` runs
    /// the CPU engines only.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,

    /// Tokens run in the first call (the batched path); the rest go one at a time
    /// (default: half the text).
    #[arg(long, value_name = "N")]
    pub prefill: Option<usize>,

    /// Largest mean KL(reference || other) in nats.
    #[arg(long, value_name = "NATS", default_value_t = Tolerance::default().max_mean_kl)]
    pub max_kl: f64,

    /// Smallest share of positions whose top-1 token agrees.
    #[arg(long, value_name = "SHARE", default_value_t = Tolerance::default().min_top1_agreement)]
    pub min_top1: f64,

    /// Which pairs decide the exit status: `all`, or `devices` (only the candle engine on the
    /// CPU against the same engine on the GPU; for shape twins, see README "CUDA").
    #[arg(long, value_enum, default_value_t = Judge::All)]
    pub judge: Judge,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

pub(super) fn run(args: &ParityArgs, offline: bool) -> Result<()> {
    let text = std::fs::read_to_string(&args.text).at(&args.text)?;
    let registry = Registry::load()?;
    let spec = model::resolve(args.model.as_deref(), &registry, offline)?;

    let mut sides = vec![
        Side::new(candle_core::Device::Cpu, EngineKind::Native),
        Side::new(candle_core::Device::Cpu, EngineKind::Candle),
    ];
    let gpu = match args.device {
        DeviceChoice::Cpu => None,
        DeviceChoice::Auto => device::open(DeviceChoice::Auto)
            .ok()
            .filter(|d| !d.is_cpu()),
        choice => Some(device::open(choice)?),
    };
    sides.extend(gpu.map(|d| Side::new(d, EngineKind::Candle)));

    // Tokenize with the model's own tokenizer (metadata only: no weights are loaded here).
    let content = crate::models::twin::read_header(&spec.path)?;
    let tokenizer = match &spec.tokenizer {
        Some(json) => crate::engine::Tokenizer::from_file(json)?,
        None => crate::engine::Tokenizer::from_gguf(&content)?,
    };
    let tokens = tokenizer.encode(&text, true, false)?;
    if tokens.len() < 2 {
        return Err(Error::Input {
            source_name: args.text.display().to_string(),
            message: "the text is under two tokens; parity needs a real text".into(),
        });
    }
    let tol = Tolerance {
        max_mean_kl: args.max_kl,
        min_top1_agreement: args.min_top1,
    };
    let prefill = args.prefill.unwrap_or(tokens.len() / 2);
    let report = parity::run(&spec, &sides, &tokens, prefill, tol, args.judge)?;

    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
        Format::Jsonl => serde_json::to_string(&report).expect("report serialises") + "\n",
        Format::Text => table(&report),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .at("<stdout>")?;
    if report.pass {
        return Ok(());
    }
    let failed: Vec<String> = report
        .pairs
        .iter()
        .filter(|p| p.judged && !p.pass)
        .map(|p| {
            format!(
                "{} vs {}: mean KL {} (at most {}), top-1 agreement {} (at least {})",
                p.reference,
                p.other,
                p.mean_kl,
                tol.max_mean_kl,
                p.top1_agreement,
                tol.min_top1_agreement
            )
        })
        .collect();
    Err(Error::Verify(format!(
        "parity failed for {}: {}",
        spec.path.display(),
        failed.join("; ")
    )))
}

fn table(r: &ParityReport) -> String {
    let mut s = format!(
        "model {} ({} tokens, first {} in one call)\n\n{:<12} {:<12} {:>10} {:>10} {:>10} {:>12} {:>7}\n",
        r.model, r.tokens, r.prefill, "reference", "other", "mean KL", "max KL", "top-1", "max |dlogit|", "pass"
    );
    for p in &r.pairs {
        s += &format!(
            "{:<12} {:<12} {:>10.6} {:>10.4} {:>10.4} {:>12.4} {:>7}\n",
            p.reference,
            p.other,
            p.mean_kl,
            p.max_kl,
            p.top1_agreement,
            p.max_abs_logit_diff,
            if p.judged {
                p.pass.to_string()
            } else {
                format!("({})", p.pass)
            }
        );
    }
    s
}
