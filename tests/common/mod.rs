//! Shared test setup: real registry models fetched once into the user's cache, and helpers.
#![allow(dead_code)]

pub mod hub_server;
pub mod parity;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use summarise::models::fetch::{self, FetchOptions};
use summarise::models::{Cache, Registry};

/// Path of a registry model's weights, fetched with its other files into the user's model
/// cache on first use.
/// `None` (and a printed skip line) when it cannot be had and `SUMMARISE_REQUIRE_MODELS` is
/// unset; CI sets it so that a missing model fails instead of skipping.
pub fn model_file(id: &str) -> Option<PathBuf> {
    static FETCHED: OnceLock<Mutex<HashMap<String, Option<PathBuf>>>> = OnceLock::new();
    let mut fetched = FETCHED.get_or_init(Default::default).lock().unwrap();
    if let Some(path) = fetched.get(id) {
        return path.clone();
    }
    let path = fetch_model(id);
    fetched.insert(id.to_string(), path.clone());
    path
}

fn fetch_model(id: &str) -> Option<PathBuf> {
    let registry = Registry::load().expect("registry parses");
    let model = registry.require(id).expect("model id in registry");
    let cache = Cache::from_env().expect("cache location");
    let opts = FetchOptions {
        offline: fetch::env_offline(),
        progress: false,
    };
    // Every file of the model (weights, and tokenizer.json or config where it has them).
    match fetch::pull(&cache, model, opts) {
        Ok(_) => Some(cache.file_path(model, model.weights())),
        Err(e) if std::env::var_os("SUMMARISE_REQUIRE_MODELS").is_some() => {
            panic!("model {id} is required (SUMMARISE_REQUIRE_MODELS is set) but: {e:#}")
        }
        Err(e) => {
            eprintln!("SKIP: model {id} not available: {e:#}");
            None
        }
    }
}

/// Greedy decoding of up to 24 tokens that stops at a line break, with `beams` beams (1: token
/// by token).
pub fn short_line(beams: usize) -> summarise::generate::GenerateConfig {
    summarise::generate::GenerateConfig {
        max_tokens: 24,
        stop_ids: Vec::new(),
        stop_texts: vec!["\n".into()],
        sampler: summarise::generate::SamplerConfig {
            params: summarise::models::registry::Sampling {
                temperature: 0.0,
                top_k: 0,
                top_p: 1.0,
                repeat_penalty: 1.0,
                repeat_last_n: 0,
            },
            seed: 1,
        },
        beams,
        speculate: false,
    }
}

/// Folder of the committed test fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Write a registry with one model `tiny` whose single weights file `tiny.gguf` has the given
/// sha256 and size and comes from `sources` (TOML inline tables, tried in order).
pub fn write_tiny_registry(
    dir: &std::path::Path,
    sha256: &str,
    size: usize,
    sources: &[String],
) -> PathBuf {
    let path = dir.join("registry.toml");
    let text = format!(
        r#"default = "tiny"

[[model]]
id = "tiny"
name = "Tiny test model"
architecture = "llama"
kind = "instruct"
context_length = 512
template = "chatml"

[[model.files]]
name = "tiny.gguf"
role = "weights"
sha256 = "{sha256}"
size = {size}
sources = [{}]
"#,
        sources.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path
}
