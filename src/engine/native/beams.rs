//! Beam search's and batched decoding's side of the decoder: a KV cache per beam (each starting
//! from the prompt just run) or per sequence (each taking the prompt run last into its slot),
//! and one batched step that advances every beam or sequence by a token.

use super::error::{EngineError, Result};
use super::graph::{self, Rows};
use super::kv_cache::LayerCache;
use super::Decoder;

/// The caches of the beams or sequences, `[layer][slot]`, and their logits.
#[derive(Default)]
pub(crate) struct Beams {
    caches: Vec<Vec<LayerCache>>,
    width: usize,
    logits: Vec<f32>,
    /// Positions moving between beams when they are reordered.
    moving: Vec<f32>,
}

impl Beams {
    /// Forget the search: the caches stay allocated for the next one, but no step runs until
    /// a new `fork`.
    pub(crate) fn end(&mut self) {
        self.width = 0;
    }

    /// Bytes held by the beams' caches.
    pub(crate) fn bytes(&self) -> usize {
        self.caches.iter().flatten().map(LayerCache::bytes).sum()
    }

    /// Beam `beam`'s cache of layer `layer`.
    pub(crate) fn cache(&mut self, layer: usize, beam: usize) -> &mut LayerCache {
        &mut self.caches[layer][beam]
    }
}

impl Decoder {
    /// Start `width` beams from the first `pos` positions of the cache, the prompt just run.
    /// The caches are kept for the next search, so a later one of the same size allocates
    /// nothing.
    pub fn fork(&mut self, width: usize, pos: usize) -> Result<()> {
        let heads = self.model.heads();
        let s = &mut self.session;
        if width == 0 || width > s.chunk {
            return Err(EngineError::Beams(format!(
                "{width} beams asked for; between 1 and {} can run at once",
                s.chunk
            )));
        }
        if s.caches.is_empty() || pos > s.written {
            return Err(EngineError::Beams(format!(
                "beams start from the first {pos} positions, but {} have been run; run the prompt with `forward` first",
                s.written
            )));
        }
        let beams = &mut s.beams;
        beams.caches.resize_with(s.caches.len(), Vec::new);
        for (layer, cache) in beams.caches.iter_mut().zip(&s.caches) {
            layer.truncate(width);
            for beam in layer.iter_mut() {
                beam.take_prefix(cache, heads, pos);
            }
            layer.resize_with(width, || cache.clone());
        }
        beams.width = width;
        Ok(())
    }

    /// Run one token for each beam, all at position `pos`; returns their logits, `[beam][vocab]`.
    pub fn forward_beams(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        let s = &mut self.session;
        if s.beams.width == 0 {
            return Err(EngineError::Beams(
                "no beam search is running; start one with `fork`".into(),
            ));
        }
        if tokens.len() != s.beams.width {
            return Err(EngineError::Beams(format!(
                "{} tokens for {} beams; give one token per beam",
                tokens.len(),
                s.beams.width
            )));
        }
        if pos >= s.positions {
            return Err(EngineError::PastReserved {
                position: pos + 1,
                reserved: s.positions,
            });
        }
        graph::compute_chunk(&self.model, s, tokens, Rows::Beams(pos))?;
        let mut logits = std::mem::take(&mut s.beams.logits);
        logits.resize(tokens.len() * self.model.vocab_size(), 0.0);
        graph::logits_of(&self.model, &mut s.s, 0..tokens.len(), &mut logits);
        s.beams.logits = logits;
        Ok(&s.beams.logits)
    }

    /// After a step, beam `b` continues beam `parents[b]`: it takes that beam's positions
    /// `range` (those generated since the fork).
    pub fn reorder_beams(
        &mut self,
        parents: &[usize],
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        let width = self.session.beams.width;
        if parents.len() != width || parents.iter().any(|&p| p >= width) {
            return Err(EngineError::Beams(format!(
                "parents {parents:?} do not name {width} beams"
            )));
        }
        let heads = self.model.heads();
        let Beams { caches, moving, .. } = &mut self.session.beams;
        let moved = || parents.iter().enumerate().filter(|&(b, &p)| b != p);
        for layer in caches.iter_mut() {
            // Every moving history is read before any is overwritten.
            moving.clear();
            for (_, &p) in moved() {
                layer[p].save_positions(heads, range.clone(), moving);
            }
            let mut at = 0;
            for (b, _) in moved() {
                at += layer[b].load_positions(heads, range.clone(), &moving[at..]);
            }
        }
        Ok(())
    }

    /// Most sequences [`Decoder::forward_slots`] advances at once: as many rows as a draft
    /// check, so that every row takes the one-token kernels and each sequence's tokens are
    /// bit for bit those it would get alone.
    pub fn max_batch(&self) -> usize {
        self.max_verify()
    }

    /// Cache slot `slot` takes the first `pos` positions of the cache (the prompt just run),
    /// for [`Decoder::forward_slots`] to continue; the slot's earlier sequence is dropped.
    /// Reserve the positions of every sequence of the batch before the first is adopted: a
    /// cache that grows afterwards leaves the adopted slots behind.
    pub fn adopt(&mut self, slot: usize, pos: usize) -> Result<()> {
        let heads = self.model.heads();
        let most = self.max_batch();
        let s = &mut self.session;
        if slot >= most {
            return Err(EngineError::Beams(format!(
                "cache slot {slot} asked for; slots 0 to {} can run at once",
                most - 1
            )));
        }
        if s.caches.is_empty() || pos > s.written {
            return Err(EngineError::Beams(format!(
                "slot {slot} takes the first {pos} positions, but {} have been run; run the prompt with `forward` first",
                s.written
            )));
        }
        let beams = &mut s.beams;
        beams.caches.resize_with(s.caches.len(), Vec::new);
        for (layer, cache) in beams.caches.iter_mut().zip(&s.caches) {
            if layer.len() <= slot {
                layer.resize_with(slot + 1, || cache.clone());
            } else {
                layer[slot].take_prefix(cache, heads, pos);
            }
        }
        Ok(())
    }

    /// Run one token for each sequence: `tokens[t]` at position `positions[t]` of the sequence
    /// in slot `slots[t]` (distinct slots, each adopted); returns their logits, `[row][vocab]`.
    pub fn forward_slots(
        &mut self,
        slots: &[usize],
        tokens: &[u32],
        positions: &[usize],
    ) -> Result<&[f32]> {
        let most = self.max_batch();
        let s = &mut self.session;
        let n = tokens.len();
        if n == 0 || n > most || slots.len() != n || positions.len() != n {
            return Err(EngineError::Beams(format!(
                "{n} tokens for {} slots at {} positions; give one token and position per slot, 1 to {most} of them",
                slots.len(),
                positions.len()
            )));
        }
        for (t, (&slot, &pos)) in slots.iter().zip(positions).enumerate() {
            let adopted = s.beams.caches.first().and_then(|layer| layer.get(slot));
            if !adopted.is_some_and(|c| c.same_shape(&s.caches[0])) {
                return Err(EngineError::Beams(format!(
                    "slot {slot} holds no sequence of the current reservation; `adopt` it after reserving"
                )));
            }
            if slots[..t].contains(&slot) {
                return Err(EngineError::Beams(format!(
                    "slot {slot} is given twice; each row needs a slot of its own"
                )));
            }
            if pos >= s.positions {
                return Err(EngineError::PastReserved {
                    position: pos + 1,
                    reserved: s.positions,
                });
            }
        }
        graph::compute_chunk(&self.model, s, tokens, Rows::Slots { slots, positions })?;
        let mut logits = std::mem::take(&mut s.beams.logits);
        logits.resize(n * self.model.vocab_size(), 0.0);
        graph::logits_of(&self.model, &mut s.s, 0..n, &mut logits);
        s.beams.logits = logits;
        Ok(&s.beams.logits)
    }
}
