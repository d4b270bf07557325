//! Sentence splitting for scoring: the rule the evaluation protocol fixes, so that ROUGE-Lsum
//! figures compare with published ones.

/// Split `text` into sentences, one per line: after `.`, `!` or `?` when whitespace and then an
/// upper-case letter, a digit or a quote follow, and at ` . ` in tokenised text.
pub fn split(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let boundary = if matches!(c, '.' | '!' | '?') {
            // Skip closing quotes or brackets that end the sentence with the mark.
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j], '"' | '\'' | '”' | '’' | ')') {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            let tokenised = c == '.' && i > 0 && chars[i - 1] == ' ' && k > j;
            let opens = k < chars.len()
                && k > j
                && (chars[k].is_uppercase()
                    || chars[k].is_ascii_digit()
                    || matches!(chars[k], '"' | '\'' | '“' | '‘' | '`'));
            (opens || (tokenised && k < chars.len())).then_some(j)
        } else {
            None
        };
        match boundary {
            Some(end) => {
                push(&mut out, &chars[start..end]);
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    push(&mut out, &chars[start..]);
    out
}

fn push(out: &mut Vec<String>, chars: &[char]) {
    let s: String = chars.iter().collect();
    let s = s.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
}

/// Whether `s` ends like a sentence: `.`, `!` or `?`, perhaps followed by closing quotes or a
/// bracket.
pub fn ends_sentence(s: &str) -> bool {
    s.trim_end_matches(['"', '\'', '”', '’', ')'])
        .ends_with(['.', '!', '?'])
}

/// `text` with one sentence per line, as ROUGE-Lsum reads it.
pub fn one_per_line(text: &str) -> String {
    split(text).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_marks_before_capitals_digits_and_quotes() {
        assert_eq!(
            split("The vote was 7-2. Residents objected! Why? \"We will appeal,\" she said. 12 people came."),
            vec![
                "The vote was 7-2.",
                "Residents objected!",
                "Why?",
                "\"We will appeal,\" she said.",
                "12 people came."
            ]
        );
    }

    #[test]
    fn keeps_abbreviations_and_decimals_before_lower_case() {
        assert_eq!(
            split("It cost 3.5 m. pounds in total."),
            vec!["It cost 3.5 m. pounds in total."]
        );
        assert_eq!(
            split("He said \"no.\" Then he left."),
            vec!["He said \"no.\"", "Then he left."]
        );
    }

    #[test]
    fn splits_tokenised_text_at_spaced_full_stops() {
        assert_eq!(
            split("the council voted . residents objected ."),
            vec!["the council voted .", "residents objected ."]
        );
    }

    #[test]
    fn empty_and_whitespace_give_nothing() {
        assert!(split("").is_empty());
        assert!(split("  \n ").is_empty());
    }
}
