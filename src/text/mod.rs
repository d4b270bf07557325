//! Text handling without a model: reading and normalising input articles, splitting sentences.

pub mod clean;
pub mod facts;
pub mod html;
pub mod input;
pub mod lang;
pub mod sentences;
