//! Extractive selection: which of the article's own sentences make its summary, chosen without
//! a model. News puts the most important facts first, so the ranking is by position, skipping
//! what is not a statement of the story (photo captions, fragments, questions) and near-repeats.

use std::collections::HashSet;

use crate::text::sentences;

/// Words a sentence needs to be a candidate.
const MIN_WORDS: usize = 5;
/// Share of a sentence's words already said by a chosen one that makes it a repeat.
const REPEAT_SHARE: f64 = 0.6;

/// The article's sentences, in order.
pub fn split(article: &str) -> Vec<String> {
    article
        .split("\n\n")
        .flat_map(|paragraph| {
            sentences::split(&paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

/// Indices of the `n` sentences to keep, in article order.
pub fn select(sentences: &[String], n: usize) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::with_capacity(n);
    let mut said: Vec<HashSet<String>> = Vec::new();
    for pass in [true, false] {
        for (i, s) in sentences.iter().enumerate() {
            if chosen.len() >= n {
                break;
            }
            if chosen.contains(&i) || (pass && !is_story_sentence(s)) {
                continue;
            }
            let words = word_set(s);
            let repeat = said.iter().any(|w| {
                words.intersection(w).count() as f64 >= REPEAT_SHARE * words.len().max(1) as f64
            });
            if pass && repeat {
                continue;
            }
            chosen.push(i);
            said.push(words);
        }
    }
    chosen.sort_unstable();
    chosen
}

/// A full statement of the story: enough words, and ending like a sentence (photo captions
/// and headings pasted into article text usually do not) but not as a question (a reader's
/// hook, not a fact).
pub(super) fn is_story_sentence(s: &str) -> bool {
    let end = s.trim_end().trim_end_matches(['"', '\'', '’', '”', ')']);
    s.split_whitespace().count() >= MIN_WORDS && end.ends_with(['.', '!'])
}

fn word_set(s: &str) -> HashSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_fragments_questions_and_repeats_are_passed_over() {
        let text = "Harbour rescue: a crew lifts two sailors from the water\n\n\
                    Two sailors were rescued off Port Ellery on Sunday after their boat capsized. \
                    Wow. Could it have been worse for the two men? \
                    Two sailors were rescued off Port Ellery after their boat capsized on Sunday. \
                    The coastguard said both men were wearing life jackets. \
                    They were treated in hospital for cold.";
        let s = split(text);
        let picked: Vec<&str> = select(&s, 3).iter().map(|&i| s[i].as_str()).collect();
        assert_eq!(
            picked,
            [
                "Two sailors were rescued off Port Ellery on Sunday after their boat capsized.",
                "The coastguard said both men were wearing life jackets.",
                "They were treated in hospital for cold."
            ]
        );
    }

    #[test]
    fn a_short_article_gives_what_it_has() {
        let s = split("Only one line here");
        assert_eq!(select(&s, 3), vec![0]);
        assert!(select(&split(""), 3).is_empty());
    }
}
