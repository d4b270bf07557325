//! Translation with the model: plain text sentence by sentence (so nothing is dropped), and
//! quotations with their speaker and sentence as context, in the target language's marks.

use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::tasks::model::Loaded;
use crate::text::lang::Lang;
use crate::text::sentences;

/// One translated piece.
#[derive(Debug, Clone, Serialize)]
pub struct Translated {
    pub source: String,
    pub translation: String,
    /// Seconds it took.
    pub seconds: f64,
}

/// Translates with a loaded model.
pub struct Translator<'a> {
    pub loaded: &'a mut Loaded,
}

/// The quotation marks a language's press uses.
pub fn marks(lang: Lang) -> (&'static str, &'static str) {
    match lang.code {
        "es" | "fr" | "it" | "ca" | "ru" | "uk" | "ar" => ("«", "»"),
        "de" | "pl" | "nl" => ("„", "“"),
        "ja" | "zh" => ("「", "」"),
        "sv" => ("”", "”"),
        _ => ("“", "”"),
    }
}

impl Translator<'_> {
    /// Translate one line of text (a sentence or a short paragraph).
    pub fn line(&mut self, text: &str, from: Lang, to: Lang) -> Result<Translated> {
        let start = Instant::now();
        if text.trim().is_empty() || from == to {
            return Ok(Translated {
                source: text.to_string(),
                translation: text.to_string(),
                seconds: 0.0,
            });
        }
        let p = &self.loaded.spec.prompts.translate;
        let user = fill(&p.text, from, to, text, "", "");
        let system = fill(&p.system, from, to, "", "", "");
        let out = self.ask(&system, &user, text)?;
        Ok(Translated {
            source: text.to_string(),
            translation: out,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Translate a quotation said by `speaker` in the sentence `context`; the answer comes in
    /// the target language's quotation marks.
    pub fn quote(
        &mut self,
        text: &str,
        speaker: &str,
        context: &str,
        from: Lang,
        to: Lang,
    ) -> Result<String> {
        let p = &self.loaded.spec.prompts.translate;
        let user = fill(&p.quote, from, to, text, speaker, context);
        let system = fill(&p.system, from, to, "", "", "");
        let out = self.ask(&system, &user, text)?;
        let (open, close) = marks(to);
        Ok(format!("{open}{}{close}", strip_marks(&out)))
    }

    /// Translate `text` sentence by sentence, keeping its lines: every sentence is sent on its
    /// own, so none can be skipped.
    pub fn text(&mut self, text: &str, from: Lang, to: Lang) -> Result<Vec<Translated>> {
        let mut out = Vec::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            for sentence in sentences::split(line) {
                out.push(self.line(&sentence, from, to)?);
            }
        }
        Ok(out)
    }

    fn ask(&mut self, system: &str, user: &str, source: &str) -> Result<String> {
        let ids = self.loaded.encode(system, user, "")?;
        let source_tokens = self
            .loaded
            .model
            .tokenizer
            .encode(source, false, false)?
            .len();
        // Room for a longer target language, never unbounded.
        let budget = (source_tokens * 3 + 16).min(1024);
        let gen = self
            .loaded
            .generate(&ids, budget, &["\n\n"], Some(0.0), 1)?;
        Ok(gen.text.trim().to_string())
    }
}

fn fill(template: &str, from: Lang, to: Lang, text: &str, speaker: &str, context: &str) -> String {
    // One pass, so a text holding "{to}" stays as written.
    let mut out = String::with_capacity(template.len() + text.len() + context.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let pairs: [(&str, &str); 5] = [
            ("{from}", from.name),
            ("{to}", to.name),
            ("{text}", text),
            ("{speaker}", speaker),
            ("{context}", context),
        ];
        match pairs.iter().find(|(k, _)| tail.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &tail[k.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text without quotation marks the model put around it.
fn strip_marks(text: &str) -> &str {
    const MARKS: &[char] = &[
        '"', '\'', '“', '”', '«', '»', '„', '‘', '’', '‹', '›', '「', '」',
    ];
    text.trim()
        .trim_start_matches(MARKS)
        .trim_end_matches(MARKS)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_once_and_marks_follow_the_language() {
        let es = Lang::parse("es").unwrap();
        let en = Lang::parse("en").unwrap();
        assert_eq!(
            fill("{from}>{to}: {text}", es, en, "a {to} b", "", ""),
            "Spanish>English: a {to} b"
        );
        assert_eq!(marks(es), ("«", "»"));
        assert_eq!(marks(en), ("“", "”"));
        assert_eq!(strip_marks("«Hola»"), "Hola");
        assert_eq!(strip_marks(" \"It's fine\" "), "It's fine");
    }
}
