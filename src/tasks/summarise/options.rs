//! What a user can ask of a summary: length, style, language and mode, and what they mean.

use clap::ValueEnum;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::text::lang::Lang;

/// How long a summary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// Two sentences.
    Short,
    /// Three sentences, the length of a news site's highlights.
    Medium,
    /// Five sentences.
    Long,
}

impl Length {
    /// Sentences asked for.
    pub fn sentences(self) -> usize {
        match self {
            Length::Short => 2,
            Length::Medium => 3,
            Length::Long => 5,
        }
    }

    /// About how many words each sentence has.
    pub fn words(self) -> usize {
        match self {
            Length::Short => 15,
            Length::Medium => 15,
            Length::Long => 18,
        }
    }
}

/// How a summary is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// One short sentence a line, most important first.
    Highlights,
    /// One paragraph.
    Paragraph,
    /// `- ` bullet points.
    Bullets,
}

/// How a summary is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The model writes it; the faithfulness guard drops sentences with invented facts.
    Abstractive,
    /// Sentences of the article, ranked without the model: instant, and verbatim.
    Extractive,
    /// The extractive sentences, each shortened by the model leaving out clauses; every word
    /// is the article's own.
    Hybrid,
}

impl Mode {
    /// The mode used when none is asked for: the best scorer on the CNN/DailyMail evaluation
    /// (README.md, "Summary quality"). All 250 articles: extractive 41.50 / 19.04 / 37.59
    /// ROUGE-1/2/Lsum. First 113: hybrid 40.16 / 17.20 / 36.30, extractive 40.35 / 17.50 /
    /// 36.53. First 20: abstractive 33.09 / 11.26 / 30.52.
    pub const DEFAULT: Mode = Mode::Extractive;

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Abstractive => "abstractive",
            Mode::Extractive => "extractive",
            Mode::Hybrid => "hybrid",
        }
    }

    /// Whether this mode runs the model.
    pub fn needs_model(self) -> bool {
        self != Mode::Extractive
    }
}

/// Options of a summary, after the command line and registry defaults are merged.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Most tokens to generate; `None` sizes it from the length asked for.
    pub max_tokens: Option<usize>,
    /// Overrides the model's default temperature.
    pub temperature: Option<f64>,
    /// Sampling seed.
    pub seed: u64,
    /// Sentences asked for.
    pub sentences: usize,
    /// About how many words each sentence has.
    pub words: usize,
    /// Layout.
    pub style: Style,
    /// Language of the summary; `None` writes in the article's language.
    pub lang: Option<Lang>,
    /// How the summary is made.
    pub mode: Mode,
}

impl SummaryOptions {
    /// A usage error for options that cannot go together.
    pub fn validate(&self) -> Result<()> {
        if self.max_tokens == Some(0) {
            return Err(Error::Usage("--max-tokens must be at least 1".into()));
        }
        if self.sentences == 0 {
            return Err(Error::Usage("--sentences must be at least 1".into()));
        }
        if let (Some(lang), true) = (self.lang, self.mode != Mode::Abstractive) {
            return Err(Error::Usage(format!(
                "--lang {} needs --mode abstractive: {} summaries are the article's own words, \
                 in its own language",
                lang.code,
                self.mode.name()
            )));
        }
        Ok(())
    }

    /// The options for `length`, everything else at its default.
    pub fn new(length: Length) -> SummaryOptions {
        SummaryOptions {
            max_tokens: None,
            temperature: None,
            seed: 299_792_458,
            sentences: length.sentences(),
            words: length.words(),
            style: Style::Highlights,
            lang: None,
            mode: Mode::DEFAULT,
        }
    }

    /// The token budget of the answer: enough for the sentences asked for, with room to spare
    /// (a word is about 1.4 tokens in English and more in other languages and scripts).
    pub fn answer_budget(&self) -> usize {
        self.max_tokens
            .unwrap_or_else(|| (self.sentences * self.words * 3).clamp(64, 1024))
    }
}
