//! The word lists of `cues.toml`, loaded once.

use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Lexicon {
    pub cues: Cues,
    pub names: Names,
    pub pronouns: Pronouns,
    pub not_speech: NotSpeech,
}

#[derive(Debug, Deserialize)]
pub struct Cues {
    pub en: Vec<String>,
    pub es: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Names {
    pub titles: Vec<String>,
    pub female: Vec<String>,
    pub male: Vec<String>,
    pub female_first: Vec<String>,
    pub male_first: Vec<String>,
    pub organisations: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Pronouns {
    pub female: Vec<String>,
    pub male: Vec<String>,
    pub plural: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct NotSpeech {
    pub before: Vec<String>,
    pub max_words_without_cue: usize,
}

/// The built-in lists.
pub fn get() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        toml::from_str(include_str!("cues.toml")).expect("src/text/quotes/cues.toml parses")
    })
}

impl Lexicon {
    /// Whether `word` (any case, a trailing full stop ignored) is a title or role word.
    pub fn is_title(&self, word: &str) -> bool {
        let w = word.trim_end_matches('.').to_lowercase();
        self.names.titles.contains(&w)
    }

    /// Every cue, in both languages, longest first (so "according to" wins over "to").
    pub fn all_cues(&self) -> impl Iterator<Item = &str> {
        self.cues.en.iter().chain(&self.cues.es).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lists_parse_and_are_lower_case() {
        let l = super::get();
        assert!(l.cues.en.contains(&"said".to_string()));
        for w in l
            .all_cues()
            .chain(l.names.titles.iter().map(String::as_str))
        {
            assert_eq!(w, w.to_lowercase(), "{w}");
        }
        assert!(l.is_title("Dr.") && l.is_title("Minister") && !l.is_title("Novillo"));
    }
}
