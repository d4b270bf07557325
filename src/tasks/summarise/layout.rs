//! Laying out summary sentences in the style asked for, and tidying what the model wrote.

use super::options::Style;

/// The sentences as one text: a line each (highlights), one paragraph, or `- ` bullets.
pub fn join(sentences: &[String], style: Style) -> String {
    match style {
        Style::Highlights => sentences.join("\n"),
        Style::Paragraph => sentences.join(" "),
        Style::Bullets => sentences
            .iter()
            .map(|s| format!("- {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Sentence `k` as streamed: what `join` puts before it, then the sentence.
pub fn piece(sentence: &str, k: usize, style: Style) -> String {
    let sep = match (k, style) {
        (0, _) => "",
        (_, Style::Paragraph) => " ",
        _ => "\n",
    };
    let bullet = if style == Style::Bullets { "- " } else { "" };
    format!("{sep}{bullet}{sentence}")
}

/// The lines of a model's answer with list markers (`1.`, `-`, `*`, `•`) taken off, blank
/// lines dropped; a paragraph stays one line.
pub fn lines(answer: &str) -> Vec<String> {
    answer
        .lines()
        .map(|l| strip_marker(l.trim()).to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn strip_marker(line: &str) -> &str {
    let rest = line.trim_start_matches(['-', '*', '•']);
    if rest.len() < line.len() {
        return rest.trim_start();
    }
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && digits <= 2 {
        if let Some(rest) = line[digits..].strip_prefix(['.', ')']) {
            if rest.starts_with(' ') {
                return rest.trim_start();
            }
        }
    }
    line
}

/// A shortened copy of `sentence` made to read as a sentence: capital first letter, no
/// dangling comma or conjunction, and the source's closing mark.
pub fn tidy_copy(copy: &str, sentence: &str) -> String {
    let mut text = copy
        .trim()
        .trim_end_matches([',', ';', ':', '-', '–'])
        .trim_end()
        .to_string();
    if text.is_empty() {
        return sentence.to_string();
    }
    if let Some(first) = text.chars().next() {
        if first.is_lowercase() {
            text = first.to_uppercase().collect::<String>() + &text[first.len_utf8()..];
        }
    }
    if !crate::text::sentences::ends_sentence(&text) {
        // An open quotation is closed rather than left hanging.
        let opens = text.matches(['“', '‘']).count();
        let closes = text.matches(['”', '’']).count();
        if text.matches('"').count() % 2 == 1 {
            text.push('"');
        } else if opens > closes && text.contains('“') {
            text.push('”');
        }
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_markers_are_stripped_but_numbers_kept() {
        let answer =
            "1. The mayor resigned.\n- Voters cheered.\n\n* 12 people left.\n2019 was wet.";
        assert_eq!(
            lines(answer),
            [
                "The mayor resigned.",
                "Voters cheered.",
                "12 people left.",
                "2019 was wet."
            ]
        );
    }

    #[test]
    fn styles_lay_out_the_same_sentences() {
        let s = vec!["One.".to_string(), "Two.".to_string()];
        assert_eq!(join(&s, Style::Highlights), "One.\nTwo.");
        assert_eq!(join(&s, Style::Paragraph), "One. Two.");
        assert_eq!(join(&s, Style::Bullets), "- One.\n- Two.");
        let streamed: String = (0..2).map(|k| piece(&s[k], k, Style::Bullets)).collect();
        assert_eq!(streamed, join(&s, Style::Bullets));
    }

    #[test]
    fn a_copy_is_tidied_into_a_sentence() {
        assert_eq!(
            tidy_copy("the mayor resigned on Monday,", "x."),
            "The mayor resigned on Monday."
        );
        assert_eq!(tidy_copy("  ", "Kept as is."), "Kept as is.");
        assert_eq!(
            tidy_copy("He said \"we will win", "x"),
            "He said \"we will win\"."
        );
    }
}
