//! `summarise bench`: load time, prefill and decode speed and peak memory of one model,
//! measured the way llama.cpp's `llama-bench` measures them so the two can stand side by side.

use std::time::Instant;

use serde::Serialize;

use crate::engine::{device, EngineKind};
use crate::error::Result;
use crate::tasks::bandwidth::{self, DecodeFloor};
use crate::tasks::model::{self, ModelSpec};
use crate::tasks::summarise::cpu_threads;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Prompt tokens processed in one call (llama-bench `-p`).
    pub prompt_tokens: usize,
    /// Tokens generated one at a time from an empty cache (llama-bench `-n`).
    pub decode_tokens: usize,
    /// Runs; the report holds the median of each figure.
    pub repeat: usize,
    /// Which engine runs the model.
    pub engine: EngineKind,
    /// Also time `decode_tokens` steps of this many beams run together (beam search), when
    /// more than 1.
    pub beams: usize,
}

/// One model's figures: the `--format json` output, keys fixed by the issue that asked for it.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub file_sha256: String,
    pub device: String,
    /// The CPU's model name, as the OS reports it.
    pub cpu: String,
    /// The instruction set of the native engine's kernels (`avx2`, `vnni`, `neon`, `scalar`;
    /// `SUMMARISE_ISA` lowers it), or `candle` when candle's modules ran the model.
    pub kernels: String,
    pub threads: usize,
    pub load_s: f64,
    pub prefill_tokens: usize,
    pub prefill_tok_s: f64,
    pub decode_tokens: usize,
    pub decode_tok_s: f64,
    pub peak_rss_mib: f64,
    /// Beams timed together, with `--beams`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beams: Option<usize>,
    /// Tokens per second summed over the beams (a step of `beams` tokens counts `beams`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beam_tok_s: Option<f64>,
    /// Decode against the memory-bandwidth floor, where the engine knows its weight bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_floor: Option<DecodeFloor>,
}

/// Measure `spec` on `device`. Each repeat loads the model afresh (timing the load), warms it
/// with one untimed prefill as llama-bench does, then times a prefill of `prompt_tokens` and,
/// from an empty cache, `decode_tokens` single-token steps with greedy choice.
pub fn run(
    spec: &ModelSpec,
    device: &candle_core::Device,
    opts: BenchOptions,
) -> Result<BenchReport> {
    let (mut load, mut prefill, mut decode) = (Vec::new(), Vec::new(), Vec::new());
    let mut beam = Vec::new();
    let mut bytes_per_token = None;
    for _ in 0..opts.repeat.max(1) {
        let mut m = model::load(spec, device, opts.engine)?;
        if opts.beams > 1 && m.lm.beams().is_none() {
            return Err(crate::error::Error::Usage(
                "--beams is measured on the native CPU engine only; leave it out here".into(),
            ));
        }
        load.push(m.load_secs);
        let vocab = m.tokenizer.vocab_size();
        let prompt = synthetic_tokens(opts.prompt_tokens, vocab);
        let lm = &mut m.lm;
        bytes_per_token = lm.bytes_per_token();
        lm.reserve(opts.prompt_tokens.max(opts.decode_tokens + 1))?;

        lm.reset();
        lm.forward(&prompt, 0)?;

        lm.reset();
        let start = Instant::now();
        lm.forward(&prompt, 0)?;
        prefill.push(opts.prompt_tokens as f64 / start.elapsed().as_secs_f64());

        lm.reset();
        let start = Instant::now();
        let mut next = prompt[0];
        for pos in 0..opts.decode_tokens {
            next = lm.forward_argmax(&[next], pos)?;
        }
        decode.push(opts.decode_tokens as f64 / start.elapsed().as_secs_f64());

        if opts.beams > 1 {
            beam.push(beam_steps(lm, &prompt, opts)?);
        }
    }
    // Read before the bandwidth probe, whose buffer is not the model's memory.
    let peak_rss = peak_rss_mib();
    let decode_tok_s = median(&mut decode);
    let decode_floor = bytes_per_token.filter(|_| device.is_cpu()).map(|bytes| {
        DecodeFloor::new(bytes, bandwidth::read_gib_s(cpu_threads(), 3), decode_tok_s)
    });
    Ok(BenchReport {
        model: spec.id.clone(),
        file_sha256: spec.sha256.clone(),
        device: device::name(device),
        cpu: cpu_model(),
        kernels: match opts.engine {
            EngineKind::Native if device.is_cpu() => {
                crate::engine::native::quants::Isa::current().name().into()
            }
            _ => "candle".into(),
        },
        threads: cpu_threads(),
        load_s: round(median(&mut load), 3),
        prefill_tokens: opts.prompt_tokens,
        prefill_tok_s: round(median(&mut prefill), 2),
        decode_tokens: opts.decode_tokens,
        decode_tok_s: round(decode_tok_s, 2),
        peak_rss_mib: round(peak_rss, 1),
        beams: (opts.beams > 1).then_some(opts.beams),
        beam_tok_s: (!beam.is_empty()).then(|| round(median(&mut beam), 2)),
        decode_floor,
    })
}

/// Tokens per second of `opts.beams` beams decoding together from a one-token prompt, as
/// beam search runs them: after every step each beam takes over the next one's history, so the
/// reorder's copying is timed too.
fn beam_steps(
    lm: &mut Box<dyn crate::engine::CausalLm>,
    prompt: &[u32],
    opts: BenchOptions,
) -> Result<f64> {
    let width = opts.beams;
    lm.reset();
    lm.forward(&prompt[..1], 0)?;
    let beams = lm.beams().expect("checked before timing");
    beams.fork(width, 1)?;
    let parents: Vec<usize> = (0..width).map(|b| (b + 1) % width).collect();
    let mut tokens: Vec<u32> = prompt.iter().copied().cycle().take(width).collect();
    let start = Instant::now();
    for pos in 1..=opts.decode_tokens {
        let logits = beams.forward(&tokens, pos)?;
        let vocab = logits.len() / width;
        for (b, t) in tokens.iter_mut().enumerate() {
            *t = crate::generate::sampler::argmax(&logits[b * vocab..(b + 1) * vocab]);
        }
        beams.reorder(&parents, 1..pos + 1)?;
    }
    Ok((width * opts.decode_tokens) as f64 / start.elapsed().as_secs_f64())
}

/// A fixed pseudo-random token sequence: speed does not depend on the text, and llama-bench
/// also feeds random ids.
fn synthetic_tokens(n: usize, vocab: usize) -> Vec<u32> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % vocab.max(1) as u64) as u32
        })
        .collect()
}

/// The CPU's model name (Linux's /proc/cpuinfo), or the architecture where it is not known.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The median (the mean of the middle two for an even count).
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// `x` rounded to `places` decimals, for reports.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// This process's peak resident memory so far, in MiB.
pub fn peak_rss_mib() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    max_rss_mib(&usage)
}

/// `ru_maxrss` in MiB: kilobytes on Linux, bytes on macOS.
pub(crate) fn max_rss_mib(usage: &libc::rusage) -> f64 {
    let raw = usage.ru_maxrss as f64;
    if cfg!(target_os = "macos") {
        raw / (1024.0 * 1024.0)
    } else {
        raw / 1024.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn synthetic_tokens_stay_in_the_vocabulary_and_repeat() {
        let a = synthetic_tokens(512, 1000);
        assert_eq!(a.len(), 512);
        assert!(a.iter().all(|&t| t < 1000));
        assert_eq!(a, synthetic_tokens(512, 1000));
        assert!(a.iter().collect::<std::collections::HashSet<_>>().len() > 300);
    }

    #[test]
    fn peak_rss_is_reported() {
        assert!(peak_rss_mib() > 1.0);
    }
}
