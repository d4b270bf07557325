//! The summary request: the registry's prompt texts filled in for one article and its options.

use crate::generate::template;
use crate::models::registry::Prompts;

use super::options::{Style, SummaryOptions};

/// The system text, the user text and the answer cue of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub system: String,
    pub user: String,
    pub answer: String,
}

/// Fill in `prompts` for `article` under `options`.
pub fn request(prompts: &Prompts, options: &SummaryOptions, article: &str) -> Request {
    let style = match options.style {
        Style::Highlights => &prompts.style.highlights,
        Style::Paragraph => &prompts.style.paragraph,
        Style::Bullets => &prompts.style.bullets,
    };
    let mut instruction = style
        .replace("{sentences}", &options.sentences.to_string())
        .replace("{words}", &options.words.to_string());
    if let Some(lang) = options.lang {
        instruction.push_str(&prompts.language.replace("{lang}", lang.name));
    }
    let user = template::fill(
        &prompts.user,
        &[("{article}", article), ("{instruction}", &instruction)],
    );
    Request {
        system: prompts.system.clone(),
        user,
        answer: prompts.answer.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Registry;
    use crate::tasks::summarise::options::Length;
    use crate::text::lang::Lang;

    #[test]
    fn placeholders_are_filled_and_article_braces_survive() {
        let prompts = Registry::load().unwrap().prompts;
        let mut options = SummaryOptions::new(Length::Short);
        options.style = Style::Bullets;
        options.lang = Some(Lang::parse("es").unwrap());
        let r = request(&prompts, &options, "The {instruction} and {article} stay.");
        assert!(r.user.contains("The {instruction} and {article} stay."));
        assert!(r.user.contains("2 bullet points"), "{}", r.user);
        assert!(r.user.contains("Spanish"), "{}", r.user);
        assert!(!r.user.contains("{sentences}") && !r.user.contains("{lang}"));
    }
}
