//! Article cleaning: drops lines of web clutter (related links, comment forms, share and
//! subscribe prompts, photo credits, bylines, timestamps, adverts) by the rules in
//! `clutter.toml`, and reports what it removed. Add a rule there, not here.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// The built-in rules.
const RULES: &str = include_str!("clutter.toml");

#[derive(Deserialize)]
struct RuleFile {
    rule: Vec<RuleSpec>,
}

#[derive(Deserialize)]
struct RuleSpec {
    name: String,
    pattern: String,
    example: String,
}

/// One compiled rule.
pub struct Rule {
    pub name: String,
    regex: Regex,
    pub example: String,
}

/// A removed line and the rule that removed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub rule: String,
    pub text: String,
}

/// The cleaner with its rules compiled.
pub struct Cleaner {
    rules: Vec<Rule>,
}

impl Cleaner {
    /// The built-in rules. They are checked by the tests, so this cannot fail at run time.
    pub fn builtin() -> Cleaner {
        Cleaner::from_toml(RULES).expect("built-in clutter rules are valid")
    }

    /// Rules from TOML text; an error names the rule and what is wrong.
    pub fn from_toml(text: &str) -> Result<Cleaner, String> {
        let file: RuleFile = toml::from_str(text).map_err(|e| format!("clutter rules: {e}"))?;
        let rules = file
            .rule
            .into_iter()
            .map(|r| {
                let regex = RegexBuilder::new(&r.pattern)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("clutter rule `{}`: bad pattern ({e})", r.name))?;
                Ok(Rule {
                    name: r.name,
                    regex,
                    example: r.example,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Cleaner { rules })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that would remove `line`, if any.
    pub fn matching(&self, line: &str) -> Option<&Rule> {
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        self.rules.iter().find(|r| r.regex.is_match(line))
    }

    /// `text` without its clutter lines, and what was removed. Blank lines are kept so
    /// paragraphs stay apart; runs of them collapse to one.
    pub fn clean(&self, text: &str) -> (String, Vec<Removed>) {
        let mut kept: Vec<&str> = Vec::new();
        let mut removed = Vec::new();
        for line in text.lines() {
            match self.matching(line) {
                Some(rule) => removed.push(Removed {
                    rule: rule.name.clone(),
                    text: line.trim().to_string(),
                }),
                None => {
                    let blank = line.trim().is_empty();
                    if !(blank && kept.last().is_none_or(|l| l.trim().is_empty())) {
                        kept.push(line);
                    }
                }
            }
        }
        while kept.last().is_some_and(|l| l.trim().is_empty()) {
            kept.pop();
        }
        (kept.join("\n"), removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_removes_its_example() {
        let c = Cleaner::builtin();
        assert!(c.rules().len() >= 7);
        for r in c.rules() {
            let hit = c.matching(&r.example).map(|m| m.name.as_str());
            assert_eq!(hit, Some(r.name.as_str()), "example of `{}`", r.name);
        }
    }

    #[test]
    fn news_sentences_survive() {
        let c = Cleaner::builtin();
        for line in [
            "The council said it would read more reports before deciding.",
            "By Friday, 1,200 residents had signed the petition.",
            "Related costs rose by 4 per cent, the report said.",
            "\"Please enter the building calmly,\" the fire chief told staff.",
            "Photographers gathered outside the court on Tuesday.",
            "Published figures show the ferry lost money for a third year.",
            "Share prices fell sharply after the announcement.",
            "Subscribers to the water company will pay 3 pounds more a month.",
            "12 comments were sent to the council before the vote.",
            "See also the map on page 4, the guide says.",
        ] {
            assert!(
                c.matching(line).is_none(),
                "kept: {line} (matched {:?})",
                c.matching(line).map(|r| &r.name)
            );
        }
    }

    #[test]
    fn clean_reports_what_it_removed_and_keeps_paragraphs() {
        let text = "By Ana Ruiz\nUpdated: 3 May 2026\n\nThe ferry strike ended on Friday.\n\nYou can also read: Port reopens\n\nSailings resume on Saturday.\nShare this article\nPlease enter your comment!\n";
        let (clean, removed) = Cleaner::builtin().clean(text);
        assert_eq!(
            clean,
            "The ferry strike ended on Friday.\n\nSailings resume on Saturday."
        );
        let rules: Vec<&str> = removed.iter().map(|r| r.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "byline",
                "timestamp",
                "related-link",
                "share-subscribe",
                "comment-form"
            ]
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let err = Cleaner::from_toml("[[rule]]\nname = \"x\"\npattern = \"(\"\nexample = \"e\"\n")
            .err()
            .unwrap();
        assert!(err.contains("`x`"), "{err}");
        assert!(Cleaner::from_toml("garbage = [").is_err());
    }
}
