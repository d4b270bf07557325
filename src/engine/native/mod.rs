//! The crate's own decoder: one transformer for llama, qwen2, qwen3 and gemma3 GGUF files,
//! run from the memory-mapped weights with every buffer sized once per request.
//!
//! The parts: `model` (immutable weights, shared), `session` (a request's KV caches and
//! buffers), `graph` (the layers' computation), `kv_cache` and `attention`, `matmul` and the
//! quantized kernels, `beams` (beam search's batched step).

mod attention;
mod beams;
mod config;
mod dispatch;
mod error;
mod gemm;
mod graph;
mod kv_cache;
mod matmul;
mod model;
mod ops;
pub(crate) mod pool;
pub mod quants;
mod session;
mod weights;

use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;

pub(crate) use config::family_names;
pub use error::EngineError;
use error::Result;
use graph::Rows;
pub use model::Model;
use session::Session;

/// Whether checking drafts several tokens per pass pays on this CPU by default: with VNNI
/// byte products a drafted token adds about 0.3 of a step to the check (Qwen2.5 1.5B, Zen 4:
/// 4 tokens 61.8 ms, one 33.5 ms), and drafts from the article made abstractive summaries 5%
/// faster; with AVX2 alone it adds about 0.4 (Zen 3), and no gain was measured.
pub fn drafts_pay() -> bool {
    quants::Isa::current() == quants::Isa::Vnni
}

/// Tokens per prefill step: bounds the scratch memory of a long prompt.
pub const DEFAULT_CHUNK: usize = 256;

/// A model and one request's state on it.
pub struct Decoder {
    model: Arc<Model>,
    session: Session,
}

impl Decoder {
    /// Build the decoder for `arch` over the mapped file `map`, whose header is `content`.
    pub fn load(map: Mmap, content: &Content, arch: &str) -> Result<Decoder> {
        Ok(Decoder::with_model(Arc::new(Model::load(
            map, content, arch,
        )?)))
    }

    /// A fresh request on a model already loaded (shared with other decoders).
    pub fn with_model(model: Arc<Model>) -> Decoder {
        let session = Session::new(&model, DEFAULT_CHUNK);
        Decoder { model, session }
    }

    /// Open a GGUF file and build its decoder (no tokenizer): for tools and tests.
    pub fn open(path: &Path) -> Result<Decoder> {
        let gguf = super::GgufFile::open(path)
            .map_err(|e| EngineError::File(format!("{}: {e}", path.display())))?;
        Decoder::load(gguf.map, &gguf.content, &gguf.architecture)
    }

    /// The model this decoder runs.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The context length the file declares.
    pub fn context_length(&self) -> usize {
        self.model.context_length()
    }

    /// Vocabulary size (rows of the output matrix).
    pub fn vocab_size(&self) -> usize {
        self.model.vocab_size()
    }

    /// Weight bytes one decoded token reads (see [`Model::bytes_per_token`]).
    pub fn bytes_per_token(&self) -> usize {
        self.model.bytes_per_token()
    }

    /// Change the prefill chunk (tokens per step); drops the current request's cache.
    pub fn set_chunk(&mut self, chunk: usize) {
        self.session.set_chunk(chunk);
    }

    /// Forget which tokens the caches hold; the next request recomputes all of its prompt.
    pub fn forget(&mut self) {
        self.session.forget();
    }

    /// How many leading `tokens` already have their keys and values in the caches, from
    /// earlier requests, and can stay there (growing the caches keeps them).
    pub fn cached_prefix(&self, tokens: &[u32]) -> usize {
        self.session.cached_prefix(tokens)
    }

    /// Size the KV cache and scratch for a request of `positions` positions. Called before a
    /// request, this is the only allocation of the request; a cache that is large enough is
    /// reused, and one that grows keeps the positions it holds.
    pub fn reserve(&mut self, positions: usize) {
        self.session.reserve(&self.model, positions);
    }

    /// Bytes held by the KV cache.
    pub fn cache_bytes(&self) -> usize {
        self.session.cache_bytes()
    }

    /// Run `tokens` from position `pos` and return the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        self.session.check_room(&self.model, tokens.len(), pos)?;
        if let [token] = tokens {
            if self.session.replay_prompt_logits(*token, pos) {
                return Ok(&self.session.logits);
            }
        }
        let chunk = self.session.chunk;
        let mut start = 0;
        while start < tokens.len() {
            let end = (start + chunk).min(tokens.len());
            self.run_chunk(&tokens[start..end], pos + start)?;
            start = end;
        }
        let last = (tokens.len() - 1) % chunk;
        let s = &mut self.session;
        graph::logits_of(&self.model, &mut s.s, last..last + 1, &mut s.logits);
        if tokens.len() > 1 {
            s.remember_prompt_logits(pos + tokens.len() - 1);
        }
        Ok(&self.session.logits)
    }

    /// Most tokens [`Decoder::forward_argmax_each`] runs at once: below the sizes at which
    /// attention and the products switch to their prefill forms, so every position is
    /// computed exactly as a one-token step computes it.
    pub const MAX_VERIFY: usize = 7;

    /// Most tokens [`Decoder::forward_argmax_each`] takes now: [`Decoder::MAX_VERIFY`], or
    /// the prefill chunk if that is smaller (a sliding window's ring has room for one chunk).
    pub fn max_verify(&self) -> usize {
        Self::MAX_VERIFY.min(self.session.chunk)
    }

    /// Run `tokens` (at most [`Decoder::max_verify`]) from
    /// position `pos` in one pass and write the greedy pick after each of them to `picks`:
    /// the same ids, bit for bit, as feeding them one at a time to [`Decoder::forward`] and
    /// taking each argmax, because up to this size every row takes the one-token kernels.
    /// Speculative decoding checks a draft with it.
    pub fn forward_argmax_each(
        &mut self,
        tokens: &[u32],
        pos: usize,
        picks: &mut Vec<u32>,
    ) -> Result<()> {
        let n = tokens.len();
        if n > self.max_verify() {
            return Err(EngineError::TooManyToVerify {
                tokens: n,
                most: self.max_verify(),
            });
        }
        self.session.check_room(&self.model, n, pos)?;
        self.run_chunk(tokens, pos)?;
        let vocab = self.vocab_size();
        let s = &mut self.session;
        if s.verify_logits.len() < n * vocab {
            s.verify_logits.resize(n * vocab, 0.0);
        }
        graph::logits_of(
            &self.model,
            &mut s.s,
            0..n,
            &mut s.verify_logits[..n * vocab],
        );
        picks.clear();
        picks.extend(
            s.verify_logits[..n * vocab]
                .chunks_exact(vocab)
                .map(crate::generate::sampler::argmax),
        );
        Ok(())
    }

    /// Run `tokens` from position `pos`, handing the logits of every position to `f` in order.
    /// For reference comparisons and scoring given text.
    pub fn forward_each(
        &mut self,
        tokens: &[u32],
        pos: usize,
        f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        self.forward_each_from(tokens, pos, 0, f)
    }

    /// [`Decoder::forward_each`] for the positions from `first` on only: the output projection
    /// of the others, a sixth of a small model's work per token, is skipped.
    pub fn forward_each_from(
        &mut self,
        tokens: &[u32],
        pos: usize,
        first: usize,
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        self.session.check_room(&self.model, tokens.len(), pos)?;
        let (vocab, chunk) = (self.vocab_size(), self.session.chunk);
        let rows = chunk.min(tokens.len().saturating_sub(first).max(1));
        let mut chunk_logits = vec![0.0; rows * vocab];
        let mut start = 0;
        while start < tokens.len() {
            let end = (start + chunk).min(tokens.len());
            self.run_chunk(&tokens[start..end], pos + start)?;
            // Rows of this chunk at or past `first`, at most `rows` of them at a time.
            let mut row = first.max(start) - start;
            while row < end - start {
                let n = (end - start - row).min(rows);
                graph::logits_of(
                    &self.model,
                    &mut self.session.s,
                    row..row + n,
                    &mut chunk_logits[..n * vocab],
                );
                for t in 0..n {
                    f(start + row + t, &chunk_logits[t * vocab..(t + 1) * vocab]);
                }
                row += n;
            }
            start = end;
        }
        Ok(())
    }

    /// One chunk through every layer, noting which tokens the caches now hold.
    fn run_chunk(&mut self, tokens: &[u32], pos0: usize) -> Result<()> {
        let s = &mut self.session;
        // Positions from `pos0` on are being replaced; a chunk that fails leaves them unknown.
        s.history.truncate(pos0);
        if s.prompt_logits_at.is_some_and(|at| at >= pos0) {
            s.prompt_logits_at = None;
        }
        let known = s.history.len() == pos0;
        graph::compute_chunk(&self.model, s, tokens, Rows::Sequence(pos0))?;
        s.written = s.written.max(pos0 + tokens.len());
        if known {
            s.history.extend_from_slice(tokens);
        }
        Ok(())
    }
}
