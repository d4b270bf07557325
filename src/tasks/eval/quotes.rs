//! `summarise eval quotes`: the quote finder against passages annotated by hand
//! (`tests/fixtures/quotes/passages.jsonl`, compiled in): precision and recall of the quoted
//! text, and how often the speaker is right.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::text::quotes;

/// The annotated passages shipped with the binary.
pub const BUILTIN: &str = include_str!("../../../tests/fixtures/quotes/passages.jsonl");

/// One annotated passage.
#[derive(Debug, Clone, Deserialize)]
pub struct Passage {
    pub id: String,
    pub lang: String,
    pub text: String,
    pub quotes: Vec<GoldQuote>,
}

/// A quotation as annotated.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldQuote {
    pub text: String,
    pub speaker: String,
}

/// Read passages from JSON lines; `name` names the source in errors.
pub fn parse(text: &str, name: &str) -> Result<Vec<Passage>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: Passage = serde_json::from_str(line).map_err(|e| Error::Input {
            source_name: format!("{name}:{}", i + 1),
            message: format!(
                "not an annotated passage ({e}); each line must be a JSON object with `id`, \
                 `lang`, `text` and `quotes` (a list of {{`text`, `speaker`}})"
            ),
        })?;
        out.push(p);
    }
    if out.is_empty() {
        return Err(Error::Input {
            source_name: name.to_string(),
            message: "holds no annotated passages".into(),
        });
    }
    Ok(out)
}

/// Passages from `path`, or the built-in set.
pub fn load(path: Option<&Path>) -> Result<Vec<Passage>> {
    match path {
        Some(p) => parse(&std::fs::read_to_string(p).at(p)?, &p.display().to_string()),
        None => parse(BUILTIN, "tests/fixtures/quotes/passages.jsonl"),
    }
}

/// Scores over a set of passages.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Scores {
    pub passages: usize,
    /// Annotated quotations.
    pub gold: usize,
    /// Quotations found.
    pub found: usize,
    /// Found with the annotated text.
    pub matched: usize,
    pub precision: f64,
    pub recall: f64,
    /// Of the matched, the share with the annotated speaker.
    pub speaker_accuracy: f64,
}

/// The `eval quotes` report.
#[derive(Debug, Clone, Serialize)]
pub struct QuotesReport {
    #[serde(flatten)]
    pub all: Scores,
    /// The same per language of the passages.
    pub by_lang: std::collections::BTreeMap<String, Scores>,
    /// What went wrong, one line each, for reading.
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Tally {
    passages: usize,
    gold: usize,
    found: usize,
    matched: usize,
    speaker: usize,
}

impl Tally {
    fn scores(&self) -> Scores {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                1.0
            } else {
                (a as f64 / b as f64 * 1000.0).round() / 1000.0
            }
        };
        Scores {
            passages: self.passages,
            gold: self.gold,
            found: self.found,
            matched: self.matched,
            precision: ratio(self.matched, self.found),
            recall: ratio(self.matched, self.gold),
            speaker_accuracy: ratio(self.speaker, self.matched),
        }
    }
}

/// Run the quote finder (the rules) on every passage and score it.
pub fn evaluate(passages: &[Passage]) -> QuotesReport {
    evaluate_with(passages, &mut |text| Ok(quotes::find(text))).expect("the rules cannot fail")
}

/// Score `finder` on every passage. A found quotation matches an annotated one with the same
/// text (outer spaces ignored), each used once.
pub fn evaluate_with(
    passages: &[Passage],
    finder: &mut dyn FnMut(&str) -> crate::error::Result<Vec<quotes::Quote>>,
) -> crate::error::Result<QuotesReport> {
    let mut all = Tally::default();
    let mut by_lang: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut errors = Vec::new();
    for p in passages {
        let found = finder(&p.text)?;
        let lang = by_lang.entry(p.lang.clone()).or_default();
        let mut used = vec![false; p.quotes.len()];
        let (mut matched, mut speaker) = (0, 0);
        for q in &found {
            let hit = p
                .quotes
                .iter()
                .enumerate()
                .find(|(k, g)| !used[*k] && g.text.trim() == q.text.trim());
            match hit {
                Some((k, g)) => {
                    used[k] = true;
                    matched += 1;
                    let name = q.speaker.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                    if name == g.speaker {
                        speaker += 1;
                    } else {
                        errors.push(format!(
                            "{}: speaker of {:?} is {:?}, found {:?}",
                            p.id, g.text, g.speaker, name
                        ));
                    }
                }
                None => errors.push(format!("{}: found {:?}, not annotated", p.id, q.text)),
            }
        }
        for (k, g) in p.quotes.iter().enumerate() {
            if !used[k] {
                errors.push(format!("{}: missed {:?} ({})", p.id, g.text, g.speaker));
            }
        }
        for t in [&mut all, lang] {
            t.passages += 1;
            t.gold += p.quotes.len();
            t.found += found.len();
            t.matched += matched;
            t.speaker += speaker;
        }
    }
    Ok(QuotesReport {
        all: all.scores(),
        by_lang: by_lang.into_iter().map(|(k, t)| (k, t.scores())).collect(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_passages_are_named_by_line() {
        let err = parse("{\"id\": \"x\"}\n", "p.jsonl")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.jsonl:1"), "{err}");
        assert!(parse("\n", "p.jsonl").is_err());
    }

    #[test]
    fn the_builtin_set_is_annotated_consistently() {
        let passages = load(None).unwrap();
        assert!(passages.len() >= 30);
        for p in &passages {
            for q in &p.quotes {
                assert!(p.text.contains(&q.text), "{}: {:?}", p.id, q.text);
                assert!(p.text.contains(&q.speaker), "{}: {:?}", p.id, q.speaker);
            }
        }
    }
}
