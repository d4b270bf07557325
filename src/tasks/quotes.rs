//! `summarise quotes`: the article's quotations with speakers and offsets (rules, no model),
//! each quote's language, and a translation by the model when `--to` asks for another.

use serde::Serialize;

use crate::error::Result;
use crate::tasks::translate::Translator;
use crate::text::lang::Lang;
use crate::text::quotes::{self, Quote};
use crate::text::{langid, sentences};

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
/// language, and translate them into `to` with `translator` when given.
pub fn run(
    input: &str,
    text: &str,
    to: Option<Lang>,
    mut translator: Option<Translator<'_>>,
) -> Result<QuotesReport> {
    let article_lang = langid::detect(text);
    let mut records = Vec::new();
    for quote in quotes::find(text) {
        let lang = langid::detect_with_prior(&quote.text, article_lang);
        let translation = match (to, lang, translator.as_mut()) {
            (Some(to), Some(from), Some(t)) if to != from => {
                let speaker = quote
                    .speaker
                    .as_ref()
                    .map_or("someone", |s| s.name.as_str());
                let context = sentence_around(text, quote.start, quote.end);
                Some(t.quote(&quote.text, speaker, &context, from, to)?)
            }
            _ => None,
        };
        records.push(QuoteRecord {
            quote,
            lang: lang.map(|l| l.code),
            translation,
        });
    }
    Ok(QuotesReport {
        input: input.to_string(),
        lang: article_lang.map(|l| l.code),
        quotes: records,
    })
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
        let r = run("t.txt", text, Lang::parse("es").ok(), None).unwrap();
        assert_eq!(r.quotes.len(), 1);
        let q = &r.quotes[0];
        assert_eq!(&text[q.quote.start..q.quote.end], q.quote.text);
        assert_eq!(q.lang, Some("en"));
        assert!(q.translation.is_none());
        assert_eq!(q.quote.speaker.as_ref().unwrap().name, "Ana Ruiz");
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
