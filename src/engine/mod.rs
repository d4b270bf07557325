//! The transformer itself: GGUF loading, the model behind a small trait, tokenizer, device.

mod candle_models;
pub mod device;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
pub use tokenizer::Tokenizer;

/// A causal language model: feed tokens at a position, get the logits of the last one.
pub trait CausalLm {
    /// Run `tokens` starting at position `pos` (the number of tokens already in the cache);
    /// returns the logits of the last token, shape `[vocab]`, as f32.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor>;
    /// Forget all cached positions.
    fn reset(&mut self);
}

/// Facts about a loaded model, read from its GGUF metadata.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The file loaded.
    pub path: PathBuf,
    /// `general.architecture`.
    pub architecture: String,
    /// `<arch>.context_length`, capped at what the backend supports.
    pub context_length: usize,
}

/// A model ready to generate: weights on a device plus its tokenizer.
pub struct LoadedModel {
    /// The network.
    pub lm: Box<dyn CausalLm>,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Metadata.
    pub info: ModelInfo,
    /// Where the weights live.
    pub device: Device,
    /// Seconds spent loading.
    pub load_secs: f64,
}

/// Architectures this engine can run today.
pub const SUPPORTED: &[&str] = &["llama", "qwen2"];

/// Load a GGUF file onto `device`, with the tokenizer from `tokenizer_json` when given, else
/// from the GGUF's own metadata.
pub fn load_gguf(
    path: &Path,
    tokenizer_json: Option<&Path>,
    device: &Device,
) -> Result<LoadedModel> {
    let start = Instant::now();
    let load_err = |message: String| Error::Load {
        path: path.to_path_buf(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|e| load_err(e.to_string()))?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| {
        load_err(format!(
            "not a readable GGUF file ({e}); check the path, or run `summarise models verify`"
        ))
    })?;
    let get_str = |key: &str| {
        content
            .metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .cloned()
    };
    let architecture = get_str("general.architecture")
        .ok_or_else(|| load_err("metadata key `general.architecture` is missing".into()))?;
    let context_length = content
        .metadata
        .get(&format!("{architecture}.context_length"))
        .and_then(|v| v.to_u32().ok())
        .ok_or_else(|| {
            load_err(format!(
                "metadata key `{architecture}.context_length` is missing"
            ))
        })? as usize;
    let context_length = match candle_models::max_context(&architecture) {
        Some(cap) => context_length.min(cap),
        None => context_length,
    };
    let info = ModelInfo {
        path: path.to_path_buf(),
        architecture,
        context_length,
    };
    let tokenizer = match tokenizer_json {
        Some(json) => Tokenizer::from_file(json)?,
        None => Tokenizer::from_gguf(&content)?,
    };
    let lm =
        candle_models::load(&info.architecture, content, &mut file, device).map_err(load_err)?;
    Ok(LoadedModel {
        lm,
        tokenizer,
        info,
        device: device.clone(),
        load_secs: start.elapsed().as_secs_f64(),
    })
}
