//! SentencePiece-style vocabularies (`tokenizer.ggml.model == "llama"`): llama.cpp's merge-by-score loop.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab as BpeVocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::{DecoderWrapper, NormalizerWrapper};

use super::{backend, Result, TokenizerError};

/// What SentencePiece writes for a space.
const SPACE: char = '\u{2581}';

/// llama.cpp's `llm_tokenizer_spm_session`: start from single characters, repeatedly merge
/// the adjacent pair whose concatenation is the highest-scoring token (leftmost on ties),
/// then emit each piece's token, or its bytes as `<0xXX>` tokens when a character is not in
/// the vocabulary.
pub(super) struct Spm {
    scores: Vec<f32>,
    add_space_prefix: bool,
}

#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Max-heap order: higher score first, then the leftmost.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl Spm {
    pub(super) fn new(scores: Vec<f32>, add_space_prefix: bool) -> Self {
        Self {
            scores,
            add_space_prefix,
        }
    }

    /// Tokenize one raw fragment (text between special tokens). Every such fragment follows
    /// the start of text or a special token, so llama.cpp gives each one the space prefix
    /// when `tokenizer.ggml.add_space_prefix` is set.
    pub(super) fn tokenize(
        &self,
        raw: &str,
        lookup: impl Fn(&str) -> Option<u32>,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let mut text = String::with_capacity(raw.len() + 3 * (raw.len() / 4 + 1));
        if self.add_space_prefix {
            text.push(SPACE);
        }
        text.extend(raw.chars().map(|c| if c == ' ' { SPACE } else { c }));
        if text.is_empty() {
            return Ok(());
        }

        let n_chars = text.chars().count();
        let mut symbols: Vec<Symbol> = text
            .char_indices()
            .enumerate()
            .map(|(i, (start, c))| Symbol {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: (i + 1 < n_chars).then_some(i + 1),
            })
            .collect();

        let mut queue = BinaryHeap::new();
        let try_add = |queue: &mut BinaryHeap<Bigram>,
                       symbols: &[Symbol],
                       left: Option<usize>,
                       right: Option<usize>| {
            let (Some(left), Some(right)) = (left, right) else {
                return;
            };
            let (l, r) = (symbols[left], symbols[right]);
            let piece = &text[l.start..l.start + l.len + r.len];
            if let Some(score) = lookup(piece).and_then(|id| self.scores.get(id as usize)) {
                queue.push(Bigram {
                    score: *score,
                    left,
                    right,
                    size: piece.len(),
                });
            }
        };
        for i in 1..symbols.len() {
            try_add(&mut queue, &symbols, Some(i - 1), Some(i));
        }
        while let Some(bigram) = queue.pop() {
            let (l, r) = (symbols[bigram.left], symbols[bigram.right]);
            // Skip pairs where either side has changed since the pair was queued.
            if l.len == 0 || r.len == 0 || l.len + r.len != bigram.size {
                continue;
            }
            symbols[bigram.left].len += r.len;
            symbols[bigram.right].len = 0;
            symbols[bigram.left].next = r.next;
            if let Some(next) = r.next {
                symbols[next].prev = Some(bigram.left);
            }
            try_add(&mut queue, &symbols, l.prev, Some(bigram.left));
            try_add(
                &mut queue,
                &symbols,
                Some(bigram.left),
                symbols[bigram.left].next,
            );
        }

        let mut at = Some(0);
        while let Some(i) = at {
            let s = symbols[i];
            let piece = &text[s.start..s.start + s.len];
            match lookup(piece) {
                Some(id) => out.push(id),
                // Only single characters can be missing: merged pieces are tokens.
                None => {
                    for &b in piece.as_bytes() {
                        out.push(byte_token(b, &lookup)?);
                    }
                }
            }
            at = s.next;
        }
        Ok(())
    }
}

/// llama.cpp's `byte_to_token` for SentencePiece vocabularies.
fn byte_token(b: u8, lookup: &impl Fn(&str) -> Option<u32>) -> Result<u32> {
    lookup(&format!("<0x{b:02X}>"))
        .or_else(|| {
            if b.is_ascii() {
                lookup(std::str::from_utf8(&[b]).unwrap_or_default())
            } else {
                None
            }
        })
        .ok_or(TokenizerError::NoByteToken(b))
}

/// The inner tokenizer, for decoding: the vocabulary as a `tokenizers` BPE model without
/// merges (byte fallback on), with the usual SentencePiece normalizer and decoder.
pub(super) fn build_inner(
    token_ids: BpeVocab,
    unk: Option<String>,
    add_space_prefix: bool,
) -> Result<tokenizers::Tokenizer> {
    let mut builder = BPE::builder()
        .vocab_and_merges(token_ids, Vec::new())
        .byte_fallback(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(unk);
    }
    let bpe = builder.build().map_err(backend("building the BPE model"))?;

    let space = SPACE.to_string();
    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    if add_space_prefix {
        normalizers.push(Prepend::new(space.clone()).into());
    }
    normalizers.push(
        Replace::new(" ", space.as_str())
            .map_err(backend("building the normalizer"))?
            .into(),
    );
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new(space.as_str(), " ")
            .map_err(backend("building the decoder"))?
            .into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if add_space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }

    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner
        .with_normalizer(Some(NormalizerSequence::new(normalizers)))
        .map_err(backend("setting the normalizer"))?;
    inner.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(inner)
}
