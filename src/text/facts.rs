//! Facts a summary may not invent: every number, date and capitalised name in a summary must
//! occur in its source, after normalisation.

use std::collections::HashSet;

/// The facts of `text` a source must back, in order and without repeats: numbers (thousands
/// separators dropped: "80,000" is "80000"; "£330million" gives "330") and capitalised words
/// that do not open a sentence (names, places, months and days).
pub fn facts(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (piece, sentence_start) in pieces(text) {
        let is_number = piece.chars().any(|c| c.is_ascii_digit());
        let is_name = !sentence_start && piece.chars().next().is_some_and(char::is_uppercase);
        if (is_number || is_name) && !out.contains(&piece) {
            out.push(piece);
        }
    }
    out
}

/// The facts of `summary` that do not occur in `source`.
pub fn unsupported(summary: &str, source: &str) -> Vec<String> {
    missing(facts(summary), source)
}

/// Those of `facts` (as [`facts`] gives them) that do not occur in `text`, wherever they stand
/// in it.
pub fn missing(facts: Vec<String>, text: &str) -> Vec<String> {
    let known: HashSet<String> = pieces(text).map(|(p, _)| p).collect();
    facts.into_iter().filter(|f| !known.contains(f)).collect()
}

/// Normalised pieces of words, each with whether its word opens a sentence. A word splits at
/// hyphens, slashes and where digits meet letters ("6,000-metre" gives "6000" and "metre").
fn pieces(text: &str) -> impl Iterator<Item = (String, bool)> + '_ {
    let mut sentence_start = true;
    text.split_whitespace().flat_map(move |raw| {
        let opens = sentence_start;
        let bare = raw.trim_end_matches(['"', '\'', '’', '”', ')']);
        sentence_start = bare.ends_with(['.', '!', '?', ':']);
        let word = raw
            .trim_matches(|c: char| !c.is_alphanumeric())
            .trim_end_matches("'s")
            .trim_end_matches("’s")
            .replace(',', "");
        let chars: Vec<char> = word.chars().collect();
        let mut parts: Vec<(String, bool)> = Vec::new();
        let mut current = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let digit = |k: usize| chars.get(k).is_some_and(char::is_ascii_digit);
            // A decimal point between digits belongs to the number ("4.2").
            let decimal = c == '.' && i > 0 && digit(i - 1) && digit(i + 1);
            let joins = decimal
                || (c.is_alphanumeric()
                    && current
                        .chars()
                        .last()
                        .is_none_or(|p| p == '.' || p.is_ascii_digit() == c.is_ascii_digit()));
            if !joins && !current.is_empty() {
                parts.push((std::mem::take(&mut current), opens));
            }
            if c.is_alphanumeric() || decimal {
                current.push(c);
            }
        }
        if !current.is_empty() {
            parts.push((current, opens));
        }
        // Only the word's first piece can open a sentence.
        for p in parts.iter_mut().skip(1) {
            p.1 = false;
        }
        parts
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "The council of Brindle Cove voted 7 to 2 on Monday. Mayor Ana Ruiz said \
                          it saves 80,000 pounds. Residents collected 1,200 signatures for the \
                          6,000-metre path, costing £3.5million.";

    #[test]
    fn supported_numbers_and_names_pass() {
        assert!(unsupported(
            "Brindle Cove's council voted 7 to 2. It saves 80000 pounds, Ruiz said. \
             The 6,000 metre path costs £3.5 million.",
            SOURCE
        )
        .is_empty());
    }

    #[test]
    fn invented_numbers_and_names_are_listed_once() {
        assert_eq!(
            unsupported(
                "The council voted 8 to 2, said Mayor Pat Lee. Lee and 8 others left on Tuesday.",
                SOURCE
            ),
            vec!["8", "Pat", "Lee", "Tuesday"]
        );
    }

    #[test]
    fn facts_are_numbers_and_names_but_not_sentence_openers() {
        assert_eq!(
            facts("Voters met in Brindle Cove on 12 May. They paid £330million, or 4.2 each."),
            vec!["Brindle", "Cove", "12", "May", "330", "4.2"]
        );
        assert!(facts("").is_empty());
    }
}
