//! Language identification with `whatlang`, limited to the languages `--lang`/`--to` know; a
//! short text takes the language of its article, which is a far better guess than a trigram
//! count over a few words.

use whatlang::{Detector, Lang as W};

use crate::text::lang::Lang;

/// whatlang's languages that `Lang` knows, with their codes.
const KNOWN: &[(W, &str)] = &[
    (W::Ara, "ar"),
    (W::Cat, "ca"),
    (W::Deu, "de"),
    (W::Eng, "en"),
    (W::Spa, "es"),
    (W::Fra, "fr"),
    (W::Hin, "hi"),
    (W::Ita, "it"),
    (W::Jpn, "ja"),
    (W::Kor, "ko"),
    (W::Nld, "nl"),
    (W::Pol, "pl"),
    (W::Por, "pt"),
    (W::Rus, "ru"),
    (W::Swe, "sv"),
    (W::Tur, "tr"),
    (W::Ukr, "uk"),
    (W::Cmn, "zh"),
];

/// Words a text needs before its own letters decide its language.
const MIN_WORDS: usize = 5;

/// The language of `text`, if it can be told, and whether whatlang deems it reliable.
fn guess(text: &str) -> Option<(Lang, bool)> {
    let detector = Detector::with_allowlist(KNOWN.iter().map(|(w, _)| *w).collect());
    let info = detector.detect(text)?;
    let code = KNOWN.iter().find(|(w, _)| *w == info.lang())?.1;
    Some((Lang::parse(code).ok()?, info.is_reliable()))
}

/// The language of `text`, if it can be told.
pub fn detect(text: &str) -> Option<Lang> {
    guess(text).map(|(lang, _)| lang)
}

/// The language of a quotation: its article's, unless the quotation is long enough and its
/// own letters say otherwise with confidence (close languages such as Spanish and
/// Portuguese are easily confused in one sentence).
pub fn detect_with_prior(text: &str, prior: Option<Lang>) -> Option<Lang> {
    let Some(prior) = prior else {
        return detect(text);
    };
    if text.split_whitespace().count() < MIN_WORDS {
        return Some(prior);
    }
    match guess(text) {
        Some((lang, true)) => Some(lang),
        _ => Some(prior),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_and_spanish_are_told_apart_and_short_text_takes_the_prior() {
        let en = detect("The council voted on Monday to close the old library on Quay Street.");
        assert_eq!(en.map(|l| l.code), Some("en"));
        let es = detect(
            "El ayuntamiento votó el lunes cerrar la vieja biblioteca de la calle del Muelle.",
        );
        assert_eq!(es.map(|l| l.code), Some("es"));
        let prior = Lang::parse("es").ok();
        assert_eq!(
            detect_with_prior("No way", prior).map(|l| l.code),
            Some("es")
        );
        assert_eq!(detect(""), None);
    }
}
