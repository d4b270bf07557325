//! The faithfulness guard: a summary sentence holding a number, date or name its article does
//! not is dropped, and the report says what was checked and what went.

use serde::Serialize;

use crate::text::facts;

/// What the guard did to one summary (`facts` in the JSON report).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FactCheck {
    /// Every number, date and name of the summary as written, each found in the article.
    pub checked: Vec<String>,
    /// Sentences left out, with the facts the article does not hold.
    pub dropped: Vec<Dropped>,
}

/// A sentence the guard left out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dropped {
    pub sentence: String,
    pub unsupported: Vec<String>,
}

/// Keep the sentences whose facts all occur in `source`.
pub fn check(sentences: Vec<String>, source: &str) -> (Vec<String>, FactCheck) {
    let mut report = FactCheck::default();
    let mut kept = Vec::with_capacity(sentences.len());
    for sentence in sentences {
        let unsupported = facts::unsupported(&sentence, source);
        if unsupported.is_empty() {
            for f in facts::facts(&sentence) {
                if !report.checked.contains(&f) {
                    report.checked.push(f);
                }
            }
            kept.push(sentence);
        } else {
            report.dropped.push(Dropped {
                sentence,
                unsupported,
            });
        }
    }
    (kept, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_with_an_invented_fact_is_dropped_and_named() {
        let source =
            "Mayor Ana Ruiz closed the Harbour Road library on 3 March to save 80,000 pounds.";
        let summary = vec![
            "Ana Ruiz closed the library on 3 March.".to_string(),
            "It saved 90,000 pounds, said Councillor Bo Tran.".to_string(),
            "The saving was 80,000 pounds.".to_string(),
        ];
        let (kept, report) = check(summary, source);
        assert_eq!(kept.len(), 2);
        assert_eq!(report.checked, ["Ruiz", "3", "March", "80000"]);
        assert_eq!(report.dropped.len(), 1);
        assert_eq!(
            report.dropped[0].unsupported,
            ["90000", "Councillor", "Bo", "Tran"]
        );
    }
}
