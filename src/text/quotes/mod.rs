//! Direct quotations in an article, by rules alone: where they are (exact byte and char
//! offsets into the text), who said them, the cue that says so, and whether they are whole
//! sentences or fragments of the writer's own. Every `text` is a slice of the input, so a quote
//! can never hold words the article does not.

mod attribution;
pub mod lexicon;
pub mod marks;
pub mod people;

use serde::Serialize;

use attribution::{Attribution, Context, FromCue};
use people::People;

/// How much of a quotation is the speaker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One or more whole sentences.
    Direct,
    /// Words inside the writer's own sentence.
    Partial,
    /// Starts inside the writer's sentence and goes on as whole sentences.
    Mixed,
}

/// The speaker of a quotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speaker {
    /// As written next to the cue: "the minister", "she", "Novillo".
    pub as_written: String,
    /// The fullest name the article gives: "Edmundo Novillo".
    pub name: String,
}

/// One quotation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    /// The quoted words, marks excluded: exactly `source[start..end]`.
    pub text: String,
    /// Byte offsets into the source.
    pub start: usize,
    pub end: usize,
    /// Char offsets into the source.
    pub char_start: usize,
    pub char_end: usize,
    /// 0-based paragraph (non-blank line).
    pub paragraph: usize,
    pub speaker: Option<Speaker>,
    /// The verb or phrase that attributes it; empty when carried over from the quotation
    /// before (a second quoted sentence of the same speaker).
    pub cue: String,
    pub kind: Kind,
    /// 0 to 1: how sure the rules are of the speaker and the bounds.
    pub confidence: f32,
    /// Who found the speaker: `rules`, or `model` (chosen among the article's names).
    pub attributed_by: AttributedBy,
}

/// Who found a quotation's speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributedBy {
    Rules,
    Model,
}

/// Every attributed quotation in `text`. Quotations with no speaker the rules can find, and
/// short ones that look like names, titles or scare quotes, are left out.
pub fn find(text: &str) -> Vec<Quote> {
    scan(text).quotes
}

/// What the rules find in an article.
pub struct Scan {
    /// The attributed quotations, in order.
    pub quotes: Vec<Quote>,
    /// Quotations that read as speech but whose speaker the rules cannot find (`speaker` is
    /// `None`), for a model to attribute.
    pub unattributed: Vec<Quote>,
    /// The people the article names, by their fullest names, in order of first mention
    /// (organisations left out).
    pub people: Vec<String>,
}

/// The attributed quotations of `text`, and those that read as speech with no speaker found.
pub fn scan(text: &str) -> Scan {
    let spans = marks::find(text);
    let paragraphs = marks::paragraphs(text);
    let people = People::of(text);
    let lex = lexicon::get();
    let mut found: Vec<Option<Attribution>> = Vec::with_capacity(spans.len());
    let mut keep: Vec<bool> = Vec::with_capacity(spans.len());
    let mut contexts: Vec<Context> = Vec::with_capacity(spans.len());
    let mut unnamed: Vec<bool> = Vec::with_capacity(spans.len());
    let kinds: Vec<Kind> = spans
        .iter()
        .map(|s| kind(text, s, paragraphs[s.paragraph].0))
        .collect();
    for (n, s) in spans.iter().enumerate() {
        let paragraph = paragraphs[s.paragraph];
        let ctx = attribution::context(text, &spans, n, paragraph);
        contexts.push(ctx);
        let words = text[s.start..s.end].split_whitespace().count();
        // A few words inside the writer's sentence with no cue: a scare quote, name or title.
        let short = words <= lex.not_speech.max_words_without_cue && kinds[n] != Kind::Direct;
        let not_speech = attribution::names_not_speech(text, ctx) && words <= 8;
        let scare = short && !attribution::has_cue(text, ctx, paragraph.0);
        let before = n
            .checked_sub(1)
            .filter(|&p| spans[p].paragraph == s.paragraph);
        let previous = before.and_then(|p| found[p].as_ref());
        let who = attribution::from_cue(text, ctx, s.open_at, &people, previous);
        // Said by someone the text does not name: no one to give it to, by rule or by model.
        // The paragraph's next quotation with no subject of its own continues it, so the same
        // goes for it ("«...», dijo un vecino. «...», añadió").
        let unnamed_too = before.is_some_and(|p| unnamed[p])
            && match &who {
                FromCue::Speaker(a) => a.as_written.is_empty(),
                FromCue::Nothing => true,
                FromCue::Unnamed => false,
            };
        unnamed.push(who == FromCue::Unnamed || unnamed_too);
        let who = who.speaker().filter(|_| !unnamed[n]);
        keep.push(!(not_speech || scare || unnamed[n]));
        found.push(who);
    }
    // Carry speakers over: to the next quotation of the same paragraph, along a quotation that
    // runs on across paragraphs (both ways), and from the sentence before: its cue, or a person
    // opening it.
    for n in 0..spans.len() {
        if found[n].is_some() || unnamed[n] {
            continue;
        }
        let s = &spans[n];
        let carried = n.checked_sub(1).and_then(|p| {
            let prev = &spans[p];
            let same =
                prev.paragraph == s.paragraph || (s.continues && prev.paragraph + 1 == s.paragraph);
            same.then(|| found[p].clone()).flatten()
        });
        let forward = || {
            let mut k = n;
            while k + 1 < spans.len()
                && spans[k + 1].continues
                && spans[k + 1].paragraph == spans[k].paragraph + 1
            {
                k += 1;
                if found[k].is_some() {
                    return found[k].clone();
                }
            }
            None
        };
        let sentence_before = || {
            let (p0, _) = paragraphs[s.paragraph];
            let end = contexts[n].before.0;
            if end <= p0 {
                return None;
            }
            let start = text[p0..end].trim_end().len() + p0;
            // The sentence before ends at `start`; it begins after the sentence mark before that.
            let head = text[p0..start].trim_end_matches(['.', '!', '?']);
            let from = head.rfind(['.', '!', '?']).map_or(p0, |k| p0 + k + 1);
            let ctx = Context {
                before: (from, start),
                after: (start, start),
            };
            match attribution::from_cue(text, ctx, s.open_at, &people, None) {
                FromCue::Speaker(a) => Some(a),
                FromCue::Unnamed => None,
                // A beat is a sentence of the writer's own before a quotation that opens the
                // next: not one that holds a quotation ("\"He told us to leave,\" said a
                // neighbour.").
                FromCue::Nothing => {
                    let quoted = spans.iter().any(|q| q.open_at >= from && q.open_at < start);
                    (kinds[n] == Kind::Direct && !quoted)
                        .then(|| attribution::from_beat(text, (from, start), s.open_at, &people))
                        .flatten()
                }
            }
        };
        found[n] = carried
            .map(|a| Attribution {
                cue: String::new(),
                confidence: (a.confidence - 0.15).max(0.5),
                ..a
            })
            .or_else(forward)
            .or_else(sentence_before);
    }
    let mut scan = Scan {
        quotes: Vec::new(),
        unattributed: Vec::new(),
        people: people.names(),
    };
    for (((s, kind), who), keep) in spans.iter().zip(kinds).zip(found).zip(keep) {
        if !keep {
            continue;
        }
        let quote = Quote {
            text: text[s.start..s.end].to_string(),
            start: s.start,
            end: s.end,
            char_start: text[..s.start].chars().count(),
            char_end: text[..s.end].chars().count(),
            paragraph: s.paragraph,
            speaker: None,
            cue: String::new(),
            kind,
            confidence: 0.0,
            attributed_by: AttributedBy::Rules,
        };
        match who {
            Some(who) => {
                let confidence = if s.closed {
                    who.confidence
                } else {
                    who.confidence * 0.8
                };
                scan.quotes.push(Quote {
                    speaker: Some(Speaker {
                        as_written: who.as_written,
                        name: who.name,
                    }),
                    cue: who.cue,
                    confidence: (confidence * 100.0).round() / 100.0,
                    ..quote
                });
            }
            // Speech: a whole sentence or more, not a phrase inside the writer's sentence.
            None if kind != Kind::Partial && quote.text.split_whitespace().count() >= 4 => {
                scan.unattributed.push(quote)
            }
            None => {}
        }
    }
    scan
}

/// Direct when the quotation opens a sentence (or follows a colon or dash), partial when it
/// sits inside the writer's sentence, mixed when it starts inside one and goes on past a
/// sentence end.
fn kind(text: &str, s: &marks::Span, paragraph_start: usize) -> Kind {
    if s.narration.is_some() {
        return Kind::Direct;
    }
    let before = text[paragraph_start..s.open_at].trim_end();
    let opens = before.is_empty()
        || before.ends_with([
            '.', '!', '?', ':', '—', '–', '"', '”', '’', '\'', '»', '›', '“',
        ])
        || s.continues;
    if opens {
        return Kind::Direct;
    }
    let inner = &text[s.start..s.end];
    let boundary = inner.char_indices().any(|(i, c)| {
        ".!?".contains(c)
            && inner[i + 1..].starts_with(' ')
            && inner[i + 1..]
                .trim_start()
                .chars()
                .next()
                .is_some_and(|n| n.is_uppercase() || "¿¡".contains(n))
    });
    if boundary {
        Kind::Mixed
    } else {
        Kind::Partial
    }
}
