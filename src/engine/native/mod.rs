//! The crate's own decoder: one transformer for llama, qwen2, qwen3 and gemma3 GGUF files,
//! run from the memory-mapped weights with every buffer sized once per request.

mod attention;
mod beams;
mod config;
mod kquant;
mod matmul;
mod ops;
pub(crate) mod pool;
mod weights;

use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;

use attention::{Heads, LayerCache};
pub(crate) use config::family_names;
use config::Config;
use matmul::{matmul, ActBuffers, Product, QMatrix};
use weights::{Layer, Tensors};

/// Tokens per prefill step: bounds the scratch memory of a long prompt.
pub const DEFAULT_CHUNK: usize = 256;
/// The caches grow in whole blocks of this many positions.
const RESERVE_BLOCK: usize = 256;

/// A loaded model and the buffers of its current request.
pub struct Decoder {
    cfg: Config,
    embd: QMatrix,
    output: QMatrix,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    freqs: Vec<f32>,
    window_freqs: Vec<f32>,
    chunk: usize,
    /// Positions the caches and scratch are sized for.
    positions: usize,
    caches: Vec<LayerCache>,
    /// The tokens whose keys and values fill positions `0..history.len()` of the caches, so a
    /// later request that starts with them can keep them; empty when unknown.
    history: Vec<u32>,
    /// Positions written since the caches were allocated (sliding windows may have wrapped).
    written: usize,
    s: Scratch,
    logits: Vec<f32>,
    /// The beams of a beam search, see `beams.rs`.
    beams: beams::Beams,
    /// The mapped file; declared last so it is dropped after every view into it.
    _map: Mmap,
}

/// What the rows of a chunk are.
#[derive(Debug, Clone, Copy)]
enum Rows {
    /// Consecutive tokens of the sequence, the first at this position.
    Sequence(usize),
    /// One token for each beam of a beam search, all at this position.
    Beams(usize),
}

impl Rows {
    fn position(self, t: usize) -> usize {
        match self {
            Rows::Sequence(pos0) => pos0 + t,
            Rows::Beams(pos) => pos,
        }
    }
}

/// Working buffers, sized by `Decoder::reserve` and reused for every chunk and token.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    o: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    cos_w: Vec<f32>,
    sin_w: Vec<f32>,
    scores: Vec<f32>,
    scores_len: usize,
    act: ActBuffers,
}

impl Decoder {
    /// Build the decoder for `arch` over the mapped file `map`, whose header is `content`.
    pub fn load(path: &Path, map: Mmap, content: &Content, arch: &str) -> Result<Decoder, String> {
        let cfg = Config::from_gguf(content, arch)?;
        let t = Tensors::new(&map, content, path);
        let embd = t.matrix("token_embd.weight", None, Some(cfg.n_embd))?;
        let output = match t.has("output.weight") {
            true => t.matrix("output.weight", Some(embd.rows), Some(cfg.n_embd))?,
            false => embd,
        };
        let output_norm = t.vector("output_norm.weight", cfg.n_embd)?;
        let factors = match t.has("rope_freqs.weight") {
            true => Some(t.vector("rope_freqs.weight", cfg.n_rot / 2)?),
            false => None,
        };
        let layers = (0..cfg.n_layer)
            .map(|l| Layer::load(&t, &cfg, l))
            .collect::<Result<Vec<_>, _>>()?;
        let freqs = ops::inv_freqs(cfg.n_rot, cfg.rope_base, cfg.rope_scale, factors.as_deref());
        let window_freqs = ops::inv_freqs(cfg.n_rot, cfg.window_rope_base, 1.0, factors.as_deref());
        let vocab = output.rows;
        let mut decoder = Decoder {
            cfg,
            embd,
            output,
            output_norm,
            layers,
            freqs,
            window_freqs,
            chunk: DEFAULT_CHUNK,
            positions: 0,
            caches: Vec::new(),
            history: Vec::new(),
            written: 0,
            s: Scratch::default(),
            logits: vec![0.0; vocab],
            beams: beams::Beams::default(),
            _map: map,
        };
        decoder.set_chunk(DEFAULT_CHUNK);
        Ok(decoder)
    }

    /// Open a GGUF file and build its decoder (no tokenizer): for tools and tests.
    pub fn open(path: &Path) -> Result<Decoder, String> {
        let gguf = super::GgufFile::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Decoder::load(path, gguf.map, &gguf.content, &gguf.architecture)
    }

    /// The context length the file declares.
    pub fn context_length(&self) -> usize {
        self.cfg.context_length
    }

    /// Vocabulary size (rows of the output matrix).
    pub fn vocab_size(&self) -> usize {
        self.output.rows
    }

    /// Change the prefill chunk (tokens per step); drops the current request's cache.
    pub fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.max(1);
        self.positions = 0;
        self.caches.clear();
        self.forget();
    }

    /// Forget which tokens the caches hold; the next request recomputes all of its prompt.
    pub fn forget(&mut self) {
        self.history.clear();
        self.written = 0;
        self.beams.end();
    }

    /// How many leading `tokens` already have their keys and values in the caches, from
    /// earlier requests, and can stay there (growing the caches keeps them).
    pub fn cached_prefix(&self, tokens: &[u32]) -> usize {
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

    fn heads(&self) -> Heads {
        Heads {
            n_head: self.cfg.n_head,
            n_kv_head: self.cfg.n_kv_head,
            k_dim: self.cfg.k_dim,
            v_dim: self.cfg.v_dim,
        }
    }

    /// Size the KV cache and scratch for a request of `positions` positions. Called before a
    /// request, this is the only allocation of the request; a cache that is large enough is
    /// reused, and one that grows keeps the positions it holds.
    pub fn reserve(&mut self, positions: usize) {
        if positions <= self.positions {
            return;
        }
        // Beams forked from the old caches do not fit the grown ones.
        self.beams.end();
        // Whole blocks, so that the next request of a similar length finds the cache large
        // enough and can keep the opening it shares with this one.
        let positions = positions
            .next_multiple_of(RESERVE_BLOCK)
            .min(self.cfg.context_length.max(positions));
        let (heads, chunk) = (self.heads(), self.chunk);
        self.history.reserve(positions - self.history.len());
        let c = &self.cfg;
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
        self.positions = positions;
    }

    /// Bytes held by the KV cache.
    pub fn cache_bytes(&self) -> usize {
        self.caches.iter().map(LayerCache::bytes).sum::<usize>() + self.beams.bytes()
    }

    fn check_room(&mut self, n: usize, pos: usize) -> Result<(), String> {
        if n == 0 {
            return Err("no tokens to run".into());
        }
        if pos == 0 && pos + n > self.positions {
            // A fresh request larger than reserved: size for it, with room to generate.
            self.reserve((n + 256).min(self.cfg.context_length.max(n)));
        }
        if pos + n > self.positions {
            return Err(format!(
                "position {} is past the {} reserved for this request; reserve more first",
                pos + n,
                self.positions
            ));
        }
        Ok(())
    }

    /// Run `tokens` from position `pos` and return the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32], String> {
        self.check_room(tokens.len(), pos)?;
        let mut start = 0;
        while start < tokens.len() {
            let end = (start + self.chunk).min(tokens.len());
            self.run_chunk(&tokens[start..end], pos + start)?;
            start = end;
        }
        let last = (tokens.len() - 1) % self.chunk;
        let mut logits = std::mem::take(&mut self.logits);
        self.logits_of(last..last + 1, &mut logits);
        self.logits = logits;
        Ok(&self.logits)
    }

    /// Run `tokens` from position `pos`, handing the logits of every position to `f` in order.
    /// For reference comparisons and scoring given text.
    pub fn forward_each(
        &mut self,
        tokens: &[u32],
        pos: usize,
        f: impl FnMut(usize, &[f32]),
    ) -> Result<(), String> {
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
    ) -> Result<(), String> {
        self.check_room(tokens.len(), pos)?;
        let vocab = self.vocab_size();
        let rows = self.chunk.min(tokens.len().saturating_sub(first).max(1));
        let mut chunk_logits = vec![0.0; rows * vocab];
        let mut start = 0;
        while start < tokens.len() {
            let end = (start + self.chunk).min(tokens.len());
            self.run_chunk(&tokens[start..end], pos + start)?;
            // Rows of this chunk at or past `first`, at most `rows` of them at a time.
            let mut row = first.max(start) - start;
            while row < end - start {
                let n = (end - start - row).min(rows);
                self.logits_of(row..row + n, &mut chunk_logits[..n * vocab]);
                for t in 0..n {
                    f(start + row + t, &chunk_logits[t * vocab..(t + 1) * vocab]);
                }
                row += n;
            }
            start = end;
        }
        Ok(())
    }

    /// Final norm and output projection for chunk rows `rows`, into `out`.
    fn logits_of(&mut self, rows: std::ops::Range<usize>, out: &mut [f32]) {
        let e = self.cfg.n_embd;
        let n = rows.len();
        let (x, xn) = (
            &self.s.x[rows.start * e..rows.end * e],
            &mut self.s.xn[..n * e],
        );
        ops::rms_norm(x, &self.output_norm, self.cfg.eps, xn);
        let out = &mut out[..n * self.output.rows];
        matmul(
            xn,
            n,
            &mut [Product {
                w: &self.output,
                out,
            }],
            &mut self.s.act,
        );
        if let Some(cap) = self.cfg.final_softcap {
            for v in out.iter_mut() {
                *v = (*v / cap).tanh() * cap;
            }
        }
    }

    /// One chunk through every layer, noting which tokens the caches now hold.
    fn run_chunk(&mut self, tokens: &[u32], pos0: usize) -> Result<(), String> {
        // Positions from `pos0` on are being replaced; a chunk that fails leaves them unknown.
        self.history.truncate(pos0);
        let known = self.history.len() == pos0;
        self.compute_chunk(tokens, Rows::Sequence(pos0))?;
        self.written = self.written.max(pos0 + tokens.len());
        if known {
            self.history.extend_from_slice(tokens);
        }
        Ok(())
    }

    /// One chunk through every layer; leaves the final hidden states in `s.x`.
    fn compute_chunk(&mut self, tokens: &[u32], rows: Rows) -> Result<(), String> {
        let heads = self.heads();
        let Decoder {
            cfg: c,
            embd,
            layers,
            freqs,
            window_freqs,
            caches,
            beams,
            s,
            ..
        } = self;
        let (n, e) = (tokens.len(), c.n_embd);
        for (t, &tok) in tokens.iter().enumerate() {
            if tok as usize >= embd.rows {
                return Err(format!(
                    "token id {tok} is outside the vocabulary of {}",
                    embd.rows
                ));
            }
            embd.row_to_f32(tok as usize, &mut s.x[t * e..(t + 1) * e]);
        }
        if c.family.scale_embeddings {
            let k = (e as f32).sqrt();
            s.x[..n * e].iter_mut().for_each(|v| *v *= k);
        }
        let half = c.n_rot / 2;
        let windowed = c.windowed.iter().any(|&w| w);
        for t in 0..n {
            let p = rows.position(t);
            let row = t * half..(t + 1) * half;
            ops::rope_table(
                p..p + 1,
                freqs,
                &mut s.cos[row.clone()],
                &mut s.sin[row.clone()],
            );
            if windowed {
                ops::rope_table(
                    p..p + 1,
                    window_freqs,
                    &mut s.cos_w[row.clone()],
                    &mut s.sin_w[row],
                );
            }
        }
        let (qd, kd, vd) = (
            c.n_head * c.k_dim,
            c.n_kv_head * c.k_dim,
            c.n_kv_head * c.v_dim,
        );
        let ad = c.n_head * c.v_dim;
        for (l, (layer, cache)) in layers.iter().zip(caches.iter_mut()).enumerate() {
            ops::rms_norm(&s.x[..n * e], &layer.attn_norm, c.eps, &mut s.xn[..n * e]);
            matmul(
                &s.xn[..n * e],
                n,
                &mut [
                    Product {
                        w: &layer.q,
                        out: &mut s.q[..n * qd],
                    },
                    Product {
                        w: &layer.k,
                        out: &mut s.k[..n * kd],
                    },
                    Product {
                        w: &layer.v,
                        out: &mut s.v[..n * vd],
                    },
                ],
                &mut s.act,
            );
            let (cos, sin) = match layer.windowed {
                true => (&s.cos_w, &s.sin_w),
                false => (&s.cos, &s.sin),
            };
            for t in 0..n {
                let q = &mut s.q[t * qd..(t + 1) * qd];
                let k = &mut s.k[t * kd..(t + 1) * kd];
                let v = &mut s.v[t * vd..(t + 1) * vd];
                if let Some(b) = &layer.q_bias {
                    ops::add(q, b);
                }
                if let Some(b) = &layer.k_bias {
                    ops::add(k, b);
                }
                if let Some(b) = &layer.v_bias {
                    ops::add(v, b);
                }
                if let Some(w) = &layer.q_norm {
                    ops::rms_norm_in_place(q, w, c.eps);
                }
                if let Some(w) = &layer.k_norm {
                    ops::rms_norm_in_place(k, w, c.eps);
                }
                let (ct, st) = (
                    &cos[t * half..(t + 1) * half],
                    &sin[t * half..(t + 1) * half],
                );
                ops::rope(q, c.k_dim, c.family.rope, ct, st);
                ops::rope(k, c.k_dim, c.family.rope, ct, st);
                q.iter_mut().for_each(|v| *v *= c.attn_scale);
                match rows {
                    Rows::Sequence(pos0) => cache.store(heads, pos0 + t, k, v),
                    Rows::Beams(pos) => beams.cache(l, t).store(heads, pos, k, v),
                }
            }
            match rows {
                Rows::Sequence(pos0) => cache.attend(
                    heads,
                    pos0,
                    n,
                    &s.q[..n * qd],
                    &mut s.att[..n * ad],
                    &mut s.scores,
                    s.scores_len,
                ),
                Rows::Beams(pos) => {
                    for t in 0..n {
                        beams.cache(l, t).attend(
                            heads,
                            pos,
                            1,
                            &s.q[t * qd..(t + 1) * qd],
                            &mut s.att[t * ad..(t + 1) * ad],
                            &mut s.scores,
                            s.scores_len,
                        );
                    }
                }
            }
            matmul(
                &s.att[..n * ad],
                n,
                &mut [Product {
                    w: &layer.o,
                    out: &mut s.o[..n * e],
                }],
                &mut s.act,
            );
            if let Some(w) = &layer.post_attn_norm {
                ops::rms_norm_in_place(&mut s.o[..n * e], w, c.eps);
            }
            ops::add(&mut s.x[..n * e], &s.o[..n * e]);

            ops::rms_norm(&s.x[..n * e], &layer.ffn_norm, c.eps, &mut s.xn[..n * e]);
            let ff = c.n_ff;
            matmul(
                &s.xn[..n * e],
                n,
                &mut [
                    Product {
                        w: &layer.gate,
                        out: &mut s.gate[..n * ff],
                    },
                    Product {
                        w: &layer.up,
                        out: &mut s.up[..n * ff],
                    },
                ],
                &mut s.act,
            );
            ops::gated(&mut s.gate[..n * ff], &s.up[..n * ff], c.family.activation);
            matmul(
                &s.gate[..n * ff],
                n,
                &mut [Product {
                    w: &layer.down,
                    out: &mut s.o[..n * e],
                }],
                &mut s.act,
            );
            if let Some(w) = &layer.post_ffn_norm {
                ops::rms_norm_in_place(&mut s.o[..n * e], w, c.eps);
            }
            ops::add(&mut s.x[..n * e], &s.o[..n * e]);
        }
        Ok(())
    }
}
