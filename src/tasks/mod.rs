//! Orchestration of the layers below: resolve a model, load it once, run a task over inputs.

pub mod anchor;
pub mod bandwidth;
pub mod bench;
pub mod bench_summarise;
pub mod eval;
pub mod llamacpp;
pub mod model;
pub mod parity;
pub mod quotes;
pub mod summarise;
pub mod translate;
