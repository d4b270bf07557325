//! The speed anchor: llama.cpp's `llama-bench` on the same file and threads, run as a child
//! process whose own peak memory is read back from the kernel.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tasks::bench::{max_rss_mib, median, BenchOptions, BenchReport};

/// The llama.cpp commit `just bench-anchor` builds.
pub const LLAMACPP_COMMIT: &str = "0c1e57098";

/// llama.cpp's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    pub engine: String,
    pub commit: String,
    /// The instruction sets llama.cpp was built with (scripts/llamacpp.sh's record of its
    /// CMake flags), e.g. `AVX2 FMA F16C; amx reported, not enabled`.
    pub build: String,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    pub peak_rss_mib: f64,
}

/// Ours over llama.cpp's (for rss: ours over theirs, so lower is better there).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub prefill: f64,
    pub decode: f64,
    pub rss: f64,
}

impl Ratio {
    /// Compare `ours` with `anchor`.
    pub fn of(ours: &BenchReport, anchor: &Anchor) -> Ratio {
        let div = |a: f64, b: f64| {
            if b > 0.0 {
                (a / b * 1000.0).round() / 1000.0
            } else {
                0.0
            }
        };
        Ratio {
            prefill: div(ours.prefill_tok_s, anchor.prefill_tok_s),
            decode: div(ours.decode_tok_s, anchor.decode_tok_s),
            rss: div(ours.peak_rss_mib, anchor.peak_rss_mib),
        }
    }
}

/// Where `llama-bench` is: `SUMMARISE_LLAMA_BENCH`, else the cache folder that
/// `just bench-anchor` (scripts/llamacpp.sh) builds into.
pub fn llama_bench_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SUMMARISE_LLAMA_BENCH") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache
        .join("summarise")
        .join(format!("llama.cpp-{LLAMACPP_COMMIT}"))
        .join("build/bin/llama-bench")
}

#[derive(Deserialize)]
struct Test {
    n_prompt: usize,
    n_gen: usize,
    #[serde(default)]
    samples_ts: Vec<f64>,
    #[serde(default)]
    avg_ts: f64,
    #[serde(default)]
    build_commit: String,
}

/// Run llama-bench on `model` with `threads` threads, the same token counts and repeats.
pub fn run(model: &std::path::Path, threads: usize, opts: BenchOptions) -> Result<Anchor> {
    let bin = llama_bench_path();
    if !bin.is_file() {
        return Err(Error::Config(format!(
            "llama-bench not found at {}; build it once with `just bench-anchor`, or point \
             SUMMARISE_LLAMA_BENCH at one",
            bin.display()
        )));
    }
    let mut child = Command::new(&bin)
        .arg("-m")
        .arg(model)
        .args(["-t", &threads.to_string()])
        .args(["-p", &opts.prompt_tokens.to_string()])
        .args(["-n", &opts.decode_tokens.to_string()])
        .args(["-r", &opts.repeat.max(1).to_string()])
        .args(["-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Config(format!("cannot run {}: {e}", bin.display())))?;
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .ok();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut err)
        .ok();
    let (status, usage) = wait_with_usage(child.id())?;
    if status != 0 {
        let tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join("\n");
        return Err(Error::Config(format!(
            "{} failed (status {status}):\n{tail}",
            bin.display()
        )));
    }
    let tests: Vec<Test> = serde_json::from_str(&out).map_err(|e| {
        Error::Config(format!("cannot read llama-bench's JSON output ({e}); is it a llama.cpp build of {LLAMACPP_COMMIT}?"))
    })?;
    let rate = |pick: &dyn Fn(&Test) -> bool, what: &str| -> Result<f64> {
        let t = tests
            .iter()
            .find(|t| pick(t))
            .ok_or_else(|| Error::Config(format!("llama-bench printed no {what} result")))?;
        let mut samples = t.samples_ts.clone();
        Ok(if samples.is_empty() {
            t.avg_ts
        } else {
            median(&mut samples)
        })
    };
    let prefill = rate(&|t| t.n_prompt > 0 && t.n_gen == 0, "prompt")?;
    let decode = rate(&|t| t.n_prompt == 0 && t.n_gen > 0, "generation")?;
    let commit = tests
        .first()
        .map(|t| t.build_commit.clone())
        .filter(|c| !c.is_empty() && c != "unknown")
        .unwrap_or_else(|| LLAMACPP_COMMIT.to_string());
    Ok(Anchor {
        engine: "llama.cpp".into(),
        commit,
        build: build_flags(&bin),
        prefill_tok_s: (prefill * 100.0).round() / 100.0,
        decode_tok_s: (decode * 100.0).round() / 100.0,
        peak_rss_mib: (max_rss_mib(&usage) * 10.0).round() / 10.0,
    })
}

/// The build record `scripts/llamacpp.sh` leaves beside `bin/` (`summarise-isa.txt`), or
/// `unknown` for a llama-bench built some other way.
fn build_flags(bin: &Path) -> String {
    let record = bin
        .parent()
        .and_then(Path::parent)
        .map(|build| build.join("summarise-isa.txt"));
    match record.and_then(|p| std::fs::read_to_string(p).ok()) {
        Some(text) => describe_build(&text),
        None => "unknown (no summarise-isa.txt beside its bin/; not built by scripts/llamacpp.sh)"
            .into(),
    }
}

/// `-DGGML_AVX2=ON` lines and `# note` lines to `AVX2 ...; note`. GGML_NATIVE=ON reads `native`.
pub fn describe_build(record: &str) -> String {
    let mut on = Vec::new();
    let mut notes = Vec::new();
    for line in record.lines().map(str::trim) {
        if let Some(note) = line.strip_prefix('#') {
            notes.push(note.trim().to_string());
        } else if let Some(name) = line
            .strip_prefix("-DGGML_")
            .and_then(|l| l.strip_suffix("=ON"))
        {
            on.push(name.to_string());
        }
    }
    let mut s = match on.is_empty() {
        true => "no SIMD sets".to_string(),
        false => on.join(" "),
    };
    for n in notes {
        s += "; ";
        s += &n;
    }
    s
}

/// Reap child `pid`, returning its exit code and its own resource usage.
fn wait_with_usage(pid: u32) -> Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: wait4 writes only the status and the rusage struct given to it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(Error::Config(format!(
            "waiting for llama-bench failed: {}",
            std::io::Error::last_os_error()
        )));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, usage))
}
