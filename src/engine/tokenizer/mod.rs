//! Text <-> token ids, built from a GGUF's `tokenizer.ggml.*` metadata with llama.cpp's exact semantics.
//!
//! The goal is ids identical to llama.cpp's `llama_tokenize` for the same file, text and flags
//! (`tests/tokenizer_parity.rs` checks this against fixtures made with `llama-tokenize`):
//!
//! 1. Special tokens are split out first, the way llama.cpp's `tokenizer_st_partition` does it:
//!    every token of type CONTROL, USER_DEFINED or UNKNOWN, longest text first, is cut out of
//!    the remaining raw text. CONTROL/UNKNOWN ones only when `parse_special`; USER_DEFINED
//!    ones always. Token types are first adjusted the way llama.cpp's loader does (see
//!    [`gguf`]): e.g. `</s>` in a Qwen vocabulary becomes a control token.
//! 2. Each raw piece of text between them is then tokenized by the model's algorithm:
//!    byte-level BPE with the pre-tokenizer regexes llama.cpp uses for `tokenizer.ggml.pre`
//!    ([`gpt2`]), or SentencePiece-style merging by token score with byte fallback ([`spm`]).
//!
//! A [`tokenizers::Tokenizer`] with the same vocabulary, special tokens and decoder is kept as
//! [`Tokenizer::inner`]: decoding (and streaming decoding) goes through it, and for byte-level
//! BPE vocabularies it also does the BPE step of [`Tokenizer::encode`]. Do not use its own
//! `encode`: it splits special tokens differently, and for SentencePiece vocabularies it has
//! no merges at all (deriving ~0.5 M of them from the scores would double the construction
//! time of a 262k-token vocabulary, and [`spm`] does not need them).

mod gguf;
mod gpt2;
mod spm;

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use tokenizers::{
    Model, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
};

/// Why a tokenizer could not be built or could not encode/decode.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A required GGUF metadata key is absent.
    #[error(
        "GGUF metadata key `{key}` is missing, so this file carries no usable tokenizer; \
         use a GGUF converted by a recent llama.cpp (convert_hf_to_gguf.py), or another file"
    )]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A GGUF metadata key has an unexpected type or shape.
    #[error(
        "GGUF metadata key `{key}` is malformed: expected {expected}, found {found}; \
         the file is damaged or was written by an incompatible converter: re-download or re-convert it"
    )]
    BadKey {
        /// The key.
        key: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A GGUF metadata value that this tokenizer does not implement.
    #[error("GGUF metadata key `{key}` = {value:?} is not supported: {hint}")]
    Unsupported {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// What to do about it.
        hint: String,
    },
    /// A tokenizer.json could not be loaded.
    #[error(
        "cannot load tokenizer file {}: {source}; it must be a Hugging Face `tokenizer.json`",
        path.display()
    )]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tokenizers::Error,
    },
    /// The model wants a BOS token but names none that exists.
    #[error(
        "the model asks for a BOS token (`tokenizer.ggml.add_bos_token`) but has no valid \
         `tokenizer.ggml.bos_token_id`; encode with add_bos = false or fix the file's metadata"
    )]
    NoBos,
    /// A byte of text has no token to fall back to.
    #[error(
        "byte 0x{0:02X} has no token (no `<0x{0:02X}>` in `tokenizer.ggml.tokens`); \
         this vocabulary cannot represent the text"
    )]
    NoByteToken(u8),
    /// Decoding was given an id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary (size {size}); were these ids made by another model?")]
    BadId {
        /// The id.
        id: u32,
        /// The vocabulary size.
        size: usize,
    },
    /// The `tokenizers` library failed.
    #[error("tokenizer error while {context}: {source}")]
    Backend {
        /// What was being done.
        context: &'static str,
        /// The cause.
        #[source]
        source: tokenizers::Error,
    },
}

type Result<T> = std::result::Result<T, TokenizerError>;

fn backend(context: &'static str) -> impl FnOnce(tokenizers::Error) -> TokenizerError {
    move |source| TokenizerError::Backend { context, source }
}

/// A token that is cut out of text before the model's algorithm runs (llama.cpp's
/// "special token cache").
#[derive(Debug, Clone)]
struct Special {
    text: String,
    id: u32,
    /// CONTROL or UNKNOWN: only split out when parsing special tokens.
    control: bool,
    lstrip: bool,
    rstrip: bool,
}

/// How raw text between special tokens becomes ids.
enum Algorithm {
    /// Byte-level BPE: the inner tokenizer's pre-tokenizer and BPE model.
    Gpt2 {
        /// Byte-level characters that are not tokens (some vocabularies lack a few bytes).
        missing: Vec<char>,
    },
    /// llama.cpp's SentencePiece merge loop.
    Spm(spm::Spm),
    /// A tokenizer.json: the inner tokenizer's normalizer, pre-tokenizer and model.
    Json,
}

/// A tokenizer whose `encode` gives llama.cpp's ids. See the module docs.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    algorithm: Algorithm,
    /// Longest text first (ties by id), as llama.cpp orders them.
    specials: Vec<Special>,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
    vocab_size: usize,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("specials", &self.specials.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

impl Tokenizer {
    /// Build from the GGUF's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Self> {
        let vocab = gguf::Vocab::read(&content.metadata)?;
        let specials = special_cache(&vocab.tokens, &vocab.attrs);
        let vocab_size = vocab.tokens.len();
        let unk = vocab
            .attrs
            .iter()
            .position(|&a| a & gguf::UNKNOWN != 0)
            .map(|i| vocab.tokens[i].clone());
        let token_ids: tokenizers::models::bpe::Vocab = vocab
            .tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as u32))
            .collect();
        let (mut inner, algorithm) = match vocab.kind {
            gguf::Kind::Gpt2 { pre, merges } => {
                let missing = gpt2::missing_byte_chars(&token_ids);
                (
                    gpt2::build(token_ids, pre, &merges)?,
                    Algorithm::Gpt2 { missing },
                )
            }
            gguf::Kind::Spm {
                scores,
                add_space_prefix,
            } => (
                spm::build_inner(token_ids, unk, add_space_prefix)?,
                Algorithm::Spm(spm::Spm::new(scores, add_space_prefix)),
            ),
        };
        register_added_tokens(&mut inner, &specials)?;
        Ok(Self {
            inner,
            algorithm,
            specials,
            bos: vocab.bos,
            eos: vocab.eos,
            add_bos: vocab.add_bos,
            vocab_size,
        })
    }

    /// Load a tokenizer.json.
    ///
    /// Its added tokens play the part of llama.cpp's special tokens (special ones only split
    /// out when `parse_special`, the others always); BOS is whatever leading token its
    /// post-processor adds, and `eos_id` is the first of a few usual end-of-text names.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|source| TokenizerError::File {
                path: path.to_path_buf(),
                source,
            })?;
        let mut specials: Vec<Special> = inner
            .get_added_tokens_decoder()
            .into_iter()
            .map(|(id, t)| Special {
                text: t.content,
                id,
                control: t.special,
                lstrip: t.lstrip,
                rstrip: t.rstrip,
            })
            .filter(|s| !s.text.is_empty())
            .collect();
        specials.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.id.cmp(&b.id)));
        let bos = leading_post_processor_token(&inner);
        let eos = ["<eos>", "</s>", "<|endoftext|>", "<|end_of_text|>"]
            .iter()
            .find_map(|t| inner.token_to_id(t));
        Ok(Self {
            vocab_size: inner.get_vocab_size(true),
            inner,
            algorithm: Algorithm::Json,
            specials,
            bos,
            eos,
            add_bos: bos.is_some(),
        })
    }

    /// Encode. `parse_special`: whether special/control token text like "<|im_start|>" in
    /// `text` becomes the special token (true for prompt templates) or is tokenized as plain
    /// text (false, for untrusted article text). `add_bos`: prepend BOS when the model's
    /// metadata asks for it (`tokenizer.ggml.add_bos_token`).
    ///
    /// Tokens of type USER_DEFINED are split out whatever `parse_special` says, as llama.cpp
    /// does. `tokenizer.ggml.add_eos_token` is not applied (prompts are encoded in pieces).
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos && self.add_bos {
            out.push(self.bos.ok_or(TokenizerError::NoBos)?);
        }
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Token(id) => out.push(id),
                Fragment::Text(piece) => self.encode_raw(piece, &mut out)?,
            }
        }
        Ok(out)
    }

    /// Decode ids to text; `skip_special` drops control tokens (e.g. `<|im_end|>`).
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(TokenizerError::BadId {
                id,
                size: self.vocab_size,
            });
        }
        self.inner
            .decode(ids, skip_special)
            .map_err(backend("decoding"))
    }

    /// The id of a token, by its exact text in the vocabulary (e.g. "<|im_end|>").
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The beginning-of-sequence token, if the model has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence token, if the model has one.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// Number of tokens in the vocabulary (the model's logits width may be larger).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The `tokenizers` tokenizer used for decoding (e.g. `decode_stream`).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Split `text` around special tokens exactly like llama.cpp's `tokenizer_st_partition`:
    /// for each special token, longest first, every occurrence in every remaining raw
    /// fragment becomes a token fragment.
    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        enum Frag {
            Raw(usize, usize),
            Tok(u32),
        }
        if text.is_empty() {
            return Vec::new();
        }
        let bytes = text.as_bytes();
        // Cheap pre-filter: a token can only occur if its first two bytes occur.
        let mut pairs = vec![0u64; 1024];
        let mut singles = [false; 256];
        for w in bytes.windows(2) {
            let k = (w[0] as usize) << 8 | w[1] as usize;
            pairs[k >> 6] |= 1 << (k & 63);
        }
        for &b in bytes {
            singles[b as usize] = true;
        }
        let may_occur = |t: &[u8]| match t {
            [] => false,
            [b] => singles[*b as usize],
            [a, b, ..] => {
                let k = (*a as usize) << 8 | *b as usize;
                pairs[k >> 6] & (1 << (k & 63)) != 0
            }
        };
        let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');

        let mut frags = vec![Frag::Raw(0, text.len())];
        for special in &self.specials {
            if (special.control && !parse_special) || !may_occur(special.text.as_bytes()) {
                continue;
            }
            let needle = special.text.as_str();
            let mut next = Vec::with_capacity(frags.len() + 2);
            for frag in frags {
                let (start, end) = match frag {
                    Frag::Raw(s, e) => (s, e),
                    tok => {
                        next.push(tok);
                        continue;
                    }
                };
                let mut pos = start;
                while pos < end {
                    let Some(i) = text[pos..end].find(needle) else {
                        next.push(Frag::Raw(pos, end));
                        break;
                    };
                    let at = pos + i;
                    let mut left_end = at;
                    if special.lstrip {
                        while left_end > pos && is_space(bytes[left_end - 1]) {
                            left_end -= 1;
                        }
                    }
                    if left_end > pos {
                        next.push(Frag::Raw(pos, left_end));
                    }
                    next.push(Frag::Tok(special.id));
                    pos = at + needle.len();
                    if special.rstrip {
                        while pos < end && is_space(bytes[pos]) {
                            pos += 1;
                        }
                    }
                }
            }
            frags = next;
        }
        frags
            .into_iter()
            .map(|f| match f {
                Frag::Raw(s, e) => Fragment::Text(&text[s..e]),
                Frag::Tok(id) => Fragment::Token(id),
            })
            .collect()
    }

    /// Tokenize raw text (no special tokens in it) with the model's algorithm.
    fn encode_raw(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        let model = self.inner.get_model();
        match &self.algorithm {
            Algorithm::Spm(spm) => spm.tokenize(text, |t| model.token_to_id(t), out),
            Algorithm::Gpt2 { .. } | Algorithm::Json => {
                let mut pre = PreTokenizedString::from(text);
                if let Some(normalizer) = self.inner.get_normalizer() {
                    pre.normalize(|s| normalizer.normalize(s))
                        .map_err(backend("normalizing"))?;
                }
                if let Some(pre_tokenizer) = self.inner.get_pre_tokenizer() {
                    pre_tokenizer
                        .pre_tokenize(&mut pre)
                        .map_err(backend("pre-tokenizing"))?;
                }
                pre.tokenize(|s| match &self.algorithm {
                    // llama.cpp keeps a character that is not a token as a symbol of its own,
                    // so nothing merges across it, and finally drops it.
                    Algorithm::Gpt2 { missing } if s.get().contains(missing.as_slice()) => {
                        let mut tokens = Vec::new();
                        for part in s.get().split(missing.as_slice()).filter(|p| !p.is_empty()) {
                            tokens.extend(model.tokenize(part)?);
                        }
                        Ok(tokens)
                    }
                    _ => model.tokenize(s.get()),
                })
                .map_err(backend("running BPE"))?;
                for (_, _, tokens) in pre.get_splits(OffsetReferential::Original, OffsetType::Byte)
                {
                    out.extend(tokens.iter().flatten().map(|t| t.id));
                }
                Ok(())
            }
        }
    }
}

/// llama.cpp's special-token cache: CONTROL, USER_DEFINED and UNKNOWN tokens, longest first.
fn special_cache(tokens: &[String], attrs: &[u32]) -> Vec<Special> {
    let mut specials: Vec<Special> = tokens
        .iter()
        .zip(attrs)
        .enumerate()
        .filter(|(_, (_, &a))| a & (gguf::CONTROL | gguf::USER_DEFINED | gguf::UNKNOWN) != 0)
        .map(|(id, (text, &a))| Special {
            text: text.clone(),
            id: id as u32,
            control: a & (gguf::CONTROL | gguf::UNKNOWN) != 0,
            lstrip: a & gguf::LSTRIP != 0,
            rstrip: a & gguf::RSTRIP != 0,
        })
        .collect();
    specials.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.id.cmp(&b.id)));
    specials
}

/// Make the special tokens known to the inner tokenizer, so that its decoder can skip the
/// control ones and its own `encode` splits them out.
fn register_added_tokens(inner: &mut tokenizers::Tokenizer, specials: &[Special]) -> Result<()> {
    let to_added = |s: &Special| {
        tokenizers::AddedToken::from(s.text.clone(), s.control)
            .normalized(false)
            .lstrip(s.lstrip)
            .rstrip(s.rstrip)
    };
    let mut by_id: Vec<&Special> = specials.iter().collect();
    by_id.sort_by_key(|s| s.id);
    inner
        .add_special_tokens(by_id.iter().filter(|s| s.control).map(|s| to_added(s)))
        .map_err(backend("registering control tokens"))?;
    inner
        .add_tokens(by_id.iter().filter(|s| !s.control).map(|s| to_added(s)))
        .map_err(backend("registering user-defined tokens"))?;
    Ok(())
}

/// The token a tokenizer.json's post-processor puts before a single sequence, if any.
fn leading_post_processor_token(inner: &tokenizers::Tokenizer) -> Option<u32> {
    const MARK: u32 = u32::MAX;
    let encoding = tokenizers::Encoding::from_tokens(
        vec![tokenizers::Token::new(MARK, String::new(), (0, 0))],
        0,
    );
    let processed = inner.post_process(encoding, None, true).ok()?;
    match processed.get_ids() {
        [first, ..] if *first != MARK => Some(*first),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
