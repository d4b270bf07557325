//! Models: the registry (`models/registry.toml`), the local cache, and fetching from sources.

pub mod cache;
pub mod fetch;
pub mod registry;
pub mod twin;

pub use cache::Cache;
pub use registry::{ModelEntry, ModelFile, Registry};
