//! Text handling without a model: reading and normalising input articles.

pub mod input;
