//! Facts a summary may not invent: numbers and capitalised names must occur in the source.

use std::collections::HashSet;

/// Numbers and names of `summary` that do not occur in `source`, after normalisation
/// (thousands separators and surrounding punctuation dropped). A capitalised word opening a
/// sentence is not taken for a name.
pub fn unsupported(summary: &str, source: &str) -> Vec<String> {
    let known: HashSet<String> = words(source).map(|(w, _)| w).collect();
    let mut missing = Vec::new();
    for (word, sentence_start) in words(summary) {
        let is_number = word.chars().any(|c| c.is_ascii_digit());
        let is_name = !sentence_start && word.chars().next().is_some_and(char::is_uppercase);
        if (is_number || is_name) && !known.contains(&word) && !missing.contains(&word) {
            missing.push(word);
        }
    }
    missing
}

/// Normalised words, each with whether it opens a sentence.
fn words(text: &str) -> impl Iterator<Item = (String, bool)> + '_ {
    let mut sentence_start = true;
    text.split_whitespace().filter_map(move |raw| {
        let opens = sentence_start;
        sentence_start = raw.ends_with(['.', '!', '?', ':']) || raw.ends_with(".\"");
        let trimmed = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let word: String = trimmed
            .trim_end_matches("'s")
            .trim_end_matches("’s")
            .chars()
            .filter(|&c| c != ',')
            .collect();
        (!word.is_empty()).then_some((word, opens))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "The council of Brindle Cove voted 7 to 2 on Monday. Mayor Ana Ruiz said \
                          it saves 80,000 pounds. Residents collected 1,200 signatures.";

    #[test]
    fn supported_numbers_and_names_pass() {
        assert!(unsupported(
            "Brindle Cove's council voted 7 to 2. It saves 80000 pounds, Ruiz said.",
            SOURCE
        )
        .is_empty());
    }

    #[test]
    fn invented_numbers_and_names_are_listed_once() {
        assert_eq!(
            unsupported(
                "The council voted 8 to 2, said Mayor Pat Lee. Lee and 8 others left.",
                SOURCE
            ),
            vec!["8", "Pat", "Lee"]
        );
    }
}
