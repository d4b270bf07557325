//! The transformer itself: GGUF loading, the model behind a small trait, tokenizer, device.

mod candle_models;
pub mod device;
pub mod native;
pub mod tokenizer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::Device;

use crate::error::{Error, Result};
pub use tokenizer::Tokenizer;

/// A causal language model: feed tokens at a position, get the logits of the last one.
pub trait CausalLm {
    /// Size the cache for a request of `positions` positions. Called once before a request,
    /// so that generating allocates nothing per token.
    fn reserve(&mut self, positions: usize) -> Result<()>;
    /// Run `tokens` starting at position `pos` (the number of tokens already in the cache);
    /// returns the logits of the last token, `[vocab]`.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]>;
    /// [`CausalLm::forward`], then the id of the largest logit, as greedy decoding picks it. Engines on a GPU compute it there, so that one number crosses
    /// back per token instead of the vocabulary's logits.
    fn forward_argmax(&mut self, tokens: &[u32], pos: usize) -> Result<u32> {
        Ok(crate::generate::sampler::argmax(self.forward(tokens, pos)?))
    }
    /// Most tokens [`CausalLm::forward_argmax_each`] takes at once; 0 where the engine cannot
    /// check a draft exactly (generation then goes token by token).
    fn max_verify(&self) -> usize {
        0
    }
    /// Run `tokens` (at most [`CausalLm::max_verify`]) from position `pos` in one pass and put
    /// the greedy pick after each of them into `picks`: exactly the ids that feeding them one
    /// at a time to [`CausalLm::forward_argmax`] would give. Speculative decoding checks its
    /// drafts with it.
    fn forward_argmax_each(
        &mut self,
        tokens: &[u32],
        pos: usize,
        picks: &mut Vec<u32>,
    ) -> Result<()> {
        let _ = (tokens, pos, picks);
        Err(Error::Engine(
            "this engine cannot check a draft in one pass (its max_verify is 0)".into(),
        ))
    }
    /// Run `tokens` from position `pos` (all but the last, which is only scored) and add up the
    /// log-probability of each `tokens[i]`, `i >= from` (at least 1), given the tokens before
    /// it: how likely the model finds a given continuation. The default runs the scored tokens
    /// one at a time; engines that can return every position's logits score them in one pass.
    fn sequence_log_prob(&mut self, tokens: &[u32], pos: usize, from: usize) -> Result<f64> {
        check_scored(tokens, from)?;
        let mut total = log_softmax_at(self.forward(&tokens[..from], pos)?, tokens[from]);
        for i in from..tokens.len() - 1 {
            total += log_softmax_at(self.forward(&tokens[i..i + 1], pos + i)?, tokens[i + 1]);
        }
        Ok(total)
    }
    /// Forget all cached positions.
    fn reset(&mut self);
    /// Weight bytes one decoded token reads from memory, where the engine knows them.
    fn bytes_per_token(&self) -> Option<usize> {
        None
    }
    /// How many leading `tokens` already have their keys and values cached from an earlier
    /// request and can stay (through `reserve`, which keeps them); the request then runs only
    /// the rest. Implementations that do not track their cache say 0.
    fn cached_prefix(&self, _tokens: &[u32]) -> usize {
        0
    }
    /// The same model run as several beams at once, for beam search; `None` where the engine
    /// has no batched beams.
    fn beams(&mut self) -> Option<&mut dyn BeamLm> {
        None
    }
    /// The same model advancing several independent sequences at once, for batched decoding;
    /// `None` where the engine has no batched steps.
    fn batch(&mut self) -> Option<&mut dyn BatchLm> {
        None
    }
}

/// `sequence_log_prob`'s arguments: at least one token before the scored ones, and one scored.
fn check_scored(tokens: &[u32], from: usize) -> Result<()> {
    if from == 0 || from >= tokens.len() {
        return Err(Error::Usage(format!(
            "scoring tokens {from}.. of {}: needs at least one token before them and one scored",
            tokens.len()
        )));
    }
    Ok(())
}

/// `log p(token)` under `logits`; minus infinity for a token past the vocabulary.
pub fn log_softmax_at(logits: &[f32], token: u32) -> f64 {
    let Some(&x) = logits.get(token as usize) else {
        return f64::NEG_INFINITY;
    };
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    x as f64 - max - sum.ln()
}

/// A model that advances several continuations of one prompt together.
pub trait BeamLm {
    /// Start `width` beams from the first `pos` cached positions (the prompt just run).
    fn fork(&mut self, width: usize, pos: usize) -> Result<()>;
    /// One token per beam, all at position `pos`; the logits, `[beam][vocab]`.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]>;
    /// Beam `b` continues beam `parents[b]`, taking its positions `range`.
    fn reorder(&mut self, parents: &[usize], range: std::ops::Range<usize>) -> Result<()>;
}

/// A model that advances several sequences together, each in a cache slot of its own, reading
/// each weight once per step for all of them.
pub trait BatchLm {
    /// Most sequences one step advances; each gets exactly the logits it would get alone.
    fn max_batch(&self) -> usize;
    /// Slot `slot` takes the first `pos` cached positions: the prompt just run with
    /// [`CausalLm::forward`]. Reserve room for every sequence of the batch first.
    fn adopt(&mut self, slot: usize, pos: usize) -> Result<()>;
    /// One token per row: `tokens[t]` at position `positions[t]` of the sequence in slot
    /// `slots[t]`; the logits, `[row][vocab]`.
    fn forward(&mut self, slots: &[usize], tokens: &[u32], positions: &[usize]) -> Result<&[f32]>;
}

/// Which implementation runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The crate's own decoder (CPU).
    #[default]
    Native,
    /// candle-transformers' quantized llama/qwen2 modules: the reference the native engine is
    /// measured against, and the path for CUDA/Metal until the native engine runs there.
    Candle,
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
    /// The implementation running it.
    pub engine: EngineKind,
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

/// A GGUF file mapped into memory, with its header parsed from the mapping.
pub(crate) struct GgufFile {
    pub map: memmap2::Mmap,
    pub content: gguf_file::Content,
    /// `general.architecture`.
    pub architecture: String,
}

impl GgufFile {
    /// Map and parse `path`; errors are messages for [`Error::Load`].
    pub(crate) fn open(path: &Path) -> std::result::Result<GgufFile, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: mapped read-only and never written; like every engine that maps weights,
        // this relies on the file not being truncated while in use.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| format!("cannot map the file: {e}"))?;
        // Parsing from the mapping costs no system call per metadata value.
        let content = gguf_file::Content::read(&mut std::io::Cursor::new(&map[..])).map_err(|e| {
            format!("not a readable GGUF file ({e}); check the path, or run `summarise models verify`")
        })?;
        let architecture = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .ok_or("metadata key `general.architecture` is missing")?;
        Ok(GgufFile {
            map,
            content,
            architecture,
        })
    }
}

/// Architectures the default engine runs.
pub fn supported() -> Vec<&'static str> {
    native::family_names()
}

/// Load a GGUF file onto `device`, with the tokenizer from `tokenizer_json` when given, else
/// from the GGUF's own metadata. The native engine runs on the CPU; other devices use the
/// candle engine for now.
pub fn load_gguf(
    path: &Path,
    tokenizer_json: Option<&Path>,
    device: &Device,
    engine: EngineKind,
) -> Result<LoadedModel> {
    let start = Instant::now();
    let load_err = |message: String| Error::Load {
        path: path.to_path_buf(),
        message,
    };
    let engine = if device.is_cpu() {
        engine
    } else {
        EngineKind::Candle
    };
    let GgufFile {
        map,
        content,
        architecture,
    } = GgufFile::open(path).map_err(load_err)?;
    let context_length = content
        .metadata
        .get(&format!("{architecture}.context_length"))
        .and_then(|v| v.to_u32().ok())
        .ok_or_else(|| {
            load_err(format!(
                "metadata key `{architecture}.context_length` is missing"
            ))
        })? as usize;
    let tokenizer = match tokenizer_json {
        Some(json) => Tokenizer::from_file(json)?,
        None => Tokenizer::from_gguf(&content)?,
    };
    let (lm, context_length): (Box<dyn CausalLm>, usize) = match engine {
        EngineKind::Native => {
            let decoder = native::Decoder::load(map, &content, &architecture)
                .map_err(|e| load_err(e.to_string()))?;
            (Box::new(decoder), context_length)
        }
        EngineKind::Candle => {
            let cap = candle_models::max_context(&architecture).unwrap_or(usize::MAX);
            let mut reader = std::io::Cursor::new(&map[..]);
            let lm = candle_models::load(&architecture, content, &mut reader, device)
                .map_err(load_err)?;
            (lm, context_length.min(cap))
        }
    };
    Ok(LoadedModel {
        lm,
        tokenizer,
        info: ModelInfo {
            path: path.to_path_buf(),
            architecture,
            context_length,
            engine,
        },
        device: device.clone(),
        load_secs: start.elapsed().as_secs_f64(),
    })
}

impl CausalLm for native::Decoder {
    fn reserve(&mut self, positions: usize) -> Result<()> {
        native::Decoder::reserve(self, positions);
        Ok(())
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        native::Decoder::forward(self, tokens, pos).map_err(Error::from)
    }

    fn max_verify(&self) -> usize {
        native::Decoder::max_verify(self)
    }

    fn forward_argmax_each(
        &mut self,
        tokens: &[u32],
        pos: usize,
        picks: &mut Vec<u32>,
    ) -> Result<()> {
        Ok(native::Decoder::forward_argmax_each(
            self, tokens, pos, picks,
        )?)
    }

    fn sequence_log_prob(&mut self, tokens: &[u32], pos: usize, from: usize) -> Result<f64> {
        check_scored(tokens, from)?;
        // The last token is only scored, never run, as in the default.
        let mut total = 0.0;
        let run = &tokens[..tokens.len() - 1];
        native::Decoder::forward_each_from(self, run, pos, from - 1, |i, logits| {
            total += log_softmax_at(logits, tokens[i + 1]);
        })?;
        Ok(total)
    }

    fn reset(&mut self) {
        self.forget();
    }

    fn bytes_per_token(&self) -> Option<usize> {
        Some(native::Decoder::bytes_per_token(self))
    }

    fn cached_prefix(&self, tokens: &[u32]) -> usize {
        native::Decoder::cached_prefix(self, tokens)
    }

    fn beams(&mut self) -> Option<&mut dyn BeamLm> {
        Some(self)
    }

    fn batch(&mut self) -> Option<&mut dyn BatchLm> {
        Some(self)
    }
}

impl BatchLm for native::Decoder {
    fn max_batch(&self) -> usize {
        native::Decoder::max_batch(self)
    }

    fn adopt(&mut self, slot: usize, pos: usize) -> Result<()> {
        Ok(native::Decoder::adopt(self, slot, pos)?)
    }

    fn forward(&mut self, slots: &[usize], tokens: &[u32], positions: &[usize]) -> Result<&[f32]> {
        Ok(native::Decoder::forward_slots(
            self, slots, tokens, positions,
        )?)
    }
}

impl BeamLm for native::Decoder {
    fn fork(&mut self, width: usize, pos: usize) -> Result<()> {
        Ok(native::Decoder::fork(self, width, pos)?)
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        Ok(native::Decoder::forward_beams(self, tokens, pos)?)
    }

    fn reorder(&mut self, parents: &[usize], range: std::ops::Range<usize>) -> Result<()> {
        Ok(native::Decoder::reorder_beams(self, parents, range)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_matches_its_definition() {
        let logits = [1.0f32, 2.0, 3.0];
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        let want = 2.0 - z.ln();
        assert!((log_softmax_at(&logits, 1) - want).abs() < 1e-9);
        assert_eq!(log_softmax_at(&logits, 7), f64::NEG_INFINITY);
    }
}
