//! The loaded model: configuration and weights, immutable once built, so any number of
//! sessions (requests, beams, a server's clients) can share one copy.

use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;

use super::config::Config;
use super::error::Result;
use super::kv_cache::Heads;
use super::matmul::{QMatrix, Storage};
use super::ops;
use super::weights::{Layer, Tensors};

/// A model's weights, views of its mapped file. Every matrix holds the mapping through an
/// `Arc`, so the file stays mapped for as long as any part of the model is in use.
pub struct Model {
    pub(super) cfg: Config,
    pub(super) embd: QMatrix,
    pub(super) output: QMatrix,
    pub(super) output_norm: Vec<f32>,
    pub(super) layers: Vec<Layer>,
    /// RoPE inverse frequencies of global and of sliding-window layers.
    pub(super) freqs: Vec<f32>,
    pub(super) window_freqs: Vec<f32>,
}

impl Model {
    /// Build the model for `arch` over the mapped file `map`, whose header is `content`.
    pub fn load(map: Mmap, content: &Content, arch: &str) -> Result<Model> {
        let cfg = Config::from_gguf(content, arch)?;
        let file: Storage = Arc::new(map);
        let t = Tensors::new(file, content);
        let embd = t.matrix("token_embd.weight", None, Some(cfg.n_embd))?;
        let output = match t.has("output.weight") {
            true => t.matrix("output.weight", Some(embd.rows), Some(cfg.n_embd))?,
            false => embd.clone(),
        };
        let output_norm = t.vector("output_norm.weight", cfg.n_embd)?;
        let factors = match t.has("rope_freqs.weight") {
            true => Some(t.vector("rope_freqs.weight", cfg.n_rot / 2)?),
            false => None,
        };
        let layers = (0..cfg.n_layer)
            .map(|l| Layer::load(&t, &cfg, l))
            .collect::<Result<Vec<_>>>()?;
        let freqs = ops::inv_freqs(cfg.n_rot, cfg.rope_base, cfg.rope_scale, factors.as_deref());
        let window_freqs = ops::inv_freqs(cfg.n_rot, cfg.window_rope_base, 1.0, factors.as_deref());
        Ok(Model {
            cfg,
            embd,
            output,
            output_norm,
            layers,
            freqs,
            window_freqs,
        })
    }

    /// The context length the file declares.
    pub fn context_length(&self) -> usize {
        self.cfg.context_length
    }

    /// Vocabulary size (rows of the output matrix).
    pub fn vocab_size(&self) -> usize {
        self.output.rows
    }

    /// Weight bytes one decoded token reads: every layer's matrices, the output matrix and
    /// one embedding row (norms and biases are too small to count). Over the memory's read
    /// bandwidth this gives the fastest decode the hardware allows.
    pub fn bytes_per_token(&self) -> usize {
        let layers: usize = self.layers.iter().map(Layer::matrix_bytes).sum();
        layers + self.output.byte_len() + self.embd.row_bytes()
    }

    pub(super) fn heads(&self) -> Heads {
        Heads {
            n_head: self.cfg.n_head,
            n_kv_head: self.cfg.n_kv_head,
            k_dim: self.cfg.k_dim,
            v_dim: self.cfg.v_dim,
        }
    }
}
