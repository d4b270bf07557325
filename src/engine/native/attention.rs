//! Self-attention over a preallocated KV cache. Sliding-window layers keep a ring of just the
//! window (plus one prefill chunk), so their memory does not grow with the request.

use super::ops::{axpy, dot, softmax};
use super::pool::{chunk_for, for_each_chunk, SharedMut};

/// Keys and values of one layer, laid out `[kv_head][slot][head_dim]` so a head's history is
/// contiguous.
pub(crate) struct LayerCache {
    k: Vec<f32>,
    v: Vec<f32>,
    /// Slots per head; position `p` lives in slot `p % slots`.
    slots: usize,
    /// Attend only to the last `window` positions (sliding-window layers).
    window: Option<usize>,
}

/// Shapes shared by all layers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub k_dim: usize,
    pub v_dim: usize,
}

impl LayerCache {
    /// A cache for `positions` positions; a sliding-window layer needs at most `window + chunk`
    /// slots however long the request.
    pub(crate) fn new(
        heads: Heads,
        positions: usize,
        window: Option<usize>,
        chunk: usize,
    ) -> LayerCache {
        let slots = match window {
            Some(w) => positions.min(w + chunk),
            None => positions,
        };
        LayerCache {
            k: vec![0.0; heads.n_kv_head * slots * heads.k_dim],
            v: vec![0.0; heads.n_kv_head * slots * heads.v_dim],
            slots,
            window,
        }
    }

    /// Store one token's keys and values (`n_kv_head x dim`) at position `pos`.
    pub(crate) fn store(&mut self, heads: Heads, pos: usize, k: &[f32], v: &[f32]) {
        let slot = pos % self.slots;
        for g in 0..heads.n_kv_head {
            let dst = (g * self.slots + slot) * heads.k_dim;
            self.k[dst..dst + heads.k_dim]
                .copy_from_slice(&k[g * heads.k_dim..(g + 1) * heads.k_dim]);
            let dst = (g * self.slots + slot) * heads.v_dim;
            self.v[dst..dst + heads.v_dim]
                .copy_from_slice(&v[g * heads.v_dim..(g + 1) * heads.v_dim]);
        }
    }

    /// Attention for `n` tokens at positions `pos0..pos0 + n`, whose keys and values are
    /// already stored. `q` is `n x n_head x k_dim`, pre-scaled; `out` is `n x n_head x v_dim`.
    /// `scores` is per-thread scratch of `threads x scores_len` values.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attend(
        &self,
        heads: Heads,
        pos0: usize,
        n: usize,
        q: &[f32],
        out: &mut [f32],
        scores: &mut [f32],
        scores_len: usize,
    ) {
        let group = heads.n_head / heads.n_kv_head;
        let out_ptr = SharedMut(out.as_mut_ptr());
        let scores_ptr = SharedMut(scores.as_mut_ptr());
        let items = n * heads.n_head;
        for_each_chunk(items, chunk_for(items, 2), |thread, range| {
            // SAFETY: each thread has its own scores row, and each item its own output head.
            let s_all = unsafe { scores_ptr.slice(thread * scores_len, scores_len) };
            for item in range {
                let (t, h) = (item / heads.n_head, item % heads.n_head);
                let pos = pos0 + t;
                let first = match self.window {
                    Some(w) => (pos + 1).saturating_sub(w),
                    None => 0,
                };
                let len = pos + 1 - first;
                let g = h / group;
                let qh = &q[(t * heads.n_head + h) * heads.k_dim..][..heads.k_dim];
                let s = &mut s_all[..len];
                for (j, sj) in s.iter_mut().enumerate() {
                    let slot = (first + j) % self.slots;
                    *sj = dot(
                        qh,
                        &self.k[(g * self.slots + slot) * heads.k_dim..][..heads.k_dim],
                    );
                }
                softmax(s);
                let o = unsafe { out_ptr.slice((t * heads.n_head + h) * heads.v_dim, heads.v_dim) };
                o.fill(0.0);
                for (j, &w) in s.iter().enumerate() {
                    let slot = (first + j) % self.slots;
                    axpy(
                        o,
                        w,
                        &self.v[(g * self.slots + slot) * heads.v_dim..][..heads.v_dim],
                    );
                }
            }
        });
    }

    /// The longest attention span (scores needed per query).
    pub(crate) fn span(&self, positions: usize) -> usize {
        match self.window {
            Some(w) => w.min(positions),
            None => positions,
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        (self.k.len() + self.v.len()) * std::mem::size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads() -> Heads {
        Heads {
            n_head: 2,
            n_kv_head: 1,
            k_dim: 2,
            v_dim: 2,
        }
    }

    #[test]
    fn one_position_returns_its_value() {
        let mut c = LayerCache::new(heads(), 4, None, 4);
        c.store(heads(), 0, &[1.0, 0.0], &[5.0, 7.0]);
        let mut out = vec![0.0; 4];
        let mut scores = vec![0.0; crate::engine::native::pool::n_threads() * 4];
        c.attend(
            heads(),
            0,
            1,
            &[1.0, 0.0, 0.0, 1.0],
            &mut out,
            &mut scores,
            4,
        );
        assert_eq!(out, [5.0, 7.0, 5.0, 7.0]);
    }

    #[test]
    fn sliding_window_sees_only_the_window_and_ring_reuses_slots() {
        let h = heads();
        // Window 2, chunk 1: three slots.
        let mut c = LayerCache::new(h, 100, Some(2), 1);
        assert_eq!(c.slots, 3);
        for p in 0..10 {
            c.store(h, p, &[0.0, 0.0], &[p as f32, 0.0]);
        }
        // Equal scores, so the output is the mean of the values in the window: (8 + 9) / 2.
        let mut out = vec![0.0; 4];
        let mut scores = vec![0.0; crate::engine::native::pool::n_threads() * 4];
        c.attend(h, 9, 1, &[1.0, 0.0, 1.0, 0.0], &mut out, &mut scores, 4);
        assert_eq!(out[0], 8.5);
        assert_eq!(out[2], 8.5);
    }
}
