//! `summarise quotes`: the article's quotations with speakers and offsets (rules, no model),
//! each quote's language, and a translation by the model when `--to` asks for another.

use serde::Serialize;

use crate::error::Result;
use crate::generate::{choose, template};
use crate::tasks::model::Loaded;
use crate::tasks::translate::{QuoteRequest, Translator};
use crate::text::lang::Lang;
use crate::text::quotes::{self, AttributedBy, Quote, Scan, Speaker};
use crate::text::{langid, sentences};

/// A model-chosen speaker is kept only when the model gives it at least this probability
/// among the article's names and "nobody".
const MODEL_SPEAKER_MIN: f64 = 0.5;

/// Quotations of one article translated together (greedy): each gets the translation it gets
/// alone, in about half the decode time for four.
const TRANSLATED_TOGETHER: usize = 4;

/// One quotation as reported.
#[derive(Debug, Clone, Serialize)]
pub struct QuoteRecord {
    #[serde(flatten)]
    pub quote: Quote,
    /// Detected language code (the article's for short quotes).
    pub lang: Option<&'static str>,
    /// In the `--to` language and its quotation marks, when that differs from `lang`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translation: Option<String>,
}

/// The quotations of one article.
#[derive(Debug, Clone, Serialize)]
pub struct QuotesReport {
    pub input: String,
    /// The article's language.
    pub lang: Option<&'static str>,
    pub quotes: Vec<QuoteRecord>,
}

/// Find the quotations of `text` (already cleaned: offsets are into it), detect their
/// language, and translate them into `to` with `model` when given, decoding with `beams`
/// beams (1: greedy). With `model_speakers`, the model also attributes the quotations the rules
/// could not, choosing among the article's names.
pub fn run(
    input: &str,
    text: &str,
    to: Option<Lang>,
    mut model: Option<&mut Loaded>,
    model_speakers: bool,
    beams: usize,
) -> Result<QuotesReport> {
    let article_lang = langid::detect(text);
    let found = match (model_speakers, model.as_deref_mut()) {
        (true, Some(loaded)) => find_with_model(loaded, text)?,
        _ => quotes::find(text),
    };
    let langs: Vec<Option<Lang>> = found
        .iter()
        .map(|q| langid::detect_with_prior(&q.text, article_lang))
        .collect();
    let mut records: Vec<QuoteRecord> = found
        .into_iter()
        .zip(&langs)
        .map(|(quote, lang)| QuoteRecord {
            quote,
            lang: lang.map(|l| l.code),
            translation: None,
        })
        .collect();
    if let (Some(to), Some(model)) = (to, model) {
        let todo: Vec<usize> = (0..records.len())
            .filter(|&i| langs[i].is_some_and(|from| from != to))
            .collect();
        let contexts: Vec<String> = todo
            .iter()
            .map(|&i| sentence_around(text, records[i].quote.start, records[i].quote.end))
            .collect();
        let requests: Vec<QuoteRequest> = todo
            .iter()
            .zip(&contexts)
            .map(|(&i, context)| QuoteRequest {
                text: &records[i].quote.text,
                speaker: records[i]
                    .quote
                    .speaker
                    .as_ref()
                    .map_or("someone", |s| s.name.as_str()),
                context,
                from: langs[i].expect("filtered above"),
            })
            .collect();
        let mut translator = Translator::new(model).with_beams(beams);
        let translated = translator.quotes(&requests, to, TRANSLATED_TOGETHER)?;
        drop(requests);
        for (i, t) in todo.into_iter().zip(translated) {
            records[i].translation = Some(t);
        }
    }
    Ok(QuotesReport {
        input: input.to_string(),
        lang: article_lang.map(|l| l.code),
        quotes: records,
    })
}

/// The quotations of `text` the rules attribute, and those the model attributes among the
/// rest, in order.
pub fn find_with_model(loaded: &mut Loaded, text: &str) -> Result<Vec<Quote>> {
    let found = quotes::scan(text);
    let more = speakers_by_model(loaded, text, &found)?;
    let mut all = found.quotes;
    all.extend(more);
    all.sort_by_key(|q| q.start);
    Ok(all)
}

/// The quotations the rules left unattributed, with the speaker the model finds likeliest
/// among the people the article names; those it gives to nobody, or to no one clearly, stay
/// out.
pub fn speakers_by_model(loaded: &mut Loaded, text: &str, found: &Scan) -> Result<Vec<Quote>> {
    if found.people.is_empty() || found.unattributed.is_empty() {
        return Ok(Vec::new());
    }
    let stop = loaded.stop_ids.first().copied();
    let mut answers = Vec::with_capacity(found.people.len() + 1);
    for name in found.people.iter().map(String::as_str).chain(["nobody"]) {
        let mut ids = loaded.model.tokenizer.encode(name, false, false)?;
        ids.extend(stop);
        answers.push(ids);
    }
    let names = found.people.join(", ");
    let paragraphs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::new();
    for quote in &found.unattributed {
        let p = quote.paragraph.min(paragraphs.len().saturating_sub(1));
        let context = paragraphs[p.saturating_sub(1)..(p + 2).min(paragraphs.len())].join("\n\n");
        let prompts = &loaded.spec.prompts;
        let user = template::fill(
            &prompts.speaker,
            &[
                ("{context}", &context),
                ("{quote}", &quote.text),
                ("{names}", &names),
            ],
        );
        let ids = loaded.encode(&prompts.system, &user, "")?;
        let scores = choose::log_probs(&mut loaded.model, &ids, &answers)?;
        let (best, p) = best_share(&scores);
        if best < found.people.len() && p >= MODEL_SPEAKER_MIN {
            let name = found.people[best].clone();
            out.push(Quote {
                speaker: Some(Speaker {
                    as_written: name.clone(),
                    name,
                }),
                // Below every rule-found speaker's confidence.
                confidence: ((p * 0.5 * 100.0).round() / 100.0) as f32,
                attributed_by: AttributedBy::Model,
                ..quote.clone()
            });
        }
    }
    Ok(out)
}

/// The index of the largest log-probability and its share of the total probability.
fn best_share(log_probs: &[f64]) -> (usize, f64) {
    let max = log_probs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_probs.iter().map(|l| (l - max).exp()).sum();
    let best = log_probs.iter().position(|&l| l == max).unwrap_or(0);
    (best, 1.0 / sum)
}

/// The sentence (or sentences) of `text` around the bytes `start..end`.
fn sentence_around(text: &str, start: usize, end: usize) -> String {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let line = &text[line_start..line_end];
    let around: Vec<String> = sentences::split(line)
        .into_iter()
        .filter(|s| {
            line.find(s.as_str()).is_some_and(|at| {
                let (a, b) = (line_start + at, line_start + at + s.len());
                a < end && b > start
            })
        })
        .collect();
    if around.is_empty() {
        line.to_string()
    } else {
        around.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_model_quotes_come_with_offsets_language_and_no_translation() {
        let text = "The mayor, Ana Ruiz, spoke on Monday.\n\n\"We will rebuild the pier before the summer season starts,\" Ruiz said.";
        let r = run("t.txt", text, Lang::parse("es").ok(), None, true, 1).unwrap();
        assert_eq!(r.quotes.len(), 1);
        let q = &r.quotes[0];
        assert_eq!(&text[q.quote.start..q.quote.end], q.quote.text);
        assert_eq!(q.lang, Some("en"));
        assert!(q.translation.is_none());
        assert_eq!(q.quote.speaker.as_ref().unwrap().name, "Ana Ruiz");
    }

    #[test]
    fn the_best_answer_and_its_share() {
        let (best, p) = best_share(&[(0.2f64).ln(), (0.6f64).ln(), (0.2f64).ln()]);
        assert_eq!(best, 1);
        assert!((p - 0.6).abs() < 1e-9);
    }

    #[test]
    fn the_sentence_around_a_quote_is_its_context() {
        let text = "First one. He said \"go now\" loudly. Last one.";
        let at = text.find("go now").unwrap();
        assert_eq!(
            sentence_around(text, at, at + 6),
            "He said \"go now\" loudly."
        );
    }
}
