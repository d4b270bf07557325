//! HTML pages we wrote, read as articles: the story's paragraphs come through, the page's
//! navigation, sidebars, related links, comments, cookie banner and footer do not, and the
//! cleaner then drops clutter inside the story (byline, share bar, photo credit).

mod common;

use summarise::text::clean::Cleaner;
use summarise::text::input;

fn read(name: &str) -> String {
    let path = common::fixtures().join("html").join(name);
    let article = input::read(path.to_str().unwrap()).unwrap();
    Cleaner::builtin().clean(&article.text).0
}

#[test]
fn a_news_page_gives_its_story_and_nothing_else() {
    let text = read("harbour-news.html");
    for wanted in [
        "Harbour board approves channel dredging",
        "dredge the main channel",
        "4.2 million pounds",
        "\"We cannot keep turning ships away,\" said board chair Miriam Okafor.",
        "compensation scheme before the dredgers arrive in May",
    ] {
        assert!(text.contains(wanted), "missing {wanted:?} in:\n{text}");
    }
    for unwanted in [
        "cookies",
        "Weather",
        "Search the Courier",
        "Related stories",
        "New ferry timetable",
        "Great news for the town",
        "Please enter your comment",
        "All rights reserved",
        "Privacy",
        "Getty Images",
        "By Ana Ruiz",
    ] {
        assert!(!text.contains(unwanted), "kept {unwanted:?} in:\n{text}");
    }
    // Paragraphs stay apart.
    assert!(text.matches("\n\n").count() >= 4, "{text}");
}

#[test]
fn a_blog_page_with_unclosed_paragraphs_reads_too() {
    let text = read("council-blog.html");
    assert!(text.contains("voted 7 to 2 on Monday"), "{text}");
    assert!(text.contains("Librarian Joan Pike"), "{text}");
    for unwanted in [
        "Archive",
        "February 2026",
        "Sign up for our newsletter",
        "Powered by",
    ] {
        assert!(!text.contains(unwanted), "kept {unwanted:?} in:\n{text}");
    }
}

#[test]
fn a_page_without_an_article_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("empty-page.html");
    std::fs::write(
        &page,
        "<html><body><nav><a href='/'>Home</a></nav></body></html>",
    )
    .unwrap();
    let err = input::read(page.to_str().unwrap()).unwrap_err().to_string();
    assert!(err.contains("empty-page.html"), "{err}");
    assert!(err.contains("plain text"), "{err}");
}
