//! Evaluations: summaries against reference highlights (ROUGE), quotations against a
//! hand-annotated set (precision, recall, speakers).

pub mod quotes;
pub mod summarization;
pub mod translation;

pub use summarization::*;
