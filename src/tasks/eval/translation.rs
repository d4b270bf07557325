//! `summarise eval translation`: corpus chrF2 and BLEU of the model's translations, exactly as
//! sacrebleu computes them, with seconds per line and how often names and quotation marks
//! survive.

use std::time::Instant;

use serde::Serialize;

use crate::error::{IoContext, Result};
use crate::tasks::bench::median;
use crate::tasks::translate::{has_marks, Translator};
use crate::text::facts;
use crate::text::lang::Lang;
use crate::text::mt_metrics;

/// The report; the first four keys are fixed by the issue that asked for it.
#[derive(Debug, Clone, Serialize)]
pub struct TranslationReport {
    pub n: usize,
    pub chrf: f64,
    pub bleu: f64,
    pub secs_per_line_median: f64,
    /// Share of lines whose every name and number of the source (capitalised words not opening a
    /// sentence, numbers) is in the translation as written. Capitalised common nouns and
    /// localised number formats count as lost, so it is a lower bound.
    pub names_kept: f64,
    /// Share of lines that keep, as written, every name and number of the source that the
    /// reference translation keeps as written: the names a translation must not change.
    pub ref_names_kept: f64,
    /// Share of the lines with quotation marks in the source that have them in the
    /// translation too.
    pub marks_kept: f64,
    /// Share of lines that keep both at once: every name `ref_names_kept` asks for, and their
    /// quotation marks when the source has some.
    pub names_and_marks_kept: f64,
}

/// One translated line, as it finishes.
#[derive(Debug, Clone, Serialize)]
pub struct LineResult {
    pub index: usize,
    pub source: String,
    pub reference: String,
    pub translation: String,
    pub seconds: f64,
}

/// Translate each source line and score against its reference.
pub fn evaluate(
    pairs: &[(String, String)],
    from: Lang,
    to: Lang,
    translator: &mut Translator<'_>,
    on_line: &mut dyn FnMut(&LineResult),
) -> Result<TranslationReport> {
    let (mut hyps, mut secs) = (Vec::new(), Vec::new());
    let (mut names, mut marked, mut marks_kept) = (0usize, 0usize, 0usize);
    let (mut ref_names, mut both) = (0usize, 0usize);
    for (i, (src, reference)) in pairs.iter().enumerate() {
        let start = Instant::now();
        let t = translator.line(src, from, to)?;
        let seconds = start.elapsed().as_secs_f64();
        secs.push(seconds);
        // Every name and number of the source, as written, is in the translation.
        if facts::unsupported(src, &t.translation).is_empty() {
            names += 1;
        }
        let all = facts::facts(src);
        let changed = facts::missing(all.clone(), reference);
        let must: Vec<String> = all.into_iter().filter(|f| !changed.contains(f)).collect();
        let names_ok = facts::missing(must, &t.translation).is_empty();
        let quoted = has_marks(src);
        let marks_ok = !quoted || has_marks(&t.translation);
        ref_names += usize::from(names_ok);
        both += usize::from(names_ok && marks_ok);
        if quoted {
            marked += 1;
            marks_kept += usize::from(marks_ok);
        }
        on_line(&LineResult {
            index: i,
            source: src.clone(),
            reference: reference.clone(),
            translation: t.translation.clone(),
            seconds: (seconds * 100.0).round() / 100.0,
        });
        hyps.push(t.translation);
    }
    let h: Vec<&str> = hyps.iter().map(String::as_str).collect();
    let r: Vec<&str> = pairs.iter().map(|(_, r)| r.as_str()).collect();
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let share = |a: usize, b: usize| {
        if b == 0 {
            1.0
        } else {
            (a as f64 / b as f64 * 1000.0).round() / 1000.0
        }
    };
    Ok(TranslationReport {
        n: pairs.len(),
        chrf: round(mt_metrics::chrf(&h, &r)),
        bleu: round(mt_metrics::bleu(&h, &r)),
        secs_per_line_median: round(median(&mut secs)),
        names_kept: share(names, pairs.len()),
        ref_names_kept: share(ref_names, pairs.len()),
        marks_kept: share(marks_kept, marked),
        names_and_marks_kept: share(both, pairs.len()),
    })
}

/// Aligned source and reference lines; a count mismatch names both files.
pub fn read_aligned(
    src: &std::path::Path,
    reference: &std::path::Path,
) -> Result<Vec<(String, String)>> {
    let s = std::fs::read_to_string(src).at(src)?;
    let r = std::fs::read_to_string(reference).at(reference)?;
    let (s, r): (Vec<&str>, Vec<&str>) = (s.lines().collect(), r.lines().collect());
    if s.len() != r.len() || s.is_empty() {
        return Err(crate::error::Error::Input {
            source_name: format!("{} and {}", src.display(), reference.display()),
            message: format!(
                "must hold the same number of lines, at least one (they hold {} and {})",
                s.len(),
                r.len()
            ),
        });
    }
    Ok(s.into_iter()
        .zip(r)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect())
}

/// Source and reference from the fields `src_key` and `ref_key` of each JSON line.
pub fn read_jsonl(
    path: &std::path::Path,
    src_key: &str,
    ref_key: &str,
) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).at(path)?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |what: &str| {
            crate::error::Error::Input {
            source_name: format!("{}:{}", path.display(), i + 1),
            message: format!("{what}; each line must be a JSON object with string fields `{src_key}` and `{ref_key}`"),
        }
        };
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(&format!("not JSON ({e})")))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        match (field(src_key), field(ref_key)) {
            (Some(s), Some(r)) => out.push((s, r)),
            _ => return Err(bad("a field is missing or not a string")),
        }
    }
    if out.is_empty() {
        return Err(crate::error::Error::Input {
            source_name: path.display().to_string(),
            message: "holds no lines".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apostrophes_are_not_quotation_marks() {
        assert!(!has_marks("It's the town's pier."));
        assert!(has_marks("He said \"no\"."));
        assert!(has_marks("Dijo «no»."));
        assert!(has_marks("the 'plan' failed"));
    }
}
