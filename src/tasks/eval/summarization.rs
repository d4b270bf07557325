//! `summarise eval summarization`: ROUGE of our summaries and of the stored systems on a
//! CNN/DailyMail-style JSONL file, scored exactly per the evaluation protocol (rouge-score
//! 0.1.2 semantics, Porter stemming, one sentence per line for ROUGE-Lsum).

use std::path::Path;
use std::time::Instant;

use rougers::{RougeScorer, RougeType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::tasks::bench::median;
use crate::tasks::summarise::{Summariser, SummaryOptions};
use crate::text::input::Article;
use crate::text::{facts, sentences};

/// ROUGE F1 x100.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct RougeScores {
    pub rouge1: f64,
    pub rouge2: f64,
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: f64,
}

/// Scores a candidate against a reference per the protocol.
pub struct Rouge {
    scorer: RougeScorer,
}

impl Default for Rouge {
    fn default() -> Self {
        Rouge::new()
    }
}

impl Rouge {
    /// ROUGE-1, ROUGE-2 and ROUGE-Lsum with the Porter stemmer, as rouge-score computes them.
    pub fn new() -> Rouge {
        let scorer = RougeScorer::new(["rouge1", "rouge2", "rougeLsum"], true)
            .expect("the three ROUGE types are valid");
        Rouge { scorer }
    }

    /// Score `candidate` against `reference`; both are split one sentence per line first.
    pub fn score(&self, reference: &str, candidate: &str) -> RougeScores {
        let s = self.scorer.score(
            &sentences::one_per_line(reference),
            &sentences::one_per_line(candidate),
        );
        let f = |t| s.get(t).map_or(0.0, |x| x.fmeasure * 100.0);
        RougeScores {
            rouge1: f(RougeType::N(1)),
            rouge2: f(RougeType::N(2)),
            rouge_lsum: f(RougeType::LSum),
        }
    }
}

/// One line of the evaluation file.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalArticle {
    pub id: String,
    pub article: String,
    pub article_sentences: Vec<String>,
    pub reference_detok: String,
    pub systems: Systems,
}

/// The stored outputs of published summarisers.
#[derive(Debug, Clone, Deserialize)]
pub struct Systems {
    pub bart: String,
    pub bert_sum: String,
    pub bus: String,
    pub pgn: String,
    pub s2s: String,
}

/// Read up to `limit` articles; a bad line is an error naming the file and line.
pub fn read_articles(path: &Path, limit: Option<usize>) -> Result<Vec<EvalArticle>> {
    let text = std::fs::read_to_string(path).at(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if limit.is_some_and(|n| out.len() >= n) {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let article: EvalArticle = serde_json::from_str(line).map_err(|e| Error::Input {
            source_name: format!("{}:{}", path.display(), i + 1),
            message: format!(
                "not an evaluation record ({e}); each line must be a JSON object with `id`, \
                 `article`, `article_sentences`, `reference_detok` and `systems`"
            ),
        })?;
        out.push(article);
    }
    if out.is_empty() {
        return Err(Error::Input {
            source_name: path.display().to_string(),
            message: "holds no evaluation records".into(),
        });
    }
    Ok(out)
}

/// The baselines, keyed as the report needs them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Baselines {
    pub lead3: RougeScores,
    pub bart: RougeScores,
    pub bert_sum: RougeScores,
    pub bus: RougeScores,
    pub pgn: RougeScores,
    pub s2s: RougeScores,
}

/// Mean ROUGE of Lead-3 and the stored systems over `articles`.
pub fn baselines(rouge: &Rouge, articles: &[EvalArticle]) -> Baselines {
    let mean = |pick: &dyn Fn(&EvalArticle) -> String| {
        mean_scores(
            articles
                .iter()
                .map(|a| rouge.score(&a.reference_detok, &pick(a))),
        )
    };
    Baselines {
        lead3: mean(&|a| lead3(a)),
        bart: mean(&|a| a.systems.bart.clone()),
        bert_sum: mean(&|a| a.systems.bert_sum.clone()),
        bus: mean(&|a| a.systems.bus.clone()),
        pgn: mean(&|a| a.systems.pgn.clone()),
        s2s: mean(&|a| a.systems.s2s.clone()),
    }
}

/// The first three sentences of the article.
pub fn lead3(a: &EvalArticle) -> String {
    a.article_sentences
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

fn mean_scores(scores: impl Iterator<Item = RougeScores>) -> RougeScores {
    let (mut sum, mut n) = (RougeScores::default(), 0usize);
    for s in scores {
        sum.rouge1 += s.rouge1;
        sum.rouge2 += s.rouge2;
        sum.rouge_lsum += s.rouge_lsum;
        n += 1;
    }
    let k = if n == 0 { 0.0 } else { 1.0 / n as f64 };
    let r = |x: f64| (x * k * 100.0).round() / 100.0;
    RougeScores {
        rouge1: r(sum.rouge1),
        rouge2: r(sum.rouge2),
        rouge_lsum: r(sum.rouge_lsum),
    }
}

/// The `--format json` report; keys fixed by the issue that asked for it.
#[derive(Debug, Clone, Serialize)]
pub struct SummarizationReport {
    pub n: usize,
    pub rouge1: f64,
    pub rouge2: f64,
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: f64,
    pub secs_per_article_median: f64,
    pub unsupported_facts: usize,
    pub baselines: Baselines,
}

/// One scored article, as `summarization` finishes it.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleResult {
    /// 0-based position in the file.
    pub index: usize,
    /// The record's `id`.
    pub id: String,
    /// Our summary.
    pub summary: String,
    /// Its ROUGE against the reference.
    pub scores: RougeScores,
    /// Numbers and names in the summary that the article does not hold.
    pub unsupported: Vec<String>,
    /// Seconds it took.
    pub seconds: f64,
}

/// Summarise every article with `summariser`, score the summaries and the baselines.
/// `on_article` sees each article's result as it finishes.
pub fn summarization(
    articles: &[EvalArticle],
    summariser: &mut Summariser,
    options: &SummaryOptions,
    on_article: &mut dyn FnMut(&ArticleResult),
) -> Result<SummarizationReport> {
    let rouge = Rouge::new();
    let (mut scores, mut secs, mut unsupported) = (Vec::new(), Vec::new(), 0);
    for (i, a) in articles.iter().enumerate() {
        let start = Instant::now();
        let input = Article {
            source: format!("{} (article {})", a.id, i + 1),
            text: a.article.clone(),
        };
        let report = summariser.summarise(&input, options, &mut |_| {})?;
        let seconds = start.elapsed().as_secs_f64();
        secs.push(seconds);
        let score = rouge.score(&a.reference_detok, &report.summary);
        scores.push(score);
        let missing = facts::unsupported(&report.summary, &a.article);
        if !missing.is_empty() {
            unsupported += 1;
        }
        on_article(&ArticleResult {
            index: i,
            id: a.id.clone(),
            summary: report.summary,
            scores: score,
            unsupported: missing,
            seconds: (seconds * 100.0).round() / 100.0,
        });
    }
    let ours = mean_scores(scores.into_iter());
    Ok(SummarizationReport {
        n: articles.len(),
        rouge1: ours.rouge1,
        rouge2: ours.rouge2,
        rouge_lsum: ours.rouge_lsum,
        secs_per_article_median: (median(&mut secs) * 10_000.0).round() / 10_000.0,
        unsupported_facts: unsupported,
        baselines: baselines(&rouge, articles),
    })
}
