//! Beam search's side of the decoder: a KV cache per beam, each starting from the prompt just
//! run, and one batched step that advances every beam by a token.

use super::attention::LayerCache;
use super::{Decoder, Rows};

/// The caches of the beams, `[layer][beam]`, and their logits.
#[derive(Default)]
pub(super) struct Beams {
    caches: Vec<Vec<LayerCache>>,
    width: usize,
    logits: Vec<f32>,
    /// Positions moving between beams when they are reordered.
    moving: Vec<f32>,
}

impl Beams {
    /// Forget the search: the caches stay allocated for the next one, but no step runs until
    /// a new `fork`.
    pub(super) fn end(&mut self) {
        self.width = 0;
    }

    /// Bytes held by the beams' caches.
    pub(super) fn bytes(&self) -> usize {
        self.caches.iter().flatten().map(LayerCache::bytes).sum()
    }

    /// Beam `beam`'s cache of layer `layer`.
    pub(super) fn cache(&mut self, layer: usize, beam: usize) -> &mut LayerCache {
        &mut self.caches[layer][beam]
    }
}

impl Decoder {
    /// Start `width` beams from the first `pos` positions of the cache, the prompt just run.
    /// The caches are kept for the next search, so a later one of the same size allocates
    /// nothing.
    pub fn fork(&mut self, width: usize, pos: usize) -> Result<(), String> {
        if width == 0 || width > self.chunk {
            return Err(format!(
                "{width} beams asked for; between 1 and {} can run at once",
                self.chunk
            ));
        }
        if self.caches.is_empty() || pos > self.written {
            return Err(format!(
                "beams start from the first {pos} positions, but {} have been run; run the prompt with `forward` first",
                self.written
            ));
        }
        let heads = self.heads();
        let beams = &mut self.beams;
        beams.caches.resize_with(self.caches.len(), Vec::new);
        for (layer, cache) in beams.caches.iter_mut().zip(&self.caches) {
            layer.truncate(width);
            for beam in layer.iter_mut() {
                match beam.same_shape(cache) {
                    true => beam.copy_positions(cache, heads, 0..pos),
                    false => *beam = cache.clone(),
                }
            }
            layer.resize_with(width, || cache.clone());
        }
        beams.width = width;
        Ok(())
    }

    /// Run one token for each beam, all at position `pos`; returns their logits, `[beam][vocab]`.
    pub fn forward_beams(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32], String> {
        if self.beams.width == 0 {
            return Err("no beam search is running; start one with `fork`".into());
        }
        if tokens.len() != self.beams.width {
            return Err(format!(
                "{} tokens for {} beams; give one token per beam",
                tokens.len(),
                self.beams.width
            ));
        }
        if pos >= self.positions {
            return Err(format!(
                "position {pos} is past the {} reserved for this request; reserve more first",
                self.positions
            ));
        }
        self.compute_chunk(tokens, Rows::Beams(pos))?;
        let mut logits = std::mem::take(&mut self.beams.logits);
        logits.resize(tokens.len() * self.vocab_size(), 0.0);
        self.logits_of(0..tokens.len(), &mut logits);
        self.beams.logits = logits;
        Ok(&self.beams.logits)
    }

    /// After a step, beam `b` continues beam `parents[b]`: it takes that beam's positions
    /// `range` (those generated since the fork).
    pub fn reorder_beams(
        &mut self,
        parents: &[usize],
        range: std::ops::Range<usize>,
    ) -> Result<(), String> {
        let width = self.beams.width;
        if parents.len() != width || parents.iter().any(|&p| p >= width) {
            return Err(format!("parents {parents:?} do not name {width} beams"));
        }
        let heads = self.heads();
        let Beams { caches, moving, .. } = &mut self.beams;
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
}
