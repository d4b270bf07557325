//! Translation with the model: plain text sentence by sentence (so nothing is dropped), and
//! quotations with their speaker and sentence as context, in the target language's marks.

use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::generate::template;
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

/// A quotation to translate: its words, who says them, the sentence around them, their language.
pub struct QuoteRequest<'q> {
    pub text: &'q str,
    pub speaker: &'q str,
    pub context: &'q str,
    pub from: Lang,
}

/// Translates with a loaded model.
pub struct Translator<'a> {
    loaded: &'a mut Loaded,
    /// Whether lines are read as one document: each line is then asked after the lines before
    /// it, as earlier turns, so pronouns and terms follow the text.
    document: bool,
    /// The document's latest (request, answer) turns, when `document`.
    turns: Vec<(String, String)>,
    /// Beams of the beam search each request is decoded with; 1 is greedy.
    beams: usize,
}

/// Earlier lines shown before a line of a document: past this many, the oldest are dropped
/// down to [`TURNS_KEPT`] at once, so that most requests extend the last one's cached prompt.
const MAX_TURNS: usize = 6;
const TURNS_KEPT: usize = 2;

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

impl<'a> Translator<'a> {
    /// A translator whose lines are independent.
    pub fn new(loaded: &'a mut Loaded) -> Translator<'a> {
        Translator {
            loaded,
            document: false,
            turns: Vec::new(),
            beams: 1,
        }
    }

    /// Decode with a beam search of `beams` beams (1: greedy).
    pub fn with_beams(mut self, beams: usize) -> Translator<'a> {
        self.beams = beams.max(1);
        self
    }

    /// A translator whose lines are consecutive lines of one text.
    pub fn for_document(loaded: &'a mut Loaded) -> Translator<'a> {
        Translator {
            document: true,
            ..Translator::new(loaded)
        }
    }

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
        let marked = marks_sent(text, to);
        let context = match self.document {
            true => std::mem::take(&mut self.turns),
            false => Vec::new(),
        };
        let quoted = has_marks(text);
        let whole = self.plain(&marked, from, to, &context);
        self.turns = context;
        let mut whole = first_keeping_marks(whole?, quoted);
        if quoted && !has_marks(&whole) {
            // The model drops a quotation's marks now and then: asked again, with the marks
            // pointed out, it mostly keeps them.
            let p = &self.loaded.spec.prompts.translate;
            let user = fill(&p.keep_marks, from, to, &marked, "", "");
            let again = first_keeping_marks(self.answers(from, to, &[], &user, &marked)?, true);
            if has_marks(&again) {
                whole = again;
            }
        }
        if quoted && !has_marks(&whole) {
            whole = self.mark_quotations(whole, text, from, to)?;
        }
        if self.document {
            if self.turns.len() >= MAX_TURNS {
                self.turns.drain(..MAX_TURNS - TURNS_KEPT);
            }
            let p = &self.loaded.spec.prompts.translate;
            self.turns
                .push((fill(&p.text, from, to, &marked, "", ""), whole.clone()));
        }
        Ok(Translated {
            source: text.to_string(),
            translation: whole,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Put back the marks `whole`, the translation of `text`, lost. Each quotation is
    /// translated alone and found again in `whole` (the closest run of words), which takes the
    /// marks around it. A line that opens with a quotation the line's translation no longer
    /// shows recognisably is translated as quotation and attribution apart, then rejoined.
    fn mark_quotations(
        &mut self,
        whole: String,
        text: &str,
        from: Lang,
        to: Lang,
    ) -> Result<String> {
        let (open, close) = marks_of_line(to);
        let leading = leading_quote(text);
        if let Some(marked) = leading.and_then(|(_, comma, narration)| {
            mark_before_attribution(&whole, comma, narration, open, close, to)
        }) {
            return Ok(marked);
        }
        let mut out = whole;
        let mut missed = None;
        for span in crate::text::quotes::marks::find(text)
            .iter()
            .filter(|s| s.closed && s.narration.is_none())
        {
            let alone = self
                .plain(&text[span.start..span.end], from, to, &[])?
                .remove(0);
            match best_window(&out, strip_marks(&alone)) {
                Some((a, b)) => out = put_marks(&out, a, b, open, close, to),
                None => {
                    missed.get_or_insert(alone);
                }
            }
        }
        if let (Some((_, comma, narration)), Some(quote)) = (leading, missed) {
            // `«Quote», agregó.`: small models can drop the marks (and the attribution) of a
            // line that opens with a quotation.
            let p = &self.loaded.spec.prompts.translate;
            let user = fill(&p.attribution, from, to, narration, "", "");
            let n = self.ask(from, to, &user, narration)?;
            out = join_quote(&quote, comma, &n, narration, to);
        }
        Ok(out)
    }

    /// `text` through the `text` prompt, after the registry's examples for the pair and then
    /// `context`, the document's earlier turns: the answers, best first (see [`Self::answers`]).
    fn plain(
        &mut self,
        text: &str,
        from: Lang,
        to: Lang,
        context: &[(String, String)],
    ) -> Result<Vec<String>> {
        let p = &self.loaded.spec.prompts.translate;
        let user = fill(&p.text, from, to, text, "", "");
        // The registry's worked examples for this pair, asked exactly as `text` will be.
        let mut examples: Vec<(String, String)> = p
            .examples
            .iter()
            .filter(|e| Lang::parse(&e.from) == Ok(from) && Lang::parse(&e.to) == Ok(to))
            .map(|e| {
                let source = marks_sent(&e.source, to);
                (fill(&p.text, from, to, &source, "", ""), e.target.clone())
            })
            .collect();
        examples.extend_from_slice(context);
        self.answers(from, to, &examples, &user, text)
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
        let user = self.quote_request(text, speaker, context, from, to);
        let out = self.ask(from, to, &user, text)?;
        Ok(in_marks(&out, to))
    }

    /// [`Translator::quote`] for each of `quotes`, up to `width` greedy answers decoding
    /// together ([`generate::generate_batch_limited`](crate::generate::generate_batch_limited)):
    /// the same translations as one at a time. A beam search goes one at a time.
    pub fn quotes(
        &mut self,
        quotes: &[QuoteRequest<'_>],
        to: Lang,
        width: usize,
    ) -> Result<Vec<String>> {
        if self.beams > 1 || width <= 1 || quotes.len() <= 1 {
            return quotes
                .iter()
                .map(|q| self.quote(q.text, q.speaker, q.context, q.from, to))
                .collect();
        }
        let (mut prompts, mut limits) = (Vec::new(), Vec::new());
        for q in quotes {
            let user = self.quote_request(q.text, q.speaker, q.context, q.from, to);
            let (ids, budget) = self.request(q.from, to, &[], &user, q.text)?;
            prompts.push(ids);
            limits.push(budget);
        }
        self.loaded
            .generate_batch_limited(&prompts, &limits, &["\n\n"], Some(0.0), 1, width)?
            .into_iter()
            .map(|g| Ok(in_marks(g?.text.trim(), to)))
            .collect()
    }

    /// The request to translate a quotation.
    fn quote_request(
        &self,
        text: &str,
        speaker: &str,
        context: &str,
        from: Lang,
        to: Lang,
    ) -> String {
        let p = &self.loaded.spec.prompts.translate;
        fill(&p.quote, from, to, text, speaker, context)
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

    /// The model's answer to `user`, trimmed.
    fn ask(&mut self, from: Lang, to: Lang, user: &str, source: &str) -> Result<String> {
        Ok(self.answers(from, to, &[], user, source)?.remove(0))
    }

    /// `user` after the translator's system turn and `examples`: the answer, trimmed, then a
    /// beam search's other finished answers, best first (none when greedy). Never empty.
    fn answers(
        &mut self,
        from: Lang,
        to: Lang,
        examples: &[(String, String)],
        user: &str,
        source: &str,
    ) -> Result<Vec<String>> {
        let (ids, budget) = self.request(from, to, examples, user, source)?;
        let gen = self
            .loaded
            .generate(&ids, budget, &["\n\n"], Some(0.0), 1, self.beams)?;
        Ok(std::iter::once(gen.text)
            .chain(gen.alternatives)
            .map(|t| t.trim().to_string())
            .collect())
    }

    /// The token ids of `user` after the translator's system turn and `examples`, and the
    /// answer's token budget: room for a longer target language than `source`, never
    /// unbounded.
    fn request(
        &self,
        from: Lang,
        to: Lang,
        examples: &[(String, String)],
        user: &str,
        source: &str,
    ) -> Result<(Vec<u32>, usize)> {
        let system = fill(
            &self.loaded.spec.prompts.translate.system,
            from,
            to,
            "",
            "",
            "",
        );
        let ids = self.loaded.encode_with(&system, examples, user, "")?;
        let source_tokens = self
            .loaded
            .model
            .tokenizer
            .encode(source, false, false)?
            .len();
        Ok((ids, (source_tokens * 3 + 16).min(1024)))
    }
}

/// A translated quotation in `to`'s quotation marks.
fn in_marks(answer: &str, to: Lang) -> String {
    let (open, close) = marks(to);
    format!("{open}{}{close}", strip_marks(answer))
}

/// The first of `answers` (best first, never empty) whose quotation marks are all closed,
/// when `quoted` (the source quotes someone); otherwise, or when none does, the first. A beam
/// search can rank `We have mice ... no longer are."` (the opening mark and the attribution
/// dropped) above `"We have mice ...," he added.`: the next answer keeps the quotation.
fn first_keeping_marks(mut answers: Vec<String>, quoted: bool) -> String {
    let at = match quoted {
        true => answers.iter().position(|a| marks_closed(a)).unwrap_or(0),
        false => 0,
    };
    answers.swap_remove(at)
}

/// Whether `s` holds quotation marks and every one of them is closed: an even number of `"`,
/// and as many of each opening mark as of its closing one (single marks are not counted:
/// they double as apostrophes).
fn marks_closed(s: &str) -> bool {
    let count = |c: char| s.matches(c).count();
    has_marks(s)
        && count('"') % 2 == 0
        && count('«') == count('»')
        && match count('„') {
            // German and Polish close „ with “.
            0 => count('“') == count('”'),
            n => n == count('“'),
        }
}

/// `text` as it is handed to the model: marks the model knows from the target language's text
/// survive translation more often than «» or „“, which it tends to drop, so the text is given
/// in the target's marks (plain `"` for English).
fn marks_sent(text: &str, to: Lang) -> String {
    let (open, close) = marks_of_line(to);
    recast_marks(text, open, close)
}

/// The marks a translated line uses: plain `"` for English, the press's marks otherwise.
fn marks_of_line(to: Lang) -> (&'static str, &'static str) {
    if to.code == "en" {
        ("\"", "\"")
    } else {
        marks(to)
    }
}

/// The byte range of the run of words of `line` that best matches the words of `part` (F1 of
/// shared words, case and punctuation ignored), when the match is close (F1 at least 0.7): a
/// quotation the model recast as reported speech is left unmarked rather than marked wrong.
fn best_window(line: &str, part: &str) -> Option<(usize, usize)> {
    let norm = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let words: Vec<(usize, usize, String)> = line
        .split_whitespace()
        .map(|w| {
            let at = w.as_ptr() as usize - line.as_ptr() as usize;
            let lead = w.len() - w.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
            let core = w.trim_matches(|c: char| !c.is_alphanumeric()).len();
            (at + lead, at + lead + core, norm(w))
        })
        .filter(|(_, _, n)| !n.is_empty())
        .collect();
    let want: Vec<String> = part
        .split_whitespace()
        .map(norm)
        .filter(|w| !w.is_empty())
        .collect();
    if want.is_empty() || words.is_empty() {
        return None;
    }
    let mut best: Option<(f64, usize, usize)> = None;
    for i in 0..words.len() {
        let mut pool = want.clone();
        let mut shared = 0usize;
        for (j, (_, _, word)) in words.iter().enumerate().skip(i) {
            if let Some(k) = pool.iter().position(|w| w == word) {
                pool.swap_remove(k);
                shared += 1;
            }
            let f1 = 2.0 * shared as f64 / ((j - i + 1) + want.len()) as f64;
            if best.is_none_or(|(b, _, _)| f1 > b) {
                best = Some((f1, i, j));
            }
        }
    }
    let (f1, i, j) = best?;
    (f1 >= 0.7).then(|| (words[i].0, words[j].1))
}

/// `whole`, the translation of a line that opens with a quotation followed by a comma and the
/// attribution `narration`, with the marks around everything before its last comma, when what
/// follows that comma is about as long as the attribution, and none of the attribution's names
/// stands before it (the model did not move the speaker into the sentence): `X, he added.`
/// becomes `"X," he added.`
fn mark_before_attribution(
    whole: &str,
    comma: bool,
    narration: &str,
    open: &str,
    close: &str,
    to: Lang,
) -> Option<String> {
    let at = whole.rfind(", ").filter(|_| comma)?;
    let (head, tail) = (whole[..at].trim(), whole[at + 2..].trim());
    let words = |s: &str| s.split_whitespace().count();
    let names = crate::text::facts::facts(narration);
    let moved = crate::text::facts::missing(names.clone(), head).len() < names.len();
    if head.is_empty() || words(tail) == 0 || words(tail) > words(narration) + 3 || moved {
        return None;
    }
    Some(put_marks(
        &format!("{head}, {tail}"),
        0,
        head.len(),
        open,
        close,
        to,
    ))
}

/// `line` with `open` and `close` around `line[a..b]`. In English a comma or full stop right
/// after the quotation goes inside the closing mark, as its press writes it.
fn put_marks(line: &str, a: usize, b: usize, open: &str, close: &str, to: Lang) -> String {
    let (inner, rest) = (&line[a..b], &line[b..]);
    match rest.chars().next() {
        Some(c @ (',' | '.')) if to.code == "en" => format!(
            "{}{open}{inner}{c}{close}{}",
            &line[..a],
            &rest[c.len_utf8()..]
        ),
        _ => format!("{}{open}{inner}{close}{rest}", &line[..a]),
    }
}

fn fill(template: &str, from: Lang, to: Lang, text: &str, speaker: &str, context: &str) -> String {
    template::fill(
        template,
        &[
            ("{from}", from.name),
            ("{to}", to.name),
            ("{text}", text),
            ("{speaker}", speaker),
            ("{context}", context),
        ],
    )
}

/// `text` with each quotation's marks replaced by `open` and `close` (the quoted words and
/// everything else unchanged).
fn recast_marks(text: &str, open: &str, close: &str) -> String {
    let spans = crate::text::quotes::marks::find(text);
    let mut out = String::with_capacity(text.len() + 8);
    let mut at = 0;
    for s in spans.iter().filter(|s| s.closed && s.narration.is_none()) {
        if s.open_at < at {
            continue;
        }
        out.push_str(&text[at..s.open_at]);
        out.push_str(open);
        out.push_str(&text[s.start..s.end]);
        out.push_str(close);
        at = s.close_at;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `s` holds a quotation mark (an apostrophe inside a word is not one).
pub fn has_marks(s: &str) -> bool {
    const MARKS: &[char] = &[
        '"', '“', '”', '«', '»', '„', '‘', '’', '\'', '‹', '›', '「', '」',
    ];
    s.char_indices().any(|(i, c)| {
        let inside_word = matches!(c, '\'' | '’')
            && s[..i].ends_with(char::is_alphanumeric)
            && s[i + c.len_utf8()..].starts_with(char::is_alphanumeric);
        MARKS.contains(&c) && !inside_word
    })
}

/// A line that opens with a closed quotation followed by a short attribution: the quoted
/// words, whether a comma followed the quotation, and the attribution.
fn leading_quote(text: &str) -> Option<(&str, bool, &str)> {
    let spans = crate::text::quotes::marks::find(text);
    let first = spans.first()?;
    let opens_line = text[..first.open_at].trim().is_empty();
    if !opens_line || !first.closed || first.narration.is_some() || spans.len() > 1 {
        return None;
    }
    let rest = text[first.close_at..].trim_start();
    let comma = rest.starts_with(',');
    let narration = rest.trim_start_matches([',', ' ']).trim();
    let words = narration
        .split_whitespace()
        .filter(|w| w.contains(char::is_alphanumeric))
        .count();
    // One clause naming the speaker, however long their titles ("sostuvo Glen Cushing, del
    // equipo de ..."), and not a further sentence.
    let one_sentence = !narration
        .trim_end_matches(['.', '!', '?'])
        .contains(['.', '!', '?']);
    (1..=30)
        .contains(&words)
        .then_some((&text[first.start..first.end], comma, narration))
        .filter(|_| one_sentence)
}

/// Rejoin a translated quotation and attribution in the target language's marks: the comma
/// goes inside the marks in English, outside in the other languages ([`put_marks`]).
fn join_quote(
    quote: &str,
    comma: bool,
    narration: &str,
    source_narration: &str,
    to: Lang,
) -> String {
    let (open, close) = marks_of_line(to);
    let quote = strip_marks(quote);
    let narration = strip_marks(narration);
    // The attribution goes on the writer's sentence: lower-case, unless it opens with a name.
    let starts_with_name = narration
        .split_whitespace()
        .next()
        .is_some_and(|w| source_narration.contains(w.trim_matches(|c: char| !c.is_alphanumeric())));
    let narration = match narration.chars().next() {
        Some(c) if c.is_uppercase() && !starts_with_name => {
            c.to_lowercase().collect::<String>() + &narration[c.len_utf8()..]
        }
        _ => narration.to_string(),
    };
    let (quote, gap) = match comma {
        true => (quote.trim_end_matches(['.', ',']), ", "),
        false => (quote, " "),
    };
    put_marks(
        &format!("{quote}{gap}{narration}"),
        0,
        quote.len(),
        open,
        close,
        to,
    )
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

    #[test]
    fn marks_are_recast_and_nothing_else_changes() {
        assert_eq!(
            recast_marks("Dijo «no» y „ja“ hoy.", "\"", "\""),
            "Dijo \"no\" y \"ja\" hoy."
        );
        assert_eq!(recast_marks("Sin comillas.", "«", "»"), "Sin comillas.");
        assert_eq!(
            recast_marks("Abierta «sin cierre", "\"", "\""),
            "Abierta «sin cierre"
        );
    }

    #[test]
    fn a_translated_quotation_is_found_again_in_its_line() {
        let line = "It is the story of an artist whose life is ruled by love, drugs and Japan.";
        let (a, b) =
            best_window(line, "whose life is ruled by love, by drugs and by Japan").unwrap();
        assert_eq!(&line[a..b], "whose life is ruled by love, drugs and Japan");
        assert!(best_window(line, "nothing alike here at all").is_none());
        assert!(best_window("", "words").is_none());
        assert!(best_window("some words", "").is_none());
    }

    #[test]
    fn marks_found_again_take_english_punctuation_inside() {
        let en = Lang::parse("en").unwrap();
        let es = Lang::parse("es").unwrap();
        let line = "We no longer have them, he added.";
        let (a, b) = best_window(line, "We no longer have them").unwrap();
        assert_eq!(
            put_marks(line, a, b, "\"", "\"", en),
            "\"We no longer have them,\" he added."
        );
        let line = "Dijo que era un avance importante.";
        let (a, b) = best_window(line, "un avance importante").unwrap();
        assert_eq!(
            put_marks(line, a, b, "«", "»", es),
            "Dijo que era «un avance importante»."
        );
    }

    #[test]
    fn an_attribution_after_a_comma_leaves_the_quotation_before_it() {
        let en = Lang::parse("en").unwrap();
        let whole = "Currently, we have mice that are no longer diabetic, he added.";
        assert_eq!(
            mark_before_attribution(whole, true, "agregó.", "\"", "\"", en).unwrap(),
            "\"Currently, we have mice that are no longer diabetic,\" he added."
        );
        // Too long to be the attribution, or no comma in the source: left to the other repairs.
        let long = "We have mice, and they are no longer diabetic as they were before.";
        assert!(mark_before_attribution(long, true, "agregó.", "\"", "\"", en).is_none());
        assert!(mark_before_attribution(whole, false, "agregó.", "\"", "\"", en).is_none());
        // The speaker the attribution names is not after the comma: the model moved it.
        let moved = "Although it is irregular, Glen Cushing said, it matches deep caves.";
        let narration = "sostuvo Glen Cushing, del USGS.";
        assert!(mark_before_attribution(moved, true, narration, "\"", "\"", en).is_none());
        // The model left the name out: the attribution is still the part after the comma.
        let dropped = "I lost my sister, and they pushed the others down, he said.";
        assert_eq!(
            mark_before_attribution(dropped, true, "relató Armand Versace.", "\"", "\"", en)
                .unwrap(),
            "\"I lost my sister, and they pushed the others down,\" he said."
        );
        let named = "We will work hard, Hu said.";
        assert_eq!(
            mark_before_attribution(named, true, "afirmó Hu.", "\"", "\"", en).unwrap(),
            "\"We will work hard,\" Hu said."
        );
    }

    #[test]
    fn the_first_answer_that_closes_its_marks_is_taken_for_a_quotation() {
        let answers = || {
            vec![
                "We have mice that are no longer diabetic.\"".to_string(),
                "We have mice that are no longer diabetic.".to_string(),
                "\"We have mice that are no longer diabetic,\" he added.".to_string(),
            ]
        };
        assert_eq!(first_keeping_marks(answers(), false), answers()[0]);
        assert_eq!(first_keeping_marks(answers(), true), answers()[2]);
        // None closes its marks: the model's favourite stays.
        assert_eq!(
            first_keeping_marks(answers()[..2].to_vec(), true),
            answers()[0]
        );
        assert!(marks_closed("Dijo «sí» y «no»."));
        assert!(marks_closed("Er sagte: „Ja“."));
        assert!(marks_closed("She said “yes” and it's fine."));
        assert!(!marks_closed("Dijo «sí y no."));
        assert!(!marks_closed("She said “yes."));
        assert!(!marks_closed("No quotation at all."));
    }

    #[test]
    fn a_line_opening_with_a_quotation_is_split_and_rejoined() {
        let (q, comma, n) = leading_quote("«Ya no lo son», agregó.").unwrap();
        assert_eq!((q, comma, n), ("Ya no lo son", true, "agregó."));
        assert!(leading_quote("Miller dijo: «Hola».").is_none());
        // A closing full stop is no attribution: nothing may be invented for it.
        assert!(leading_quote("«Nos mintió desde un comienzo».").is_none());
        let en = Lang::parse("en").unwrap();
        assert_eq!(
            join_quote("They are not anymore.", true, "He added.", "agregó.", en),
            "\"They are not anymore,\" he added."
        );
        assert_eq!(
            join_quote("We will work hard", true, "Hu said.", "afirmó Hu.", en),
            "\"We will work hard,\" Hu said."
        );
    }
}
