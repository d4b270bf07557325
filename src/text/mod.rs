//! Text handling without a model: reading and normalising input articles, splitting sentences,
//! scoring translations.

pub mod clean;
pub mod facts;
pub mod html;
pub mod input;
pub mod lang;
pub mod langid;
pub mod mt_metrics;
pub mod quotes;
pub mod sentences;
