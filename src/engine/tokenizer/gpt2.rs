//! Byte-level BPE (`tokenizer.ggml.model == "gpt2"`): llama.cpp's pre-tokenizer regexes per `tokenizer.ggml.pre`.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab as BpeVocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{PreTokenizerWrapper, SplitDelimiterBehavior};

use super::gguf::KEY_MERGES;
use super::{backend, Result, TokenizerError};

// The regexes below are the ones llama.cpp's `llm_tokenizer_bpe` applies for each pre-type
// (llama.cpp runs hand-written equivalents of some of them; `tests/tokenizer_parity.rs`
// checks that these give the same pieces). Each one splits every piece left by the previous
// one; text a regex does not match stays a piece of its own.

/// GPT-2's: contractions, letters, digits, other symbols, each with one optional leading space.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
/// Every digit on its own.
const DIGIT: &str = r"\p{N}";
/// Qwen2's: case-insensitive contractions, one digit at a time, newlines kept together.
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's: as Qwen2's but digits in groups of up to three.
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A family of `tokenizer.ggml.pre` values that share llama.cpp's regexes and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pre {
    /// LLAMA_VOCAB_PRE_TYPE_GPT2 and friends.
    Gpt2,
    /// LLAMA_VOCAB_PRE_TYPE_SMOLLM / STARCODER and friends: digits split, then GPT-2.
    Smollm,
    /// LLAMA_VOCAB_PRE_TYPE_QWEN2 and friends.
    Qwen2,
    /// LLAMA_VOCAB_PRE_TYPE_LLAMA3 (whole-word lookup first, BOS by default).
    Llama3,
    /// LLAMA_VOCAB_PRE_TYPE_DBRX / SMAUG: Llama 3's regex without its defaults.
    Dbrx,
}

/// `tokenizer.ggml.pre` values per family, as llama.cpp's loader maps them.
const NAMES: &[(Pre, &[&str])] = &[
    (Pre::Gpt2, &["gpt-2", "phi-2", "mpt", "olmo"]),
    (
        Pre::Smollm,
        &[
            "smollm",
            "starcoder",
            "refact",
            "command-r",
            "codeshell",
            "exaone",
            "minerva-7b",
            "mellum2",
        ],
    ),
    (
        Pre::Qwen2,
        &[
            "qwen2",
            "deepseek-r1-qwen",
            "kormo",
            "f2llmv2",
            "stablelm2",
            "megrez",
            "hunyuan",
            "solar-open",
        ],
    ),
    (
        Pre::Llama3,
        &[
            "llama3",
            "llama-v3",
            "llama-bpe",
            "falcon3",
            "falcon-h1",
            "pixtral",
            "midm-2.0",
            "lfm2",
            "jina-v5-nano",
        ],
    ),
    (Pre::Dbrx, &["dbrx", "smaug-bpe"]),
];

impl Pre {
    pub(super) fn from_name(name: &str) -> Option<Self> {
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&name))
            .map(|(pre, _)| *pre)
    }

    pub(super) fn supported_names() -> Vec<&'static str> {
        NAMES
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
            .collect()
    }

    fn regexes(self) -> &'static [&'static str] {
        match self {
            Pre::Gpt2 => &[GPT2],
            Pre::Smollm => &[DIGIT, GPT2],
            Pre::Qwen2 => &[QWEN2],
            Pre::Llama3 | Pre::Dbrx => &[LLAMA3],
        }
    }

    /// llama.cpp's `ignore_merges`: a piece that is a whole token is not merged.
    fn ignore_merges(self) -> bool {
        self == Pre::Llama3
    }

    /// llama.cpp's default for `add_bos` when `tokenizer.ggml.add_bos_token` is absent.
    pub(super) fn add_bos_default(self) -> bool {
        self == Pre::Llama3
    }
}

/// The inner tokenizer: regex splits, byte-level mapping, BPE with the file's merges,
/// byte-level decoder.
pub(super) fn build(
    token_ids: BpeVocab,
    pre: Pre,
    merges: &[String],
) -> Result<tokenizers::Tokenizer> {
    let mut pairs = Vec::with_capacity(merges.len());
    for merge in merges {
        // llama.cpp splits at the first space after the first byte.
        let split = merge
            .bytes()
            .skip(1)
            .position(|b| b == b' ')
            .map(|i| i + 1)
            .ok_or_else(|| TokenizerError::BadKey {
                key: KEY_MERGES.into(),
                expected: "entries \"LEFT RIGHT\"".into(),
                found: format!("{merge:?}"),
            })?;
        let (left, right) = (&merge[..split], &merge[split + 1..]);
        // A merge whose parts or result are not tokens can never produce a token id in
        // llama.cpp either; the `tokenizers` BPE rejects them, so leave them out.
        let joined = format!("{left}{right}");
        if token_ids.contains_key(left)
            && token_ids.contains_key(right)
            && token_ids.contains_key(&joined)
        {
            pairs.push((left.to_string(), right.to_string()));
        }
    }
    let bpe = BPE::builder()
        .vocab_and_merges(token_ids, pairs)
        .ignore_merges(pre.ignore_merges())
        .build()
        .map_err(backend("building the BPE model"))?;

    let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
    for regex in pre.regexes() {
        let split = Split::new(
            SplitPattern::Regex((*regex).to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(backend("compiling a pre-tokenizer regex"))?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());

    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(Sequence::new(steps)));
    inner.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));
    Ok(inner)
}

/// The characters GPT-2's byte-level mapping uses for the 256 bytes, in byte order.
fn byte_chars() -> [char; 256] {
    let mut chars = ['\0'; 256];
    let mut next = 256;
    for (b, c) in chars.iter_mut().enumerate() {
        let printable = matches!(b, 0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff);
        let code = if printable {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        *c = char::from_u32(code).unwrap_or('\0');
    }
    chars
}

/// Byte-level characters that are not tokens of this vocabulary.
pub(super) fn missing_byte_chars(token_ids: &BpeVocab) -> Vec<char> {
    byte_chars()
        .into_iter()
        .filter(|c| !token_ids.contains_key(c.to_string().as_str()))
        .collect()
}
