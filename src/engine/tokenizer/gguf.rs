//! Reading `tokenizer.ggml.*` metadata into a vocabulary, with llama.cpp's loader adjustments.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use super::{Result, TokenizerError};

// Token attributes, as llama.cpp's `llama_token_attr` bits.
pub(super) const UNKNOWN: u32 = 1 << 1;
pub(super) const UNUSED: u32 = 1 << 2;
pub(super) const NORMAL: u32 = 1 << 3;
pub(super) const CONTROL: u32 = 1 << 4;
pub(super) const USER_DEFINED: u32 = 1 << 5;
pub(super) const BYTE: u32 = 1 << 6;
pub(super) const UNDEFINED: u32 = 1 << 0;
pub(super) const LSTRIP: u32 = 1 << 8;
pub(super) const RSTRIP: u32 = 1 << 9;

pub(super) const KEY_MODEL: &str = "tokenizer.ggml.model";
pub(super) const KEY_PRE: &str = "tokenizer.ggml.pre";
pub(super) const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
pub(super) const KEY_TYPES: &str = "tokenizer.ggml.token_type";
pub(super) const KEY_SCORES: &str = "tokenizer.ggml.scores";
pub(super) const KEY_MERGES: &str = "tokenizer.ggml.merges";

/// Which algorithm tokenizes raw text.
pub(super) enum Kind {
    /// `tokenizer.ggml.model == "gpt2"`: byte-level BPE.
    Gpt2 {
        /// The pre-tokenizer.
        pre: super::gpt2::Pre,
        /// `tokenizer.ggml.merges`, in rank order.
        merges: Vec<String>,
    },
    /// `tokenizer.ggml.model == "llama"`: SentencePiece-style merges by score.
    Spm {
        /// `tokenizer.ggml.scores`.
        scores: Vec<f32>,
        /// `tokenizer.ggml.add_space_prefix` (default true).
        add_space_prefix: bool,
    },
}

/// Everything the tokenizer needs from the metadata.
pub(super) struct Vocab {
    pub tokens: Vec<String>,
    /// llama.cpp token attributes (bit flags above), after its loader's adjustments.
    pub attrs: Vec<u32>,
    pub kind: Kind,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub add_bos: bool,
}

type Metadata = HashMap<String, Value>;

fn type_name(v: &Value) -> String {
    match v {
        Value::Array(items) => match items.first() {
            Some(first) => format!("array of {}", type_name(first)),
            None => "empty array".into(),
        },
        other => format!("{:?}", other.value_type()),
    }
}

fn bad(key: &str, expected: &str, found: &Value) -> TokenizerError {
    TokenizerError::BadKey {
        key: key.into(),
        expected: expected.into(),
        found: type_name(found),
    }
}

fn missing(key: &str) -> TokenizerError {
    TokenizerError::MissingKey { key: key.into() }
}

fn get_str<'a>(md: &'a Metadata, key: &str) -> Result<Option<&'a str>> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(bad(key, "a string", v)),
    }
}

fn get_bool(md: &Metadata, key: &str) -> Result<Option<bool>> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(bad(key, "a bool", v)),
    }
}

fn get_u32(md: &Metadata, key: &str) -> Result<Option<u32>> {
    match md.get(key) {
        None => Ok(None),
        Some(v) => v
            .to_u64()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .or_else(|| v.to_i32().ok().and_then(|n| u32::try_from(n).ok()))
            .map(Some)
            .ok_or_else(|| bad(key, "an unsigned integer", v)),
    }
}

fn get_array<'a>(md: &'a Metadata, key: &str) -> Result<Option<&'a [Value]>> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(v) => Err(bad(key, "an array", v)),
    }
}

fn strings(md: &Metadata, key: &str) -> Result<Option<Vec<String>>> {
    let Some(items) = get_array(md, key)? else {
        return Ok(None);
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(bad(key, "an array of strings", other)),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

impl Vocab {
    pub(super) fn read(md: &Metadata) -> Result<Self> {
        let model = get_str(md, KEY_MODEL)?.ok_or_else(|| missing(KEY_MODEL))?;
        let mut tokens = strings(md, KEY_TOKENS)?.ok_or_else(|| missing(KEY_TOKENS))?;
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::BadKey {
                key: KEY_TOKENS.into(),
                expected: "a non-empty array of strings".into(),
                found: "an empty array".into(),
            });
        }
        // llama.cpp renames empty tokens so that every text is unique.
        for (i, t) in tokens.iter_mut().enumerate() {
            if t.is_empty() {
                *t = format!("[EMPTY_{i}]");
            }
        }
        let mut attrs = read_attrs(md, n)?;

        let (kind, default_bos, default_eos, mut add_bos) = match model {
            "gpt2" => {
                let pre_name =
                    get_str(md, KEY_PRE)?.ok_or_else(|| TokenizerError::Unsupported {
                        key: KEY_PRE.into(),
                        value: "(missing)".into(),
                        hint:
                            "without it the pre-tokenizer is unknown and the ids would be wrong; \
                           refusing to guess: re-convert the model with a recent llama.cpp"
                                .into(),
                    })?;
                let pre = super::gpt2::Pre::from_name(pre_name).ok_or_else(|| {
                    TokenizerError::Unsupported {
                        key: KEY_PRE.into(),
                        value: pre_name.into(),
                        hint: format!(
                            "this pre-tokenizer is not implemented (supported: {}); refusing to \
                             guess its regex: use a model with a supported one",
                            super::gpt2::Pre::supported_names().join(", ")
                        ),
                    }
                })?;
                let merges = strings(md, KEY_MERGES)?.ok_or_else(|| missing(KEY_MERGES))?;
                let add_bos = pre.add_bos_default();
                (Kind::Gpt2 { pre, merges }, Some(11), Some(11), add_bos)
            }
            "llama" => {
                let scores = read_scores(md, n)?;
                let add_space_prefix =
                    get_bool(md, "tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
                let kind = Kind::Spm {
                    scores,
                    add_space_prefix,
                };
                (kind, Some(1), Some(2), true)
            }
            other => {
                return Err(TokenizerError::Unsupported {
                    key: KEY_MODEL.into(),
                    value: other.into(),
                    hint: "only \"gpt2\" (byte-level BPE) and \"llama\" (SentencePiece) \
                           tokenizers are implemented; use a model with one of those"
                        .into(),
                })
            }
        };
        if let Some(b) = get_bool(md, "tokenizer.ggml.add_bos_token")? {
            add_bos = b;
        }
        let special_id = |key: &str, default: Option<u32>| -> Result<Option<u32>> {
            let default = default.filter(|&d| (d as usize) < n);
            Ok(match get_u32(md, key)? {
                Some(id) if (id as usize) < n => Some(id),
                _ => default,
            })
        };
        let bos = special_id("tokenizer.ggml.bos_token_id", default_bos)?;
        let eos = special_id("tokenizer.ggml.eos_token_id", default_eos)?;
        adjust_attrs(md, &tokens, &mut attrs, eos)?;
        Ok(Self {
            tokens,
            attrs,
            kind,
            bos,
            eos,
            add_bos,
        })
    }
}

fn read_attrs(md: &Metadata, n: usize) -> Result<Vec<u32>> {
    let Some(types) = get_array(md, KEY_TYPES)? else {
        return Ok(vec![NORMAL; n]);
    };
    if types.len() < n {
        return Err(TokenizerError::BadKey {
            key: KEY_TYPES.into(),
            expected: format!("at least {n} entries (one per token)"),
            found: format!("{} entries", types.len()),
        });
    }
    types[..n]
        .iter()
        .map(|v| {
            let t = v
                .to_i32()
                .map_err(|_| bad(KEY_TYPES, "an array of i32", v))?;
            Ok(match t {
                1 => NORMAL,
                2 => UNKNOWN,
                3 => CONTROL,
                4 => USER_DEFINED,
                5 => UNUSED,
                6 => BYTE,
                _ => UNDEFINED,
            })
        })
        .collect()
}

fn read_scores(md: &Metadata, n: usize) -> Result<Vec<f32>> {
    let Some(scores) = get_array(md, KEY_SCORES)? else {
        return Ok(vec![0.0; n]);
    };
    if scores.len() < n {
        return Err(TokenizerError::BadKey {
            key: KEY_SCORES.into(),
            expected: format!("at least {n} entries (one per token)"),
            found: format!("{} entries", scores.len()),
        });
    }
    scores[..n]
        .iter()
        .map(|v| match v {
            Value::F32(f) => Ok(*f),
            Value::I32(i) => Ok(*i as f32),
            other => Err(bad(KEY_SCORES, "an array of f32 or i32", other)),
        })
        .collect()
}

/// The token-type adjustments llama.cpp's `llama_vocab::impl::load` makes before it builds
/// its special-token cache: tokens that look like end-of-turn / fill-in-the-middle /
/// end-of-generation markers become CONTROL even when the file says otherwise, plus two
/// model-specific exceptions and phi-3's right-stripping.
fn adjust_attrs(
    md: &Metadata,
    tokens: &[String],
    attrs: &mut [u32],
    eos: Option<u32>,
) -> Result<()> {
    let index: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let find = |names: &[&str]| -> Option<usize> {
        // llama.cpp takes the first match in hash-map order; take the lowest id instead.
        names
            .iter()
            .filter_map(|name| index.get(name).copied())
            .min()
    };
    let n = tokens.len();
    let meta_id = |key: &str| -> Result<Option<usize>> {
        Ok(get_u32(md, key)?.map(|v| v as usize).filter(|&v| v < n))
    };

    // Ids that llama.cpp would find by text when the metadata does not name them.
    const EOT: &[&str] = &[
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "<｜end▁of▁sentence｜>",
        "<end_of_utterance>",
    ];
    const EOM: &[&str] = &["<|eom_id|>"];
    const FIM_PRE: &[&str] = &[
        "<|fim_prefix|>",
        "<fim-prefix>",
        "<fim_prefix>",
        "<｜fim▁begin｜>",
        "<PRE>",
        "▁<PRE>",
        "<|code_prefix|>",
        "<|prefix|>",
    ];
    const FIM_SUF: &[&str] = &[
        "<|fim_suffix|>",
        "<fim-suffix>",
        "<fim_suffix>",
        "<｜fim▁hole｜>",
        "<SUF>",
        "▁<SUF>",
        "<|code_suffix|>",
        "<|suffix|>",
    ];
    const FIM_MID: &[&str] = &[
        "<|fim_middle|>",
        "<fim-middle>",
        "<fim_middle>",
        "<｜fim▁end｜>",
        "<MID>",
        "▁<MID>",
        "<|code_middle|>",
        "<|middle|>",
    ];
    const FIM_PAD: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
    const FIM_REP: &[&str] = &[
        "<|fim_repo|>",
        "<|repo_name|>",
        "<fim-repo>",
        "<REPO>",
        "<reponame>",
    ];
    const FIM_SEP: &[&str] = &["<|file_sep|>"];
    const EOG: &[&str] = &[
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "<|flush|>",
        "<|calls|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "</s>",
        "<|eom_id|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "[EOS]",
        "<|end_of_text|>",
        "<end_of_utterance>",
        "<eos>",
        "<turn|>",
        "<|tool_response>",
        "<｜end▁of▁sentence｜>",
        "[e~[",
    ];

    let roles: [(&[&str], &[&str]); 8] = [
        (&["tokenizer.ggml.eot_token_id"], EOT),
        (&["tokenizer.ggml.eom_token_id"], EOM),
        (
            &[
                "tokenizer.ggml.fim_pre_token_id",
                "tokenizer.ggml.prefix_token_id",
            ],
            FIM_PRE,
        ),
        (
            &[
                "tokenizer.ggml.fim_suf_token_id",
                "tokenizer.ggml.suffix_token_id",
            ],
            FIM_SUF,
        ),
        (
            &[
                "tokenizer.ggml.fim_mid_token_id",
                "tokenizer.ggml.middle_token_id",
            ],
            FIM_MID,
        ),
        (&["tokenizer.ggml.fim_pad_token_id"], FIM_PAD),
        (&["tokenizer.ggml.fim_rep_token_id"], FIM_REP),
        (&["tokenizer.ggml.fim_sep_token_id"], FIM_SEP),
    ];
    let mut role_ids = Vec::new();
    for (keys, names) in roles {
        let mut id = None;
        for key in keys {
            if let Some(v) = meta_id(key)? {
                id = Some(v);
            }
        }
        if id.is_none() {
            id = find(names);
            if let Some(i) = id {
                attrs[i] |= CONTROL;
            }
        }
        role_ids.push(id);
    }
    let [eot, eom, _, _, _, fim_pad, fim_rep, fim_sep] = role_ids[..] else {
        unreachable!("eight roles")
    };

    // End-of-generation tokens: every one found by text becomes CONTROL.
    let mut eog: Vec<usize> = [fim_pad, fim_rep, fim_sep].into_iter().flatten().collect();
    for name in EOG {
        if let Some(&i) = index.get(name) {
            eog.push(i);
            attrs[i] |= CONTROL;
        }
    }
    // gpt-oss: these are always rendered, i.e. plain user-defined tokens.
    for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(&i) = index.get(name) {
            attrs[i] = USER_DEFINED;
        }
    }
    eog.extend(eos.map(|e| e as usize));
    eog.extend(eot);
    eog.extend(eom);
    let in_eog = |name: &str| eog.iter().any(|&i| tokens[i] == name);
    // o200k_harmony / solar-open: "<|end|>" is not end-of-generation there.
    if (in_eog("<|return|>") && in_eog("<|call|>") || in_eog("<|calls|>") && in_eog("<|flush|>"))
        && in_eog("<|end|>")
    {
        if let Some(&i) = index.get("<|end|>") {
            attrs[i] = USER_DEFINED;
        }
    }
    // gemma4 / plamo: "</s>" is an ordinary token.
    if (in_eog("<|tool_response>") || in_eog("<|plamo:eos|>")) && in_eog("</s>") {
        if let Some(&i) = index.get("</s>") {
            attrs[i] = NORMAL;
        }
    }
    // Control tokens named "unused" are also marked unused (no effect on tokenizing).
    for (t, a) in tokens.iter().zip(attrs.iter_mut()) {
        if *a & CONTROL != 0 && t.contains("unused") {
            *a |= UNUSED;
        }
    }
    // phi-3: special tokens swallow the whitespace after them.
    let name = get_str(md, "general.name")?.unwrap_or("").to_lowercase();
    if name.contains("phi-3") || name.contains("phi3") {
        for a in attrs.iter_mut() {
            if *a & (CONTROL | USER_DEFINED | UNKNOWN) != 0 {
                *a |= RSTRIP;
            }
        }
        if let Some(&i) = index.get("</s>") {
            attrs[i] |= RSTRIP;
        }
        for t in ["<unk>", "<s>", "<|endoftext|>"] {
            if let Some(&i) = index.get(t) {
                attrs[i] &= !RSTRIP;
            }
        }
    }
    if index.len() != n {
        return Err(TokenizerError::BadKey {
            key: KEY_TOKENS.into(),
            expected: "unique token texts".into(),
            found: format!("{} duplicates", n - index.len()),
        });
    }
    Ok(())
}
