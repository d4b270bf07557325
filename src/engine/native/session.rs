//! One request's state: the KV caches, which tokens they hold, and the working buffers, all
//! sized once per request by `reserve` and reused for every chunk and token.

use super::attention;
use super::beams::Beams;
use super::error::{EngineError, Result};
use super::kv_cache::LayerCache;
use super::matmul::ActBuffers;
use super::model::Model;
use super::pool;

/// The caches grow in whole blocks of this many positions.
const RESERVE_BLOCK: usize = 256;

/// A request's caches and buffers, for one model.
pub(super) struct Session {
    /// Tokens per prefill step.
    pub(super) chunk: usize,
    /// Positions the caches and scratch are sized for.
    pub(super) positions: usize,
    pub(super) caches: Vec<LayerCache>,
    /// The tokens whose keys and values fill positions `0..history.len()` of the caches, so a
    /// later request that starts with them can keep them; empty when unknown.
    pub(super) history: Vec<u32>,
    /// Positions written since the caches were allocated (sliding windows may have wrapped).
    pub(super) written: usize,
    pub(super) s: Scratch,
    pub(super) logits: Vec<f32>,
    /// The logits of the last position of the last prompt (a call of two or more tokens),
    /// and that position: a request whose whole prompt the caches already hold gets them back
    /// instead of running its last token alone, which would take the one-token products
    /// (rounding activations differently from the prompt products) and could flip a near tie.
    /// So the same request twice gives the same answer.
    pub(super) prompt_logits: Vec<f32>,
    pub(super) prompt_logits_at: Option<usize>,
    /// The beams of a beam search, see `beams.rs`.
    pub(super) beams: Beams,
    /// Logits of every position of a draft check (`forward_argmax_each`), `[token][vocab]`.
    pub(super) verify_logits: Vec<f32>,
}

/// Working buffers of the layers.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) x: Vec<f32>,
    pub(super) xn: Vec<f32>,
    pub(super) q: Vec<f32>,
    pub(super) k: Vec<f32>,
    pub(super) v: Vec<f32>,
    pub(super) att: Vec<f32>,
    pub(super) o: Vec<f32>,
    pub(super) gate: Vec<f32>,
    pub(super) up: Vec<f32>,
    pub(super) cos: Vec<f32>,
    pub(super) sin: Vec<f32>,
    pub(super) cos_w: Vec<f32>,
    pub(super) sin_w: Vec<f32>,
    pub(super) scores: Vec<f32>,
    pub(super) scores_len: usize,
    pub(super) act: ActBuffers,
}

impl Session {
    /// An empty session for `model`, prefilling `chunk` tokens per step.
    pub(super) fn new(model: &Model, chunk: usize) -> Session {
        Session {
            chunk: chunk.max(1),
            positions: 0,
            caches: Vec::new(),
            history: Vec::new(),
            written: 0,
            s: Scratch::default(),
            logits: vec![0.0; model.vocab_size()],
            prompt_logits: vec![0.0; model.vocab_size()],
            prompt_logits_at: None,
            beams: Beams::default(),
            verify_logits: Vec::new(),
        }
    }

    /// Change the prefill chunk; drops the caches.
    pub(super) fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.max(1);
        self.positions = 0;
        self.caches.clear();
        self.forget();
    }

    /// Forget which tokens the caches hold.
    pub(super) fn forget(&mut self) {
        self.history.clear();
        self.written = 0;
        self.beams.end();
        self.prompt_logits_at = None;
    }

    /// Keep the logits just computed as those of the prompt position `pos`.
    pub(super) fn remember_prompt_logits(&mut self, pos: usize) {
        self.prompt_logits.copy_from_slice(&self.logits);
        self.prompt_logits_at = Some(pos);
    }

    /// If running `token` at `pos` would recompute the remembered prompt position (same token,
    /// same tokens before it, still in the caches), put its logits back and say so.
    pub(super) fn replay_prompt_logits(&mut self, token: u32, pos: usize) -> bool {
        let hit = self.prompt_logits_at == Some(pos)
            && self.history.get(pos) == Some(&token)
            && self.caches.iter().all(|c| c.holds(pos + 1, self.written));
        if hit {
            self.history.truncate(pos + 1);
            self.logits.copy_from_slice(&self.prompt_logits);
        }
        hit
    }

    /// How many leading `tokens` the caches already hold from earlier requests.
    pub(super) fn cached_prefix(&self, tokens: &[u32]) -> usize {
        let keep = self
            .history
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        match self.caches.iter().all(|c| c.holds(keep, self.written)) {
            true => keep,
            false => 0,
        }
    }

    /// Size the caches and scratch for `positions` positions; a cache that is large enough is
    /// reused, and one that grows keeps the positions it holds.
    pub(super) fn reserve(&mut self, model: &Model, positions: usize) {
        if positions <= self.positions {
            return;
        }
        // Beams forked from the old caches do not fit the grown ones.
        self.beams.end();
        // Whole blocks, so that the next request of a similar length finds the cache large
        // enough and can keep the opening it shares with this one.
        let c = &model.cfg;
        let positions = positions
            .next_multiple_of(RESERVE_BLOCK)
            .min(c.context_length.max(positions));
        let (heads, chunk) = (model.heads(), self.chunk);
        self.history.reserve(positions - self.history.len());
        match self.caches.is_empty() {
            true => {
                self.caches = (0..c.n_layer)
                    .map(|l| {
                        LayerCache::new(heads, positions, c.window.filter(|_| c.windowed[l]), chunk)
                    })
                    .collect()
            }
            false => self
                .caches
                .iter_mut()
                .for_each(|cache| cache.grow(heads, positions, chunk)),
        }
        let s = &mut self.s;
        let half = c.n_rot / 2;
        s.x = vec![0.0; chunk * c.n_embd];
        s.xn = vec![0.0; chunk * c.n_embd];
        s.o = vec![0.0; chunk * c.n_embd];
        s.q = vec![0.0; chunk * c.n_head * c.k_dim];
        s.k = vec![0.0; chunk * c.n_kv_head * c.k_dim];
        s.v = vec![0.0; chunk * c.n_kv_head * c.v_dim];
        s.att = vec![0.0; chunk * c.n_head * c.v_dim];
        s.gate = vec![0.0; chunk * c.n_ff];
        s.up = vec![0.0; chunk * c.n_ff];
        s.cos = vec![0.0; chunk * half];
        s.sin = vec![0.0; chunk * half];
        s.cos_w = vec![0.0; chunk * half];
        s.sin_w = vec![0.0; chunk * half];
        let span = self
            .caches
            .iter()
            .map(|c| c.span(positions))
            .max()
            .unwrap_or(0);
        s.scores_len =
            (span * (c.n_head / c.n_kv_head)).max(attention::block_scratch(heads, positions));
        s.scores = vec![0.0; pool::n_threads() * s.scores_len];
        s.act
            .reserve_panels(c.n_embd.max(c.n_ff).max(c.n_head * c.v_dim));
        // Zeroed pages are only touched (and counted as memory) by a draft check.
        let verify = super::Decoder::MAX_VERIFY.min(chunk) * model.vocab_size();
        if self.verify_logits.len() < verify {
            self.verify_logits = vec![0.0; verify];
        }
        self.positions = positions;
    }

    /// Bytes held by the KV caches.
    pub(super) fn cache_bytes(&self) -> usize {
        self.caches.iter().map(LayerCache::bytes).sum::<usize>() + self.beams.bytes()
    }

    /// Check that `n` tokens fit from position `pos`; a fresh request larger than reserved is
    /// sized for, with room to generate.
    pub(super) fn check_room(&mut self, model: &Model, n: usize, pos: usize) -> Result<()> {
        if n == 0 {
            return Err(EngineError::NoTokens);
        }
        if pos == 0 && pos + n > self.positions {
            self.reserve(model, (n + 256).min(model.cfg.context_length.max(n)));
        }
        if pos + n > self.positions {
            return Err(EngineError::PastReserved {
                position: pos + n,
                reserved: self.positions,
            });
        }
        Ok(())
    }
}
