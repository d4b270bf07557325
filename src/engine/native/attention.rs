//! Self-attention of a chunk of queries over a layer's KV cache: a loop per token and
//! key/value head for decoding, matrix products per block of tokens for prefill.

use super::gemm;
use super::kv_cache::{Heads, LayerCache};
use super::ops::{self, axpy, dot};
use super::pool::{chunk_for, for_each_chunk, SharedMut};

/// Prefill chunks of at least this many tokens use the matrix-product attention.
const BLOCK_MIN_TOKENS: usize = 8;
/// Tokens per block of the matrix-product attention.
const BLOCK_TOKENS: usize = 16;

/// Per-thread scratch the matrix-product attention needs for `positions` positions.
pub(crate) fn block_scratch(heads: Heads, positions: usize) -> usize {
    let rows = BLOCK_TOKENS * (heads.n_head / heads.n_kv_head);
    rows * (heads.k_dim + heads.v_dim + positions)
}

impl LayerCache {
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
        if n >= BLOCK_MIN_TOKENS && block_len <= scores_len {
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
                // The keys this block sees: all before it, or a sliding window's worth. In a
                // ring they may wrap around: two runs of slots, `seg` then the rest from 0.
                let first = match self.window {
                    Some(w) => (pos0 + t0 + 1).saturating_sub(w),
                    None => 0,
                };
                let (rows, len) = (tb * group, pos0 + t0 + tb - first);
                let s0 = first % self.slots;
                let seg = len.min(self.slots - s0);
                let (qb, rest) = buf.split_at_mut(rows * kd);
                let (ob, rest) = rest.split_at_mut(rows * vd);
                let sc = &mut rest[..rows * len];
                for t in 0..tb {
                    let src = &q[((t0 + t) * heads.n_head + g * group) * kd..][..group * kd];
                    qb[t * group * kd..(t + 1) * group * kd].copy_from_slice(src);
                }
                let k = &self.k[g * self.slots * kd..(g + 1) * self.slots * kd];
                let v = &self.v[g * self.slots * vd..(g + 1) * self.slots * vd];
                // SAFETY: all pointers and strides stay inside the slices above: columns
                // 0..seg of the scores come from slots s0..s0+seg, the rest from 0..len-seg.
                unsafe {
                    for (col, slot, n_keys) in [(0, s0, seg), (seg, 0, len - seg)] {
                        if n_keys > 0 {
                            gemm::gemm(
                                (rows, n_keys, kd),
                                sc.as_mut_ptr().add(col),
                                len,
                                qb.as_ptr(),
                                kd,
                                k.as_ptr().add(slot * kd),
                                1,
                                kd,
                            );
                        }
                    }
                }
                for t in 0..tb {
                    let pos = pos0 + t0 + t;
                    let lo = match self.window {
                        Some(w) => (pos + 1).saturating_sub(w) - first,
                        None => 0,
                    };
                    let hi = pos + 1 - first;
                    for h in 0..group {
                        let row = &mut sc[(t * group + h) * len..][..len];
                        ops::softmax(&mut row[lo..hi]);
                        row[..lo].fill(0.0);
                        row[hi..].fill(0.0);
                    }
                }
                // SAFETY: as for the scores; the second run adds to the first.
                unsafe {
                    for (col, slot, n_keys, acc) in [(0, s0, seg, false), (seg, 0, len - seg, true)]
                    {
                        if n_keys > 0 {
                            gemm::gemm_into(
                                (rows, vd, n_keys),
                                ob.as_mut_ptr(),
                                vd,
                                acc,
                                sc.as_ptr().add(col),
                                len,
                                v.as_ptr().add(slot * vd),
                                vd,
                                1,
                            );
                        }
                    }
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
}

#[cfg(test)]
mod tests {
    use super::super::kv_cache::tests::heads;
    use super::*;

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

    /// Fill a cache of `positions` positions (sliding `window`, prefill `chunk`) up to
    /// `pos0 + n`, then check that a chunk of `n` queries from `pos0` through the block
    /// attention matches the per-token loop, and return the cache's slot count.
    fn blocks_match_loop(
        positions: usize,
        window: Option<usize>,
        chunk: usize,
        pos0: usize,
        n: usize,
        min_scratch: usize,
    ) -> usize {
        let h = Heads {
            n_head: 4,
            n_kv_head: 2,
            k_dim: 8,
            v_dim: 8,
        };
        let mut c = LayerCache::new(h, positions, window, chunk);
        let val = |i: usize| ((i * 7919) % 101) as f32 / 50.0 - 1.0;
        for p in 0..pos0 + n {
            let k: Vec<f32> = (0..16).map(|i| val(p * 16 + i)).collect();
            let v: Vec<f32> = (0..16).map(|i| val(p * 31 + i + 7)).collect();
            c.store(h, p, &k, &v);
        }
        let q: Vec<f32> = (0..n * 32).map(|i| val(i * 3 + 1)).collect();
        let threads = crate::engine::native::pool::n_threads();
        let len = block_scratch(h, positions).max(min_scratch);
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
        c.slots
    }

    #[test]
    fn block_attention_matches_the_per_token_loop() {
        blocks_match_loop(64, None, 32, 5, 21, 0);
    }

    #[test]
    fn windowed_block_attention_matches_the_per_token_loop_across_the_ring_seam() {
        // Window 10, chunk 32: 42 slots, and positions 50..71 wrap around them.
        let slots = blocks_match_loop(128, Some(10), 32, 50, 21, 42 * 2);
        assert_eq!(slots, 42);
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
