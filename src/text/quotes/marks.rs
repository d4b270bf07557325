//! Finding quotations by their marks: every pair style (“ ” " " « » ‘ ’ ' ' „ “ ‹ ›), Spanish
//! dialogue dashes, quotes that run on into the next paragraph, and apostrophes told apart
//! from closing marks. Works on byte offsets of the text it is given and never panics on
//! unbalanced marks: a stray closing mark is ignored, an opening mark with no closing mark
//! runs to the end of its paragraph.

/// One quoted stretch of a paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Byte range of the quoted words, marks and outer spaces excluded.
    pub start: usize,
    pub end: usize,
    /// Index of the paragraph (a non-blank line of the text).
    pub paragraph: usize,
    /// Byte offset of the opening mark (or dash).
    pub open_at: usize,
    /// Byte offset just past the closing mark, or the paragraph's end when there is none.
    pub close_at: usize,
    /// A closing mark was found.
    pub closed: bool,
    /// It carries on a quotation left open at the end of the previous paragraph.
    pub continues: bool,
    /// For dialogue-dash speech, the byte range of the narrator's words after it
    /// ("dijo la alcaldesa").
    pub narration: Option<(usize, usize)>,
}

/// Byte ranges of the paragraphs: the non-blank lines of `text`.
pub fn paragraphs(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if !body.trim().is_empty() {
            out.push((at, at + body.len()));
        }
        at += line.len();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// “ … ” (also closed by a straight mark when styles are mixed).
    Curly,
    /// „ … “ or „ … ”.
    Low,
    /// " … ".
    Straight,
    /// « … ».
    Guillemet,
    /// ‹ … ›.
    SingleGuillemet,
    /// ‘ … ’.
    CurlySingle,
    /// ' … '.
    StraightSingle,
}

const DASHES: [char; 3] = ['—', '―', '–'];

/// Every quoted stretch of `text`, in order.
pub fn find(text: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut open_at_end = false;
    for (index, &(from, to)) in paragraphs(text).iter().enumerate() {
        let body = &text[from..to];
        let lead = body.len() - body.trim_start().len();
        let first = body[lead..].chars().next();
        let before = out.len();
        if first.is_some_and(|c| DASHES.contains(&c)) {
            dialogue(text, from + lead, to, index, &mut out);
        } else {
            marked(text, from, to, index, open_at_end, &mut out);
        }
        open_at_end = out.len() > before && out.last().is_some_and(|s| !s.closed);
    }
    out
}

fn push(text: &str, out: &mut Vec<Span>, mut span: Span) {
    let inner = &text[span.start..span.end];
    let trimmed = inner.trim();
    if trimmed.is_empty() {
        return;
    }
    span.start += inner.len() - inner.trim_start().len();
    span.end = span.start + trimmed.len();
    out.push(span);
}

/// Quotations between marks in the paragraph `from..to`. `carried` says the previous
/// paragraph ended inside a quotation, so an opening mark at the start continues it.
fn marked(
    text: &str,
    from: usize,
    to: usize,
    paragraph: usize,
    carried: bool,
    out: &mut Vec<Span>,
) {
    let chars: Vec<(usize, char)> = text[from..to]
        .char_indices()
        .map(|(i, c)| (from + i, c))
        .collect();
    let first_mark = chars.iter().position(|&(_, c)| !c.is_whitespace());
    let mut i = 0;
    while i < chars.len() {
        let at_start = Some(i) == first_mark;
        let Some(family) = opener(&chars, i, at_start) else {
            i += 1;
            continue;
        };
        let (open_at, mark) = chars[i];
        let inner = open_at + mark.len_utf8();
        let continues = at_start && carried;
        match closer(&chars, i, family) {
            Some(j) => {
                let (close, c) = chars[j];
                push(
                    text,
                    out,
                    Span {
                        start: inner,
                        end: close,
                        paragraph,
                        open_at,
                        close_at: close + c.len_utf8(),
                        closed: true,
                        continues,
                        narration: None,
                    },
                );
                i = j + 1;
            }
            None => {
                push(
                    text,
                    out,
                    Span {
                        start: inner,
                        end: to,
                        paragraph,
                        open_at,
                        close_at: to,
                        closed: false,
                        continues,
                        narration: None,
                    },
                );
                break;
            }
        }
    }
}

fn opens_word(c: Option<char>) -> bool {
    c.is_some_and(|c| {
        c.is_alphanumeric() || "¿¡([…".contains(c) || c == '\'' || c == '‘' || c == '"'
    })
}

fn before_open(c: Option<char>) -> bool {
    c.is_none_or(|c| c.is_whitespace() || "([{—–-/:".contains(c))
}

/// The family of the quotation opened at `i`, if a quotation opens there.
fn opener(chars: &[(usize, char)], i: usize, at_start: bool) -> Option<Family> {
    let c = chars[i].1;
    let prev = i.checked_sub(1).map(|k| chars[k].1);
    let next = chars.get(i + 1).map(|&(_, c)| c);
    match c {
        '“' => Some(Family::Curly),
        '„' => Some(Family::Low),
        '«' => Some(Family::Guillemet),
        // Spanish style: a paragraph that carries a quotation on starts with ».
        '»' if at_start => Some(Family::Guillemet),
        '‹' => Some(Family::SingleGuillemet),
        '"' if before_open(prev) && next.is_some_and(|n| !n.is_whitespace()) => {
            Some(Family::Straight)
        }
        '‘' if before_open(prev) && opens_word(next) => Some(Family::CurlySingle),
        '\'' if before_open(prev) && next.is_some_and(char::is_alphanumeric) => {
            Some(Family::StraightSingle)
        }
        _ => None,
    }
}

/// Index of the mark closing the quotation opened at `i`, within the paragraph.
fn closer(chars: &[(usize, char)], i: usize, family: Family) -> Option<usize> {
    let mut depth = 1usize;
    let next_is_word = |k: usize| chars.get(k + 1).is_some_and(|&(_, c)| c.is_alphanumeric());
    match family {
        Family::Straight => (i + 1..chars.len()).find(|&k| matches!(chars[k].1, '"' | '”')),
        Family::Low => (i + 1..chars.len()).find(|&k| matches!(chars[k].1, '“' | '”')),
        Family::SingleGuillemet => (i + 1..chars.len()).find(|&k| chars[k].1 == '›'),
        Family::Curly | Family::Guillemet => {
            let (open, close) = if family == Family::Curly {
                ('“', '”')
            } else {
                ('«', '»')
            };
            // Marks of the other style opened inside are nested, not a mismatched close.
            let (other_open, other_close) = if family == Family::Curly {
                ('«', '»')
            } else {
                ('“', '”')
            };
            let mut other = 0usize;
            for (k, &(_, c)) in chars.iter().enumerate().skip(i + 1) {
                if c == other_open {
                    other += 1;
                } else if c == other_close && other > 0 {
                    other -= 1;
                } else if c == open {
                    depth += 1;
                } else if c == close
                    || (family == Family::Curly && matches!(c, '"' | '»') && !next_is_word(k))
                    || (family == Family::Guillemet && matches!(c, '”' | '"') && !next_is_word(k))
                {
                    depth -= 1;
                    if depth == 0 {
                        return Some(k);
                    }
                }
            }
            None
        }
        Family::CurlySingle | Family::StraightSingle => {
            let (open, close) = if family == Family::CurlySingle {
                ('‘', '’')
            } else {
                ('\'', '\'')
            };
            // A closing mark is not followed by a letter (that is an apostrophe: don't).
            // Strong closers follow punctuation or precede punctuation or the paragraph's end;
            // "James’ goal" and "‘reckless’ plan" are weak. Look no further than the next
            // opening single mark.
            // A mark after an "s" and before a lower-case word is most likely possessive
            // ("contractors' availability"); it closes only when nothing else does.
            let (mut weak, mut possessive) = (None, None);
            for k in i + 1..chars.len() {
                let c = chars[k].1;
                let prev = chars[k - 1].1;
                let next = chars.get(k + 1).map(|&(_, c)| c);
                let opens_again =
                    before_open(Some(prev)) && next.is_some_and(char::is_alphanumeric);
                if c == open && k > i + 1 && opens_again {
                    break;
                }
                if c != close || next_is_word(k) || prev.is_whitespace() {
                    continue;
                }
                let strong = ",.;:!?…".contains(prev)
                    || next.is_none_or(|n| ",.;:!?)—–".contains(n) || n == '"' || n == '”');
                if strong {
                    return Some(k);
                }
                let lower_next = chars.get(k + 2).is_some_and(|&(_, n)| n.is_lowercase());
                if prev == 's' && next == Some(' ') && lower_next {
                    possessive.get_or_insert(k);
                } else {
                    weak.get_or_insert(k);
                }
            }
            weak.or(possessive)
        }
    }
}

/// Dialogue-dash speech in the paragraph `from..to`, which starts with a dash:
/// `—Speech —narration—. More speech.`
fn dialogue(text: &str, from: usize, to: usize, paragraph: usize, out: &mut Vec<Span>) {
    let body = &text[from..to];
    let dash_len = body.chars().next().map_or(0, char::len_utf8);
    let mut at = from + dash_len;
    let mut open_at = from;
    loop {
        // Speech runs to a dash that follows a space, or to the paragraph's end.
        let rest = &text[at..to];
        let speech_end = find_dash(rest, true).map_or(to, |k| at + k);
        let mut span = Span {
            start: at,
            end: speech_end,
            paragraph,
            open_at,
            close_at: speech_end,
            closed: speech_end < to,
            continues: false,
            narration: None,
        };
        if speech_end >= to {
            push(text, out, span);
            return;
        }
        // Narration runs from after that dash to the next dash (or the end).
        let dash_at = text[speech_end..to]
            .char_indices()
            .find(|&(_, c)| DASHES.contains(&c))
            .map_or(to, |(k, _)| speech_end + k);
        let narr_start =
            (dash_at + text[dash_at..to].chars().next().map_or(0, char::len_utf8)).min(to);
        let narr_end = find_dash(&text[narr_start..to], false).map_or(to, |k| narr_start + k);
        span.narration = Some((narr_start, narr_end));
        push(text, out, span);
        if narr_end >= to {
            return;
        }
        // After the closing dash, punctuation, then speech again, if any.
        let after = narr_end + text[narr_end..].chars().next().map_or(1, char::len_utf8);
        let skip = text[after..to]
            .char_indices()
            .find(|&(_, c)| !(c.is_whitespace() || ".,;:".contains(c)))
            .map_or(to - after, |(k, _)| k);
        at = after + skip;
        open_at = at;
        if at >= to {
            return;
        }
    }
}

/// Offset of the next dash in `s`; with `after_space`, only a dash that follows whitespace.
/// With `after_space` the offset is that of the whitespace before the dash.
fn find_dash(s: &str, after_space: bool) -> Option<usize> {
    let mut prev: Option<(usize, char)> = None;
    for (k, c) in s.char_indices() {
        if DASHES.contains(&c) {
            match prev {
                Some((p, w)) if after_space && w.is_whitespace() => return Some(p),
                _ if !after_space => return Some(k),
                _ => {}
            }
        }
        prev = Some((k, c));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        find(text).iter().map(|s| &text[s.start..s.end]).collect()
    }

    #[test]
    fn every_mark_style_is_found() {
        assert_eq!(texts("He said “yes, now” today."), ["yes, now"]);
        assert_eq!(
            texts("He said \"yes\" and «sí» and „ja“ and ‹oui›."),
            ["yes", "sí", "ja", "oui"]
        );
        assert_eq!(
            texts("‘It’s done,’ she said. ‘Don’t ask.’"),
            ["It’s done,", "Don’t ask."]
        );
    }

    #[test]
    fn apostrophes_are_not_closing_marks() {
        assert_eq!(
            texts("‘We didn’t play well. James’ goal saved us,’ he said."),
            ["We didn’t play well. James’ goal saved us,"]
        );
        assert_eq!(
            texts("It called the plan ‘reckless’ and left."),
            ["reckless"]
        );
        assert_eq!(
            texts("'We've come,' said Al. 'It's not right.'"),
            ["We've come,", "It's not right."]
        );
        assert!(texts("The ’90s and rock ’n’ roll, the Smiths’ songs.").is_empty());
    }

    #[test]
    fn a_quote_left_open_runs_on_into_the_next_paragraph() {
        let t = "\"First part.\n\n\"Second part,\" she said.";
        let spans = find(t);
        assert_eq!(texts(t), ["First part.", "Second part,"]);
        assert!(!spans[0].closed && spans[1].continues);
        let es = "«Uno.\n\n»Dos», afirmó.";
        assert_eq!(texts(es), ["Uno.", "Dos"]);
    }

    #[test]
    fn dialogue_dashes_give_the_speech_and_the_narration() {
        let t = "—Vamos a volver —dijo la alcaldesa María Ortega—. No tenemos miedo.";
        let spans = find(t);
        assert_eq!(texts(t), ["Vamos a volver", "No tenemos miedo."]);
        let (a, b) = spans[0].narration.unwrap();
        assert_eq!(&t[a..b], "dijo la alcaldesa María Ortega");
    }

    #[test]
    fn broken_marks_never_panic_or_leave_the_text() {
        for t in [
            "”",
            "“",
            "\"",
            "'",
            "‘’",
            "—",
            "— —",
            "« »",
            "»",
            "„",
            "a ” b “ c",
            "—x —",
            "—x —y",
            "'a' 'b",
            "“a\" b",
        ] {
            for s in find(t) {
                assert!(s.start <= s.end && s.end <= t.len(), "{t:?}");
                assert!(
                    t.is_char_boundary(s.start) && t.is_char_boundary(s.end),
                    "{t:?}"
                );
            }
        }
        assert_eq!(texts("A stray ” mark, then “a quote”."), ["a quote"]);
        assert_eq!(texts("“Mixed styles,\" he said."), ["Mixed styles,"]);
    }
}
