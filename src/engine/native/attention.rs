//! Self-attention over a preallocated KV cache. Sliding-window layers keep a ring of just the
//! window (plus one prefill chunk), so their memory does not grow with the request.

use super::ops::{self, axpy, dot};
use super::pool::{chunk_for, for_each_chunk, SharedMut};

/// Keys and values of one layer, laid out `[kv_head][slot][head_dim]` so a head's history is
/// contiguous.
#[derive(Clone)]
pub(crate) struct LayerCache {
    k: Vec<f32>,
    v: Vec<f32>,
    /// Slots per head; position `p` lives in slot `p % slots`.
    slots: usize,
    /// Attend only to the last `window` positions (sliding-window layers).
    window: Option<usize>,
}

/// Prefill chunks of at least this many tokens use the matrix-product attention.
const BLOCK_MIN_TOKENS: usize = 8;
/// Tokens per block of the matrix-product attention.
const BLOCK_TOKENS: usize = 16;

/// Per-thread scratch the matrix-product attention needs for `positions` positions.
pub(crate) fn block_scratch(heads: Heads, positions: usize) -> usize {
    let rows = BLOCK_TOKENS * (heads.n_head / heads.n_kv_head);
    rows * (heads.k_dim + heads.v_dim + positions)
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

    /// Make room for `positions` positions, keeping the positions stored so far.
    pub(crate) fn grow(&mut self, heads: Heads, positions: usize, chunk: usize) {
        let mut grown = LayerCache::new(heads, positions, self.window, chunk);
        if grown.slots == self.slots {
            return; // A sliding window already at its full ring.
        }
        // Slots only change while they number the positions, so nothing has wrapped: each
        // head's slots move over as they are.
        for g in 0..heads.n_kv_head {
            let (old, new) = (g * self.slots, g * grown.slots);
            grown.k[new * heads.k_dim..(new + self.slots) * heads.k_dim]
                .copy_from_slice(&self.k[old * heads.k_dim..(old + self.slots) * heads.k_dim]);
            grown.v[new * heads.v_dim..(new + self.slots) * heads.v_dim]
                .copy_from_slice(&self.v[old * heads.v_dim..(old + self.slots) * heads.v_dim]);
        }
        *self = grown;
    }

    /// Store one token's keys and values (`n_kv_head x dim`) at position `pos`.
    pub(crate) fn store(&mut self, heads: Heads, pos: usize, k: &[f32], v: &[f32]) {
        let slot = pos % self.slots;
        // Values are rounded to f16 precision, as llama.cpp's default f16 cache holds them.
        let put = |dst: &mut [f32], src: &[f32]| {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = half::f16::from_f32(s).to_f32();
            }
        };
        for g in 0..heads.n_kv_head {
            let dst = (g * self.slots + slot) * heads.k_dim;
            put(
                &mut self.k[dst..dst + heads.k_dim],
                &k[g * heads.k_dim..(g + 1) * heads.k_dim],
            );
            let dst = (g * self.slots + slot) * heads.v_dim;
            put(
                &mut self.v[dst..dst + heads.v_dim],
                &v[g * heads.v_dim..(g + 1) * heads.v_dim],
            );
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
        let block_len = block_scratch(heads, pos0 + n);
        if n >= BLOCK_MIN_TOKENS && self.window.is_none() && block_len <= scores_len {
            return self.attend_blocks(heads, pos0, n, q, out_ptr, scores_ptr, scores_len);
        }
        // One item per token and key/value head: each cached key and value row is read once
        // for all the query heads that share it.
        let items = n * heads.n_kv_head;
        for_each_chunk(items, chunk_for(items, 2), |thread, range| {
            // SAFETY: each thread has its own scores row, and each item its own output heads.
            let s_all = unsafe { scores_ptr.slice(thread * scores_len, scores_len) };
            for item in range {
                let (t, g) = (item / heads.n_kv_head, item % heads.n_kv_head);
                let pos = pos0 + t;
                let first = match self.window {
                    Some(w) => (pos + 1).saturating_sub(w),
                    None => 0,
                };
                let len = pos + 1 - first;
                let h0 = g * group;
                let qs = &q[(t * heads.n_head + h0) * heads.k_dim..][..group * heads.k_dim];
                // Scores laid out [position][head in group].
                let s = &mut s_all[..len * group];
                for j in 0..len {
                    let slot = (first + j) % self.slots;
                    let k = &self.k[(g * self.slots + slot) * heads.k_dim..][..heads.k_dim];
                    for (h, qh) in qs.chunks_exact(heads.k_dim).enumerate() {
                        s[j * group + h] = dot(qh, k);
                    }
                }
                // Softmax per head over the positions (a strided column of `s`).
                for h in 0..group {
                    let max = (0..len)
                        .map(|j| s[j * group + h])
                        .fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0.0;
                    for j in 0..len {
                        let e = (s[j * group + h] - max).exp();
                        s[j * group + h] = e;
                        sum += e;
                    }
                    let inv = 1.0 / sum;
                    for j in 0..len {
                        s[j * group + h] *= inv;
                    }
                }
                let o = unsafe {
                    out_ptr.slice((t * heads.n_head + h0) * heads.v_dim, group * heads.v_dim)
                };
                o.fill(0.0);
                for j in 0..len {
                    let slot = (first + j) % self.slots;
                    let v = &self.v[(g * self.slots + slot) * heads.v_dim..][..heads.v_dim];
                    for (h, oh) in o.chunks_exact_mut(heads.v_dim).enumerate() {
                        axpy(oh, s[j * group + h], v);
                    }
                }
            }
        });
    }

    /// Prefill attention as matrix products: for a block of tokens and one key/value head,
    /// scores = Q K^T over all cached positions, a causal softmax, then P V.
    #[allow(clippy::too_many_arguments)]
    fn attend_blocks(
        &self,
        heads: Heads,
        pos0: usize,
        n: usize,
        q: &[f32],
        out: SharedMut<f32>,
        scratch: SharedMut<f32>,
        scratch_len: usize,
    ) {
        let group = heads.n_head / heads.n_kv_head;
        let (kd, vd) = (heads.k_dim, heads.v_dim);
        let blocks = n.div_ceil(BLOCK_TOKENS);
        let items = blocks * heads.n_kv_head;
        for_each_chunk(items, 1, |thread, range| {
            // SAFETY: each thread has its own scratch, and each item its own output heads.
            let buf = unsafe { scratch.slice(thread * scratch_len, scratch_len) };
            for item in range {
                let (b, g) = (item / heads.n_kv_head, item % heads.n_kv_head);
                let t0 = b * BLOCK_TOKENS;
                let tb = BLOCK_TOKENS.min(n - t0);
                let (rows, len) = (tb * group, pos0 + t0 + tb);
                let (qb, rest) = buf.split_at_mut(rows * kd);
                let (ob, rest) = rest.split_at_mut(rows * vd);
                let sc = &mut rest[..rows * len];
                for t in 0..tb {
                    let src = &q[((t0 + t) * heads.n_head + g * group) * kd..][..group * kd];
                    qb[t * group * kd..(t + 1) * group * kd].copy_from_slice(src);
                }
                let k = &self.k[g * self.slots * kd..];
                let v = &self.v[g * self.slots * vd..];
                // SAFETY: all pointers and strides stay inside the slices above.
                unsafe {
                    ops::gemm(
                        (rows, len, kd),
                        sc.as_mut_ptr(),
                        len,
                        qb.as_ptr(),
                        kd,
                        k.as_ptr(),
                        1,
                        kd,
                    );
                }
                for t in 0..tb {
                    let visible = pos0 + t0 + t + 1;
                    for h in 0..group {
                        let row = &mut sc[(t * group + h) * len..][..len];
                        let max = row[..visible]
                            .iter()
                            .copied()
                            .fold(f32::NEG_INFINITY, f32::max);
                        let mut sum = 0.0;
                        for x in row[..visible].iter_mut() {
                            *x = (*x - max).exp();
                            sum += *x;
                        }
                        let inv = 1.0 / sum;
                        row[..visible].iter_mut().for_each(|x| *x *= inv);
                        row[visible..].fill(0.0);
                    }
                }
                unsafe {
                    ops::gemm(
                        (rows, vd, len),
                        ob.as_mut_ptr(),
                        vd,
                        sc.as_ptr(),
                        len,
                        v.as_ptr(),
                        vd,
                        1,
                    );
                }
                for t in 0..tb {
                    let dst = unsafe {
                        out.slice(((t0 + t) * heads.n_head + g * group) * vd, group * vd)
                    };
                    dst.copy_from_slice(&ob[t * group * vd..(t + 1) * group * vd]);
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

    /// Whether positions `0..keep` can still be attended to after `written` positions were
    /// stored: always for a full cache; for a sliding window, only while the slots of the
    /// window before `keep` have not been taken by later positions.
    pub(crate) fn holds(&self, keep: usize, written: usize) -> bool {
        match self.window {
            None => true,
            Some(w) => written <= keep.max(w) - w + self.slots,
        }
    }

    /// The slots positions `range` live in, oldest first: a ring holds only its last `slots`.
    fn slots_of(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = usize> + '_ {
        let first = range.start.max(range.end.saturating_sub(self.slots));
        (first..range.end).map(move |p| p % self.slots)
    }

    /// Whether `other` has this cache's layout, so positions can be copied between them.
    pub(crate) fn same_shape(&self, other: &LayerCache) -> bool {
        self.slots == other.slots && self.k.len() == other.k.len() && self.window == other.window
    }

    /// Copy the keys and values of positions `range` from `src`, a cache of the same shape: a
    /// beam taking the prompt, or a beam taking over its parent's history.
    pub(crate) fn copy_positions(
        &mut self,
        src: &LayerCache,
        heads: Heads,
        range: std::ops::Range<usize>,
    ) {
        debug_assert!(self.same_shape(src));
        let (kd, vd) = (heads.k_dim, heads.v_dim);
        for g in 0..heads.n_kv_head {
            for slot in src.slots_of(range.clone()) {
                let (k, v) = ((g * self.slots + slot) * kd, (g * self.slots + slot) * vd);
                self.k[k..k + kd].copy_from_slice(&src.k[k..k + kd]);
                self.v[v..v + vd].copy_from_slice(&src.v[v..v + vd]);
            }
        }
    }

    /// Append the keys, then the values, of positions `range` to `out`.
    pub(crate) fn save_positions(
        &self,
        heads: Heads,
        range: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) {
        let (kd, vd) = (heads.k_dim, heads.v_dim);
        for g in 0..heads.n_kv_head {
            for slot in self.slots_of(range.clone()) {
                let k = (g * self.slots + slot) * kd;
                out.extend_from_slice(&self.k[k..k + kd]);
            }
            for slot in self.slots_of(range.clone()) {
                let v = (g * self.slots + slot) * vd;
                out.extend_from_slice(&self.v[v..v + vd]);
            }
        }
    }

    /// Overwrite positions `range` with what [`LayerCache::save_positions`] wrote for the same
    /// range at the start of `src`; returns how many values were read.
    pub(crate) fn load_positions(
        &mut self,
        heads: Heads,
        range: std::ops::Range<usize>,
        src: &[f32],
    ) -> usize {
        let (kd, vd) = (heads.k_dim, heads.v_dim);
        let slots: Vec<usize> = self.slots_of(range).collect();
        let mut at = 0;
        for g in 0..heads.n_kv_head {
            for &slot in &slots {
                let k = (g * self.slots + slot) * kd;
                self.k[k..k + kd].copy_from_slice(&src[at..at + kd]);
                at += kd;
            }
            for &slot in &slots {
                let v = (g * self.slots + slot) * vd;
                self.v[v..v + vd].copy_from_slice(&src[at..at + vd]);
                at += vd;
            }
        }
        at
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
    fn a_window_holds_a_prefix_until_its_slots_are_reused() {
        // Window 4, chunk 2: six slots, position p in slot p % 6.
        let c = LayerCache::new(heads(), 100, Some(4), 2);
        // Nothing past slot 6 written: every prefix is intact.
        assert!(c.holds(3, 6));
        // Position 6 took slot 0; a prefix of 3 needs positions 0..3 for its window.
        assert!(!c.holds(3, 7));
        // A prefix of 10 needs positions 6..10, all written after slot reuse began.
        assert!(c.holds(10, 12));
        assert!(!c.holds(10, 13));
        // A full cache always holds.
        assert!(LayerCache::new(heads(), 100, None, 2).holds(3, 90));
    }

    #[test]
    fn growing_keeps_every_head_s_positions() {
        let h = Heads {
            n_head: 2,
            n_kv_head: 2,
            k_dim: 2,
            v_dim: 2,
        };
        let mut c = LayerCache::new(h, 3, None, 4);
        for p in 0..3 {
            let x = p as f32;
            c.store(
                h,
                p,
                &[x, x + 0.5, -x, -x - 0.5],
                &[x + 1.0, 2.0, 3.0, -x - 1.0],
            );
        }
        let before = c.clone();
        c.grow(h, 8, 4);
        assert_eq!(c.slots, 8);
        for g in 0..2 {
            for p in 0..3 {
                let (old, new) = ((g * 3 + p) * 2, (g * 8 + p) * 2);
                assert_eq!(c.k[new..new + 2], before.k[old..old + 2]);
                assert_eq!(c.v[new..new + 2], before.v[old..old + 2]);
            }
        }
    }

    #[test]
    fn one_position_returns_its_value() {
        let mut c = LayerCache::new(heads(), 4, None, 4);
        c.store(heads(), 0, &[1.0, 0.0], &[5.0, 7.0]);
        let mut out = vec![0.0; 4];
        let mut scores = vec![0.0; crate::engine::native::pool::n_threads() * 8];
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
    fn block_attention_matches_the_per_token_loop() {
        let h = Heads {
            n_head: 4,
            n_kv_head: 2,
            k_dim: 8,
            v_dim: 8,
        };
        let (pos0, n) = (5, 21);
        let mut c = LayerCache::new(h, 64, None, 32);
        let val = |i: usize| ((i * 7919) % 101) as f32 / 50.0 - 1.0;
        for p in 0..pos0 + n {
            let k: Vec<f32> = (0..16).map(|i| val(p * 16 + i)).collect();
            let v: Vec<f32> = (0..16).map(|i| val(p * 31 + i + 7)).collect();
            c.store(h, p, &k, &v);
        }
        let q: Vec<f32> = (0..n * 32).map(|i| val(i * 3 + 1)).collect();
        let threads = crate::engine::native::pool::n_threads();
        let len = block_scratch(h, 64);
        let mut scores = vec![0.0; threads * len];
        let mut blocks = vec![0.0; n * 32];
        c.attend(h, pos0, n, &q, &mut blocks, &mut scores, len);
        // One token at a time takes the per-token loop.
        let mut looped = vec![0.0; n * 32];
        for t in 0..n {
            c.attend(
                h,
                pos0 + t,
                1,
                &q[t * 32..(t + 1) * 32],
                &mut looped[t * 32..(t + 1) * 32],
                &mut scores,
                len,
            );
        }
        for (a, b) in blocks.iter().zip(&looped) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
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
        let mut scores = vec![0.0; crate::engine::native::pool::n_threads() * 8];
        c.attend(h, 9, 1, &[1.0, 0.0, 1.0, 0.0], &mut out, &mut scores, 8);
        assert_eq!(out[0], 8.5);
        assert_eq!(out[2], 8.5);
    }
}
