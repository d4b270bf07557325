//! llama.cpp's own tools answering one of our prompts, the anchor of `bench --task summarise`:
//! `llama-completion` (plain greedy decoding) and `llama-speculative-simple --spec-type
//! ngram-simple` (its n-gram speculation), read back from the timings they print.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::tasks::anchor::{self, LLAMACPP_COMMIT};

/// Which llama.cpp tool decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// `llama-completion`: greedy, one token per pass.
    Plain,
    /// `llama-speculative-simple --spec-type ngram-simple`: drafts from n-grams of the prompt
    /// and output, checked in one pass.
    NgramSpeculation,
}

impl Tool {
    fn binary(self) -> &'static str {
        match self {
            Tool::Plain => "llama-completion",
            Tool::NgramSpeculation => "llama-speculative-simple",
        }
    }
}

/// What one answer took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub prompt_tokens: usize,
    pub prefill_secs: f64,
    /// Tokens decoded after the prompt's pass.
    pub decoded: usize,
    pub decode_secs: f64,
    /// Draft tokens proposed and kept (speculation only).
    pub drafted: usize,
    pub accepted: usize,
}

/// Where llama.cpp's tools are: beside `llama-bench` (see [`anchor::llama_bench_path`]).
pub fn tool_path(tool: Tool) -> PathBuf {
    let bench = anchor::llama_bench_path();
    bench
        .parent()
        .map_or_else(|| PathBuf::from(tool.binary()), |d| d.join(tool.binary()))
}

/// Run `tool` on `model` with the prompt `prompt` (text with the chat template's special
/// tokens written out), greedy, at most `max_tokens` answer tokens, `threads` threads and a
/// context of `context`.
pub fn answer(
    tool: Tool,
    model: &Path,
    prompt: &str,
    max_tokens: usize,
    threads: usize,
    context: usize,
) -> Result<Timing> {
    let bin = tool_path(tool);
    if !bin.is_file() {
        return Err(Error::Config(format!(
            "{} not found at {}; build it once with `bash scripts/llamacpp.sh llama-bench \
             llama-completion llama-speculative-simple`",
            tool.binary(),
            bin.display()
        )));
    }
    let file = tempfile::Builder::new()
        .prefix("summarise-prompt")
        .suffix(".txt")
        .tempfile()
        .at("a temporary prompt file")?;
    std::fs::write(file.path(), prompt).at(file.path())?;
    let mut cmd = Command::new(&bin);
    cmd.arg("-m")
        .arg(model)
        .arg("-f")
        .arg(file.path())
        .args(["-n", &max_tokens.to_string()])
        .args(["-t", &threads.to_string()])
        .args(["-c", &context.to_string()])
        .args(["--temp", "0", "--seed", "1", "--no-escape"]);
    match tool {
        Tool::Plain => cmd.args(["-no-cnv", "--no-display-prompt", "--perf"]),
        Tool::NgramSpeculation => cmd.args(["--spec-type", "ngram-simple"]),
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Config(format!("cannot run {}: {e}", bin.display())))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(Error::Config(format!(
            "{} failed ({}):\n{}",
            bin.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    parse(tool, &err).ok_or_else(|| {
        Error::Config(format!(
            "cannot read the timings {} printed; is it a llama.cpp build of {LLAMACPP_COMMIT}?",
            bin.display()
        ))
    })
}

/// The timings in a tool's log.
fn parse(tool: Tool, log: &str) -> Option<Timing> {
    let mut t = Timing::default();
    match tool {
        Tool::Plain => {
            let (ms, n) = perf_line(log, "prompt eval time =")?;
            (t.prefill_secs, t.prompt_tokens) = (ms / 1e3, n);
            let (ms, n) = log
                .lines()
                .filter(|l| !l.contains("prompt eval time"))
                .find_map(|l| perf_line(l, "eval time ="))?;
            (t.decode_secs, t.decoded) = (ms / 1e3, n);
        }
        Tool::NgramSpeculation => {
            (t.prompt_tokens, t.prefill_secs) = count_in_secs(log, "encoded")?;
            (t.decoded, t.decode_secs) = count_in_secs(log, "decoded")?;
            t.drafted = value_after(log, "n_drafted =")?;
            t.accepted = value_after(log, "n_accept  =")?;
        }
    }
    Some(t)
}

/// `... <what> <ms> ms / <n> tokens|runs ...` on the first line holding `what`.
fn perf_line(log: &str, what: &str) -> Option<(f64, usize)> {
    let line = log.lines().find(|l| l.contains(what))?;
    let rest = &line[line.find(what)? + what.len()..];
    let mut words = rest.split_whitespace();
    let ms: f64 = words.next()?.parse().ok()?;
    let _ms_unit = words.next()?;
    let _slash = words.next()?;
    let n: usize = words.next()?.parse().ok()?;
    Some((ms, n))
}

/// `<what> <n> tokens in <secs> seconds` on the first line holding `what`.
fn count_in_secs(log: &str, what: &str) -> Option<(usize, f64)> {
    let line = log.lines().find(|l| l.contains(&format!("{what} ")))?;
    let rest = &line[line.find(what)? + what.len()..];
    let mut words = rest.split_whitespace();
    let n = words.next()?.parse().ok()?;
    let _tokens = words.next()?;
    let _in = words.next()?;
    let secs = words.next()?.parse().ok()?;
    Some((n, secs))
}

/// The number after `what` on the first line holding it.
fn value_after(log: &str, what: &str) -> Option<usize> {
    let line = log.lines().find(|l| l.contains(what))?;
    line[line.find(what)? + what.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_timings_are_read_from_its_perf_lines() {
        let log = "load ...\n\
            common_perf_print: prompt eval time =    8123.45 ms /  1021 tokens (    7.96 ms per token,   125.69 tokens per second)\n\
            common_perf_print:        eval time =    2000.00 ms /    59 runs   (   33.90 ms per token,    29.50 tokens per second)\n";
        let t = parse(Tool::Plain, log).unwrap();
        assert_eq!((t.prompt_tokens, t.decoded), (1021, 59));
        assert!((t.prefill_secs - 8.12345).abs() < 1e-9);
        assert!((t.decode_secs - 2.0).abs() < 1e-9);
    }

    #[test]
    fn speculation_timings_and_counts_are_read() {
        let log = "encoded 1021 tokens in    8.100 seconds, speed:  126.049 t/s\n\
            decoded   60 tokens in    1.500 seconds, speed:   40.000 t/s\n\
            n_draft   = 16\nn_predict = 60\nn_drafted = 48\nn_accept  = 30\naccept    = 62.500%\n";
        let t = parse(Tool::NgramSpeculation, log).unwrap();
        assert_eq!(
            (t.prompt_tokens, t.decoded, t.drafted, t.accepted),
            (1021, 60, 48, 30)
        );
        assert!((t.decode_secs - 1.5).abs() < 1e-9);
    }

    #[test]
    fn a_log_without_timings_is_none() {
        assert!(parse(Tool::Plain, "error: something\n").is_none());
        assert!(parse(Tool::NgramSpeculation, "decoded x tokens\n").is_none());
    }
}
