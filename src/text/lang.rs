//! Language codes and names: `--lang es` or `--lang Spanish` both name Spanish.

/// ISO 639-1 code and English name of each language a summary may be asked in.
const LANGUAGES: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("ca", "Catalan"),
    ("de", "German"),
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("hi", "Hindi"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ru", "Russian"),
    ("sv", "Swedish"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("zh", "Chinese"),
];

/// A language by code and English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang {
    pub code: &'static str,
    pub name: &'static str,
}

impl Lang {
    /// Look up a code (`es`) or an English name (`spanish`, any case).
    pub fn parse(text: &str) -> Result<Lang, String> {
        let t = text.trim();
        LANGUAGES
            .iter()
            .find(|(code, name)| code.eq_ignore_ascii_case(t) || name.eq_ignore_ascii_case(t))
            .map(|&(code, name)| Lang { code, name })
            .ok_or_else(|| {
                format!(
                    "unknown language `{text}`; use one of {}",
                    LANGUAGES
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_both_parse_and_garbage_is_named() {
        assert_eq!(Lang::parse("es").unwrap().name, "Spanish");
        assert_eq!(Lang::parse(" ENGLISH ").unwrap().code, "en");
        let err = Lang::parse("klingon").unwrap_err();
        assert!(err.contains("`klingon`") && err.contains("es"), "{err}");
        assert!(Lang::parse("").is_err());
    }
}
