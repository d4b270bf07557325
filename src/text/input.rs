//! Reading an article from a file or stdin (plain text, or the main text of an HTML page), refusing binary or non-UTF-8 input with a clear error.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// An input article.
#[derive(Debug, Clone)]
pub struct Article {
    /// Where it came from: the path, or `<stdin>`.
    pub source: String,
    /// Normalised text.
    pub text: String,
}

/// Read `spec`: a file path, or `-` for standard input.
pub fn read(spec: &str) -> Result<Article> {
    let (source, bytes) = if spec == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| input_error("<stdin>", format!("cannot read: {e}")))?;
        ("<stdin>".to_string(), bytes)
    } else {
        let path = Path::new(spec);
        if path.is_dir() {
            return Err(input_error(
                spec,
                "is a folder; pass a text file, or `-` to read stdin",
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "no such file; check the path"
            } else {
                "cannot read it"
            };
            input_error(spec, format!("{hint} ({e})"))
        })?;
        (spec.to_string(), bytes)
    };
    let text = decode(&source, &bytes)?;
    let text = if super::html::looks_like_html(&source, &text) {
        super::html::extract(&text).map_err(|m| input_error(&source, m))?
    } else {
        text
    };
    Ok(Article { source, text })
}

/// Check and normalise raw bytes: UTF-8, no NUL bytes, not blank.
pub fn decode(source: &str, bytes: &[u8]) -> Result<String> {
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        return Err(input_error(
            source,
            format!("looks binary (a NUL byte at offset {i}); pass a plain-text article"),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        input_error(
            source,
            format!(
                "is not UTF-8 text (invalid byte at offset {}); convert it, e.g. `iconv -t UTF-8`",
                e.valid_up_to()
            ),
        )
    })?;
    let text = normalise(text);
    if text.is_empty() {
        return Err(input_error(
            source,
            "is empty; there is nothing to summarise",
        ));
    }
    Ok(text)
}

/// Drop a byte-order mark, unify line ends, trim line ends and squeeze runs of blank lines.
pub fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

fn input_error(source: &str, message: impl Into<String>) -> Error {
    Error::Input {
        source_name: source.to_string(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_line_ends_and_blank_runs() {
        assert_eq!(
            normalise("\u{feff}Title  \r\n\r\n\r\n\nBody one.\rBody two.   \n\n"),
            "Title\n\nBody one.\nBody two."
        );
    }

    #[test]
    fn garbage_input_is_a_clear_error() {
        let err = decode("a.bin", b"\x7fELF\x00\x01").unwrap_err().to_string();
        assert!(err.starts_with("a.bin: looks binary"), "{err}");
        let err = decode("b.txt", b"caf\xe9 au lait").unwrap_err().to_string();
        assert!(
            err.contains("b.txt") && err.contains("not UTF-8") && err.contains("offset 3"),
            "{err}"
        );
        let err = decode("c.txt", b" \n\t\n ").unwrap_err().to_string();
        assert!(err.contains("c.txt") && err.contains("empty"), "{err}");
    }

    #[test]
    fn missing_file_and_folder_name_the_path() {
        let err = read("/definitely/not/here.txt").unwrap_err().to_string();
        assert!(
            err.contains("/definitely/not/here.txt") && err.contains("no such file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path().to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
    }
}
