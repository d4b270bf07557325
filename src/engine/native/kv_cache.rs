//! The keys and values of one layer, preallocated for a request. Sliding-window layers keep a
//! ring of just the window (plus one prefill chunk), so their memory does not grow with the
//! request.

/// The attention shapes shared by all layers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub k_dim: usize,
    pub v_dim: usize,
}

/// Keys and values of one layer, laid out `[kv_head][slot][head_dim]` so a head's history is
/// contiguous.
#[derive(Clone)]
pub(crate) struct LayerCache {
    pub(super) k: Vec<f32>,
    pub(super) v: Vec<f32>,
    /// Slots per head; position `p` lives in slot `p % slots`.
    pub(super) slots: usize,
    /// Attend only to the last `window` positions (sliding-window layers).
    pub(super) window: Option<usize>,
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

    /// Take positions `0..pos` of `src`: copied where this cache has its shape, else by
    /// becoming a copy of it (a beam or slot made before the caches grew).
    pub(crate) fn take_prefix(&mut self, src: &LayerCache, heads: Heads, pos: usize) {
        match self.same_shape(src) {
            true => self.copy_positions(src, heads, 0..pos),
            false => *self = src.clone(),
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
pub(super) mod tests {
    use super::*;

    /// Two query heads sharing one key/value head of width 2.
    pub(in crate::engine::native) fn heads() -> Heads {
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
}
