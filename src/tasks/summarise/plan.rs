//! The context planner: fit an article into the model's context. An article that fits goes in
//! whole; a longer one is cut down to the sentences the extractive ranking puts first (kept in
//! article order), and the report says how much was used. Nothing is cut silently.

use serde::Serialize;

use super::extract;

/// How much of the article the model saw (`coverage` in the JSON report).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coverage {
    /// Tokens of the cleaned article (`null` when no model tokenized it).
    pub tokens_in: Option<usize>,
    /// Tokens of it given to the model (`null` when no model was used).
    pub tokens_used: Option<usize>,
    /// `whole`, `selected` (the sentences ranked first that fit), or `extractive` (no model;
    /// every sentence was considered).
    pub strategy: &'static str,
    /// Sentences of the cleaned article.
    pub sentences_in: usize,
    /// Sentences given to the model.
    pub sentences_used: usize,
}

/// The article text to prompt with, and its coverage. `count` gives a text's tokens, `room`
/// is how many article tokens the prompt may hold.
pub fn fit(
    article: &str,
    room: usize,
    count: &mut dyn FnMut(&str) -> crate::error::Result<usize>,
) -> crate::error::Result<(String, Coverage)> {
    let tokens_in = count(article)?;
    let sentences = extract::split(article);
    if tokens_in <= room {
        return Ok((
            article.to_string(),
            Coverage {
                tokens_in: Some(tokens_in),
                tokens_used: Some(tokens_in),
                strategy: "whole",
                sentences_in: sentences.len(),
                sentences_used: sentences.len(),
            },
        ));
    }
    // The extractive ranking's preference: statements of the story first, then by position.
    let mut ranked: Vec<usize> = (0..sentences.len()).collect();
    ranked.sort_by_key(|&i| (!extract::is_story_sentence(&sentences[i]), i));
    let mut keep = Vec::new();
    let mut used = 0;
    for i in ranked {
        // A space joins sentences, so each costs about its own tokens.
        let n = count(&sentences[i])?;
        if used + n <= room {
            used += n;
            keep.push(i);
        }
    }
    keep.sort_unstable();
    let text = keep
        .iter()
        .map(|&i| sentences[i].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Ok((
        text,
        Coverage {
            tokens_in: Some(tokens_in),
            tokens_used: Some(used),
            strategy: "selected",
            sentences_in: sentences.len(),
            sentences_used: keep.len(),
        },
    ))
}

/// Coverage of a summary made without the model: every sentence was ranked.
pub fn extractive(sentences: usize) -> Coverage {
    Coverage {
        tokens_in: None,
        tokens_used: None,
        strategy: "extractive",
        sentences_in: sentences,
        sentences_used: sentences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> crate::error::Result<usize> {
        Ok(text.split_whitespace().count())
    }

    #[test]
    fn a_short_article_goes_in_whole() {
        let (text, c) = fit("One two three. Four five six.", 100, &mut words).unwrap();
        assert_eq!(text, "One two three. Four five six.");
        assert_eq!(
            (c.strategy, c.tokens_in, c.tokens_used),
            ("whole", Some(6), Some(6))
        );
    }

    #[test]
    fn a_long_article_keeps_the_leading_sentences_that_fit_and_says_so() {
        let article = "The ferry service to Inch Island will stop in June. \
                       Is this the end of island life? \
                       The council said the boat costs too much to run. \
                       Islanders will get a bridge survey instead, it added.";
        let (text, c) = fit(article, 20, &mut words).unwrap();
        assert_eq!(
            text,
            "The ferry service to Inch Island will stop in June. \
             The council said the boat costs too much to run."
        );
        assert_eq!(c.strategy, "selected");
        assert_eq!((c.sentences_in, c.sentences_used), (4, 2));
        assert_eq!((c.tokens_in, c.tokens_used), (Some(36), Some(20)));
    }
}
