//! HTML input: a web page's main article text, found with `dom_smoothie` (a Rust port of
//! Mozilla's readability.js), one paragraph per block. Clutter inside the article (bylines,
//! photo credits) is left to the cleaner.

use dom_smoothie::{Config, Readability, TextMode};

/// Whether `text` (or a file named `name`) is an HTML page rather than plain text.
pub fn looks_like_html(name: &str, text: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") || lower.ends_with(".xhtml") {
        return true;
    }
    let head: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(256)
        .collect();
    let head = head.to_ascii_lowercase();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (head.starts_with('<') && head.contains("<body"))
}

/// The page's title and main text, paragraphs separated by blank lines. An error says what
/// to do when no article can be found.
pub fn extract(html: &str) -> Result<String, String> {
    let cfg = Config {
        text_mode: TextMode::Formatted,
        ..Default::default()
    };
    let mut reader = Readability::new(html, None, Some(cfg))
        .map_err(|e| format!("cannot read the page as HTML ({e})"))?;
    let article = reader.parse().map_err(|e| {
        format!("no article text found in the page ({e}); save the article as plain text instead")
    })?;
    let mut paragraphs: Vec<String> = article
        .text_content
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let title = article.title.trim();
    if !title.is_empty() && paragraphs.first().is_none_or(|p| p != title) {
        paragraphs.insert(0, title.to_string());
    }
    if paragraphs.len() <= 1 {
        return Err(
            "no article text found in the page; save the article as plain text instead".into(),
        );
    }
    Ok(paragraphs.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognised_by_name_or_content() {
        assert!(looks_like_html("page.HTML", "anything"));
        assert!(looks_like_html("-", "\u{feff}  <!DOCTYPE html><html>"));
        assert!(looks_like_html("x.txt", "<html><body>"));
        assert!(!looks_like_html(
            "x.txt",
            "The council <b>voted</b> on Monday."
        ));
    }

    #[test]
    fn empty_or_broken_pages_are_errors_not_panics() {
        assert!(extract("<html><body></body></html>").is_err());
        assert!(extract("<html><body><p>Unclosed <div><span>").is_err());
        assert!(extract("").is_err());
        assert!(extract("\u{0}\u{1}<<<>>>").is_err());
    }
}
