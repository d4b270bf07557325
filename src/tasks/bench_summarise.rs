//! `summarise bench --task summarise`: seconds per article and decode speed of each way of
//! summarising the given articles (extractive, hybrid, abstractive with and without drafts,
//! abstractive decoded together), and llama.cpp answering the same abstractive prompts with and
//! without its n-gram speculation, all in one run; medians over the repeats.

use std::time::Instant;

use serde::Serialize;

use crate::engine::device;
use crate::error::{Error, Result};
use crate::tasks::bench::{cpu_model, median, round};
use crate::tasks::llamacpp::{self, Tool};
use crate::tasks::model::ModelSpec;
use crate::tasks::summarise::{cpu_threads, Mode, Summariser, SummaryOptions, SummaryReport};
use crate::text::input::Article;

/// Articles decoded together in the batched row.
const BATCH: usize = 4;
/// The plain abstractive setting and the one with drafts, in `settings` below.
const PLAIN: usize = 2;
const DRAFTS: usize = 3;

/// What to run.
#[derive(Debug, Clone)]
pub struct TaskBenchOptions {
    pub repeat: usize,
    pub engine: crate::engine::EngineKind,
    /// Also run llama.cpp's tools on the abstractive prompts.
    pub vs_llamacpp: bool,
}

/// One way of summarising, over all the articles.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `summarise` or `llama.cpp`.
    pub engine: &'static str,
    pub setting: String,
    /// Median over the repeats of the seconds per article (prompt to last token; no loading).
    pub seconds_per_article: f64,
    pub articles_per_min: f64,
    /// Prompt tokens run per second; `null` where no model reads a prompt.
    pub prefill_tok_s: Option<f64>,
    /// Tokens generated per second after each answer's first; `null` for rows without a
    /// decode of their own (extractive) or whose decode overlaps other articles' (batched).
    pub decode_tok_s: Option<f64>,
    /// Share of drafted tokens kept, where drafts were checked.
    pub acceptance: Option<f64>,
    /// Tokens generated per forward pass after the prompt's, where drafts were checked.
    pub tokens_per_pass: Option<f64>,
    /// Whether every summary is the one plain greedy decoding writes (abstractive rows).
    pub same_as_greedy: Option<bool>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct TaskBenchReport {
    pub task: &'static str,
    pub model: String,
    pub cpu: String,
    pub device: String,
    pub threads: usize,
    pub articles: usize,
    pub repeat: usize,
    pub rows: Vec<Row>,
    /// Abstractive decode tok/s of ours (the faster of with and without drafts) over
    /// llama.cpp's plain and n-gram-speculation decode; `null` without `--vs-llamacpp`.
    pub decode_vs_llamacpp: Option<f64>,
    pub decode_vs_llamacpp_ngram: Option<f64>,
    /// Articles per minute decoded together over one at a time.
    pub batch_gain: f64,
}

/// Per-repeat totals of one setting.
#[derive(Default)]
struct Totals {
    seconds: Vec<f64>,
    prefill: Vec<f64>,
    decode: Vec<f64>,
    drafted: usize,
    accepted: usize,
    passes: usize,
    summaries: Vec<String>,
}

impl Totals {
    fn row(
        mut self,
        engine: &'static str,
        setting: &str,
        n: usize,
        greedy: Option<&[String]>,
    ) -> Row {
        let per = median(&mut self.seconds) / n as f64;
        let rate = |xs: &mut Vec<f64>| (!xs.is_empty()).then(|| round(median(xs), 2));
        Row {
            engine,
            setting: setting.into(),
            seconds_per_article: round(per, 3),
            articles_per_min: round(if per > 0.0 { 60.0 / per } else { 0.0 }, 2),
            prefill_tok_s: rate(&mut self.prefill),
            decode_tok_s: rate(&mut self.decode),
            acceptance: (self.drafted > 0)
                .then(|| round(self.accepted as f64 / self.drafted as f64, 3)),
            tokens_per_pass: (self.drafted > 0 && self.passes > 0)
                .then(|| round((self.passes + self.accepted) as f64 / self.passes as f64, 2)),
            same_as_greedy: greedy.map(|g| g == self.summaries.as_slice()),
        }
    }

    /// Add one repeat of our reports.
    fn add_reports(&mut self, reports: &[SummaryReport], secs: f64, keep: bool) {
        self.seconds.push(secs);
        let sum = |f: &dyn Fn(&SummaryReport) -> f64| reports.iter().map(f).sum::<f64>();
        let prompt_run = sum(&|r| (r.prompt_tokens - r.cached_tokens) as f64);
        let prefill_secs =
            sum(&|r| rate_inv((r.prompt_tokens - r.cached_tokens) as f64, r.prefill_tok_s));
        let generated = sum(&|r| r.generated_tokens as f64);
        let decode_secs = sum(&|r| rate_inv(r.generated_tokens as f64, r.decode_tok_s));
        if prompt_run > 0.0 && prefill_secs > 0.0 {
            self.prefill.push(prompt_run / prefill_secs);
        }
        if keep && generated > 0.0 && decode_secs > 0.0 {
            self.decode.push(generated / decode_secs);
        }
        for r in reports {
            if let Some(s) = &r.speculation {
                self.drafted += s.drafted;
                self.accepted += s.accepted;
                self.passes += s.passes;
            }
        }
        if self.summaries.is_empty() {
            self.summaries = reports.iter().map(|r| r.summary.clone()).collect();
        }
    }
}

/// Seconds that `n` items at `per_s` a second took.
fn rate_inv(n: f64, per_s: f64) -> f64 {
    if per_s > 0.0 {
        n / per_s
    } else {
        0.0
    }
}

/// Run every setting over `articles` with the model `spec`.
pub fn run(
    spec: &ModelSpec,
    device: &candle_core::Device,
    articles: &[Article],
    opts: &TaskBenchOptions,
) -> Result<TaskBenchReport> {
    if articles.is_empty() {
        return Err(Error::Usage(
            "bench --task summarise needs articles to summarise, e.g. \
             `summarise bench --task summarise examples/articles/*.txt`"
                .into(),
        ));
    }
    let n = articles.len();
    let mut summariser = Summariser::new(Some(spec.clone()), device, opts.engine)?;
    let options = |mode: Mode| {
        let mut o = SummaryOptions::new(crate::tasks::summarise::Length::Medium);
        o.mode = mode;
        o.temperature = Some(0.0);
        o
    };
    // One untimed summary warms the caches and the page cache of the weights.
    summariser.summarise(&articles[0], &options(Mode::Abstractive), &mut |_| {})?;

    let one_by_one = |s: &mut Summariser, mode: Mode, speculate: bool| -> Result<_> {
        if let Some(l) = s.model() {
            l.speculate = speculate;
            // Each pass prefills its first prompt, as llama.cpp does; later prompts keep only
            // the opening they share with the one before.
            l.model.lm.reset();
        }
        let start = Instant::now();
        let reports = articles
            .iter()
            .map(|a| s.summarise(a, &options(mode), &mut |_| {}))
            .collect::<Result<Vec<_>>>()?;
        Ok((reports, start.elapsed().as_secs_f64()))
    };
    let settings = [
        ("extractive", Mode::Extractive, false),
        ("hybrid", Mode::Hybrid, false),
        ("abstractive", Mode::Abstractive, false),
        (
            "abstractive, drafts from the article",
            Mode::Abstractive,
            true,
        ),
    ];
    let mut totals: Vec<Totals> = settings.iter().map(|_| Totals::default()).collect();
    let mut batched = Totals::default();
    for _ in 0..opts.repeat.max(1) {
        for (t, &(_, mode, speculate)) in totals.iter_mut().zip(&settings) {
            let (reports, secs) = one_by_one(&mut summariser, mode, speculate)?;
            t.add_reports(&reports, secs, mode != Mode::Extractive);
        }
        if let Some(l) = summariser.model() {
            l.speculate = false;
            l.model.lm.reset();
        }
        let start = Instant::now();
        let reports = summariser
            .summarise_batch(articles, &options(Mode::Abstractive), BATCH)
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        batched.add_reports(&reports, start.elapsed().as_secs_f64(), false);
    }
    let greedy = totals[PLAIN].summaries.clone();
    let mut rows = Vec::new();
    for (t, &(name, mode, _)) in totals.into_iter().zip(&settings) {
        let check = (mode == Mode::Abstractive).then_some(greedy.as_slice());
        rows.push(t.row("summarise", name, n, check));
    }
    let together = format!("abstractive, {BATCH} decoding together");
    let batched = batched.row("summarise", &together, n, Some(&greedy));
    let batch_gain = match batched.seconds_per_article {
        s if s > 0.0 => round(rows[PLAIN].seconds_per_article / s, 3),
        _ => 0.0,
    };
    // Ours against theirs: the faster of our abstractive decodes, with and without drafts.
    let ours = [PLAIN, DRAFTS]
        .map(|i| rows[i].decode_tok_s.unwrap_or(0.0))
        .into_iter()
        .fold(0.0, f64::max);
    let ratio = |r: &Row| {
        r.decode_tok_s
            .filter(|&d| d > 0.0)
            .map(|d| round(ours / d, 3))
    };
    rows.push(batched);

    let (mut vs, mut vs_ngram) = (None, None);
    if opts.vs_llamacpp {
        let prompts = articles
            .iter()
            .map(|a| summariser.abstractive_prompt(a, &options(Mode::Abstractive)))
            .collect::<Result<Vec<_>>>()?;
        let loaded = summariser.model().expect("loaded above");
        let budget = options(Mode::Abstractive).answer_budget();
        let texts = prompts
            .iter()
            .map(|ids| loaded.model.tokenizer.decode(ids, false))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for (tool, name) in [
            (Tool::Plain, "abstractive, llama-completion"),
            (
                Tool::NgramSpeculation,
                "abstractive, --spec-type ngram-simple",
            ),
        ] {
            let mut t = Totals::default();
            for _ in 0..opts.repeat.max(1) {
                let (mut seconds, mut prompt_tokens, mut prefill_secs) = (0.0, 0.0, 0.0);
                let (mut decoded, mut decode_secs) = (0.0, 0.0);
                for (text, ids) in texts.iter().zip(&prompts) {
                    let context = ids.len() + budget + 16;
                    let a =
                        llamacpp::answer(tool, &spec.path, text, budget, cpu_threads(), context)?;
                    seconds += a.prefill_secs + a.decode_secs;
                    prompt_tokens += a.prompt_tokens as f64;
                    prefill_secs += a.prefill_secs;
                    decoded += a.decoded as f64;
                    decode_secs += a.decode_secs;
                    t.drafted += a.drafted;
                    t.accepted += a.accepted;
                    // Each pass decodes one token and the drafts it kept.
                    t.passes += a.decoded.saturating_sub(a.accepted);
                }
                t.seconds.push(seconds);
                if prefill_secs > 0.0 {
                    t.prefill.push(prompt_tokens / prefill_secs);
                }
                if decode_secs > 0.0 {
                    t.decode.push(decoded / decode_secs);
                }
            }
            let row = t.row("llama.cpp", name, n, None);
            match tool {
                Tool::Plain => vs = ratio(&row),
                Tool::NgramSpeculation => vs_ngram = ratio(&row),
            }
            rows.push(row);
        }
    }
    Ok(TaskBenchReport {
        task: "summarise",
        model: spec.id.clone(),
        cpu: cpu_model(),
        device: device::name(device),
        threads: cpu_threads(),
        articles: n,
        repeat: opts.repeat.max(1),
        rows,
        decode_vs_llamacpp: vs,
        decode_vs_llamacpp_ngram: vs_ngram,
        batch_gain,
    })
}

/// The report as a table.
pub fn table(r: &TaskBenchReport) -> String {
    let mut s = format!(
        "model {} on {} ({}), {} threads; {} articles, median of {}\n\n{:<10} {:<40} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>7}\n",
        r.model, r.device, r.cpu, r.threads, r.articles, r.repeat,
        "engine", "setting", "s/article", "art/min", "pp tok/s", "tg tok/s", "accept", "tok/pass",
        "greedy"
    );
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
    for row in &r.rows {
        s += &format!(
            "{:<10} {:<40} {:>9.2} {:>9.2} {:>9} {:>9} {:>7} {:>8} {:>7}\n",
            row.engine,
            row.setting,
            row.seconds_per_article,
            row.articles_per_min,
            opt(row.prefill_tok_s),
            opt(row.decode_tok_s),
            opt(row.acceptance),
            opt(row.tokens_per_pass),
            row.same_as_greedy
                .map_or("-", |same| if same { "same" } else { "DIFFERS" }),
        );
    }
    s += &format!(
        "\ndecoded together over one at a time: {:.2}x articles/min\n",
        r.batch_gain
    );
    if let (Some(a), Some(b)) = (r.decode_vs_llamacpp, r.decode_vs_llamacpp_ngram) {
        s += &format!(
            "abstractive decode over llama.cpp: {a:.2}x plain, {b:.2}x with n-gram speculation\n"
        );
    }
    s
}
