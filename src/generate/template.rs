//! Prompt templates: turn a system text and a user text into tokens for a model.

use crate::engine::Tokenizer;
use crate::error::Result;
use crate::models::registry::TemplateKind;

/// A request to the model in chat form; base models get it laid out as plain text.
#[derive(Debug, Clone)]
pub struct Prompt<'a> {
    /// Instructions.
    pub system: &'a str,
    /// Worked examples, as earlier exchanges: (request, answer) pairs shown before `user`.
    pub examples: &'a [(String, String)],
    /// The task text, including untrusted input such as the article.
    pub user: &'a str,
    /// Text the answer starts with (the model continues from it).
    pub answer_prefix: &'a str,
}

/// One piece of a rendered prompt. Template markup may contain special tokens; user text never
/// does (an article that contains "<|im_end|>" is tokenized as plain text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Template markup: special tokens are parsed.
    Markup(&'a str),
    /// Untrusted text: special tokens are not parsed.
    Text(&'a str),
}

/// Lay out `prompt` for `kind`.
pub fn render<'a>(kind: TemplateKind, prompt: &Prompt<'a>) -> Vec<Piece<'a>> {
    use Piece::*;
    // The markup that opens the system turn, then a user turn, then an answer.
    let (open, to_user, to_answer) = match kind {
        TemplateKind::Chatml => (
            "<|im_start|>system\n",
            "<|im_end|>\n<|im_start|>user\n",
            "<|im_end|>\n<|im_start|>assistant\n",
        ),
        TemplateKind::Completion | TemplateKind::None => ("", "\n\n", "\n\n"),
    };
    let mut pieces = Vec::with_capacity(6 + 4 * prompt.examples.len());
    if !open.is_empty() {
        pieces.push(Markup(open));
    }
    pieces.push(Text(prompt.system));
    let turns = prompt
        .examples
        .iter()
        .map(|(q, a)| (q.as_str(), a.as_str()))
        .chain([(prompt.user, prompt.answer_prefix)]);
    for (request, answer) in turns {
        pieces.extend([
            Markup(to_user),
            Text(request),
            Markup(to_answer),
            Text(answer),
        ]);
    }
    pieces
}

/// `template` with each `{name}` of `values` replaced, in one pass: a value that itself holds
/// "{name}" (an article quoting a placeholder) is kept as written. Unknown braces stay.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let extra: usize = values.iter().map(|(_, v)| v.len()).sum();
    let mut out = String::with_capacity(template.len() + extra);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        match values.iter().find(|(k, _)| tail.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &tail[k.len()..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Tokenize rendered pieces, with BOS first when the model wants one.
pub fn encode(tokenizer: &Tokenizer, pieces: &[Piece<'_>]) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let (text, special) = match piece {
            Piece::Markup(t) => (*t, true),
            Piece::Text(t) => (*t, false),
        };
        if text.is_empty() && i > 0 {
            continue;
        }
        ids.extend(tokenizer.encode(text, i == 0, special)?);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_once_and_keeps_unknown_braces() {
        let v = [("{a}", "x {b}"), ("{b}", "y")];
        assert_eq!(fill("{a}-{b}-{c}", &v), "x {b}-y-{c}");
        assert_eq!(fill("no braces", &v), "no braces");
    }

    #[test]
    fn chatml_keeps_user_text_apart_from_markup() {
        let p = Prompt {
            system: "Be brief.",
            examples: &[],
            user: "Article <|im_end|>",
            answer_prefix: "",
        };
        let pieces = render(TemplateKind::Chatml, &p);
        assert_eq!(pieces[0], Piece::Markup("<|im_start|>system\n"));
        assert!(pieces.contains(&Piece::Text("Article <|im_end|>")));
        let joined: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Markup(t) | Piece::Text(t) => *t,
            })
            .collect();
        assert_eq!(
            joined,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nArticle <|im_end|><|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn examples_are_earlier_turns_of_the_chat() {
        let examples = [("Uno.".to_string(), "One.".to_string())];
        let p = Prompt {
            system: "Translate.",
            examples: &examples,
            user: "Dos.",
            answer_prefix: "",
        };
        let joined: String = render(TemplateKind::Chatml, &p)
            .iter()
            .map(|p| match p {
                Piece::Markup(t) | Piece::Text(t) => *t,
            })
            .collect();
        assert_eq!(
            joined,
            "<|im_start|>system\nTranslate.<|im_end|>\n<|im_start|>user\nUno.<|im_end|>\n\
             <|im_start|>assistant\nOne.<|im_end|>\n<|im_start|>user\nDos.<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn completion_has_no_chat_markup() {
        let p = Prompt {
            system: "Summarise.",
            examples: &[],
            user: "Text.",
            answer_prefix: "Summary:",
        };
        let pieces = render(TemplateKind::Completion, &p);
        assert!(pieces
            .iter()
            .all(|p| !matches!(p, Piece::Markup(t) if t.contains('<'))));
    }
}
