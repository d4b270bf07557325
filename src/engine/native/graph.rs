//! The computation of one chunk of rows through the network: embedding, then per layer the
//! attention block and the feed-forward block, and the output projection when asked.

use super::error::{EngineError, Result};
use super::matmul::{matmul, Product};
use super::model::Model;
use super::ops;
use super::pool::{for_each_chunk, SharedMut};
use super::session::{Scratch, Session};
use super::weights::Layer;

/// What the rows of a chunk are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rows<'a> {
    /// Consecutive tokens of the sequence, the first at this position.
    Sequence(usize),
    /// One token for each beam of a beam search, all at this position.
    Beams(usize),
    /// One token for each of several sequences: row `t` belongs to the sequence in cache slot
    /// `slots[t]` and sits at its position `positions[t]`.
    Slots {
        slots: &'a [usize],
        positions: &'a [usize],
    },
}

impl Rows<'_> {
    fn position(self, t: usize) -> usize {
        match self {
            Rows::Sequence(pos0) => pos0 + t,
            Rows::Beams(pos) => pos,
            Rows::Slots { positions, .. } => positions[t],
        }
    }

    /// The slot cache row `t` reads and writes, for rows that each have their own.
    fn slot(self, t: usize) -> Option<usize> {
        match self {
            Rows::Sequence(_) => None,
            Rows::Beams(_) => Some(t),
            Rows::Slots { slots, .. } => Some(slots[t]),
        }
    }
}

/// One chunk through every layer; leaves the final hidden states in `s.x`.
pub(super) fn compute_chunk(
    model: &Model,
    session: &mut Session,
    tokens: &[u32],
    rows: Rows,
) -> Result<()> {
    embed(model, &mut session.s, tokens)?;
    rope_tables(model, &mut session.s, tokens.len(), rows);
    for l in 0..model.layers.len() {
        attention_block(model, session, l, tokens.len(), rows);
        ffn_block(&model.layers[l], model, &mut session.s, tokens.len());
    }
    Ok(())
}

/// Token embeddings into `s.x`.
fn embed(model: &Model, s: &mut Scratch, tokens: &[u32]) -> Result<()> {
    let (e, embd) = (model.cfg.n_embd, &model.embd);
    for (t, &tok) in tokens.iter().enumerate() {
        if tok as usize >= embd.rows {
            return Err(EngineError::TokenOutOfVocab {
                token: tok,
                vocab: embd.rows,
            });
        }
        embd.row_to_f32(tok as usize, &mut s.x[t * e..(t + 1) * e]);
    }
    if model.cfg.family.scale_embeddings {
        let k = (e as f32).sqrt();
        s.x[..tokens.len() * e].iter_mut().for_each(|v| *v *= k);
    }
    Ok(())
}

/// RoPE angles for the chunk's positions only, for global and (where used) windowed layers.
fn rope_tables(model: &Model, s: &mut Scratch, n: usize, rows: Rows) {
    let half = model.cfg.n_rot / 2;
    let windowed = model.cfg.windowed.iter().any(|&w| w);
    for t in 0..n {
        let p = rows.position(t);
        let row = t * half..(t + 1) * half;
        ops::rope_table(
            p..p + 1,
            &model.freqs,
            &mut s.cos[row.clone()],
            &mut s.sin[row.clone()],
        );
        if windowed {
            ops::rope_table(
                p..p + 1,
                &model.window_freqs,
                &mut s.cos_w[row.clone()],
                &mut s.sin_w[row],
            );
        }
    }
}

/// Layer `l`'s attention block: norm, Q/K/V, rotary embedding, the cache, attention, output
/// projection, residual.
fn attention_block(model: &Model, session: &mut Session, l: usize, n: usize, rows: Rows) {
    let (c, layer, heads) = (&model.cfg, &model.layers[l], model.heads());
    let Session {
        caches, beams, s, ..
    } = session;
    let cache = &mut caches[l];
    let e = c.n_embd;
    let (qd, kd, vd) = (
        c.n_head * c.k_dim,
        c.n_kv_head * c.k_dim,
        c.n_kv_head * c.v_dim,
    );
    let ad = c.n_head * c.v_dim;
    let half = c.n_rot / 2;
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
        let pos = rows.position(t);
        match rows.slot(t) {
            None => cache.store(heads, pos, k, v),
            Some(slot) => beams.cache(l, slot).store(heads, pos, k, v),
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
        Rows::Beams(_) | Rows::Slots { .. } => {
            for t in 0..n {
                let slot = rows.slot(t).expect("beam and slot rows have a cache each");
                beams.cache(l, slot).attend(
                    heads,
                    rows.position(t),
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
}

/// A layer's feed-forward block: norm, gate and up, the gated activation, down, residual.
fn ffn_block(layer: &Layer, model: &Model, s: &mut Scratch, n: usize) {
    let c = &model.cfg;
    let (e, ff) = (c.n_embd, c.n_ff);
    ops::rms_norm(&s.x[..n * e], &layer.ffn_norm, c.eps, &mut s.xn[..n * e]);
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
    gated(&mut s.gate[..n * ff], &s.up[..n * ff], c.family.activation);
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

/// Elements per work item of the gated activation; a prompt chunk's (tens of thousands of
/// `exp` or `tanh` calls per layer) is split over the pool, a decode step's runs in place.
const GATED_ITEM: usize = 4096;

/// [`ops::gated`] over the thread pool.
fn gated(gate: &mut [f32], up: &[f32], act: ops::Activation) {
    let len = gate.len();
    let out = SharedMut(gate.as_mut_ptr());
    for_each_chunk(len.div_ceil(GATED_ITEM), 1, |_, items| {
        let start = items.start * GATED_ITEM;
        let end = (items.end * GATED_ITEM).min(len);
        // SAFETY: each item owns elements start..end of `gate`.
        let g = unsafe { out.slice(start, end - start) };
        ops::gated(g, &up[start..end], act);
    });
}

/// Final norm and output projection for chunk rows `rows`, into `out`.
pub(super) fn logits_of(
    model: &Model,
    s: &mut Scratch,
    rows: std::ops::Range<usize>,
    out: &mut [f32],
) {
    let e = model.cfg.n_embd;
    let n = rows.len();
    let (x, xn) = (&s.x[rows.start * e..rows.end * e], &mut s.xn[..n * e]);
    ops::rms_norm(x, &model.output_norm, model.cfg.eps, xn);
    let out = &mut out[..n * model.output.rows];
    matmul(
        xn,
        n,
        &mut [Product {
            w: &model.output,
            out,
        }],
        &mut s.act,
    );
    if let Some(cap) = model.cfg.final_softcap {
        for v in out.iter_mut() {
            *v = (*v / cap).tanh() * cap;
        }
    }
}
