//! Text handling without a model: reading and normalising input articles, splitting sentences.

pub mod facts;
pub mod input;
pub mod sentences;
