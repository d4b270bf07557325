//! summarise: offline-first summaries of news articles with a local transformer model.
//!
//! Layers, top to bottom (each depends only on those below it): `cli` (arguments, output) ->
//! `tasks` (orchestration) -> `text` (pure text processing) and `generate` (the inference loop)
//! -> `engine` (model, tokenizer, device) -> `models` (registry, cache, downloads).

pub mod cli;
pub mod engine;
pub mod error;
pub mod generate;
pub mod models;
pub mod tasks;
pub mod text;

pub use error::{Error, Result};
