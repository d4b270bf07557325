//! Unit tests on small hand-made vocabularies (no model files needed).

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value, VersionedMagic};

use super::{Tokenizer, TokenizerError};

fn content(metadata: Vec<(&str, Value)>) -> Content {
    Content {
        magic: VersionedMagic::GgufV3,
        metadata: metadata
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<HashMap<_, _>>(),
        tensor_infos: HashMap::new(),
        tensor_data_offset: 0,
    }
}

fn strs(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// GPT-2's byte -> printable character table.
fn byte_chars() -> Vec<char> {
    let printable: Vec<u32> = (0x21..=0x7e)
        .chain(0xa1..=0xac)
        .chain(0xae..=0xff)
        .collect();
    let mut map = vec!['\0'; 256];
    for &b in &printable {
        map[b as usize] = char::from_u32(b).unwrap();
    }
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            map[b as usize] = char::from_u32(256 + n).unwrap();
            n += 1;
        }
    }
    map
}

/// A tiny byte-level BPE vocabulary: the 256 byte characters, a few merges, and special tokens.
fn gpt2_content(pre: &str) -> Content {
    let bc = byte_chars();
    let mut tokens: Vec<String> = bc.iter().map(|c| c.to_string()).collect();
    let sp = bc[b' ' as usize];
    let merges = vec![
        format!("{sp} h"),
        "h e".to_string(),
        "l l".to_string(),
        format!("{sp}h e"),
        "he ll".to_string(),
        "' s".to_string(),
        "1 2".to_string(),
    ];
    for m in &merges {
        tokens.push(m.replace(' ', ""));
    }
    let mut types = vec![1; tokens.len()];
    for (t, ty) in [
        ("<|im_start|>", 3),
        ("<|im_end|>", 3),
        ("<tool>", 4),
        ("</s>", 1),
    ] {
        tokens.push(t.to_string());
        types.push(ty);
    }
    content(vec![
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.pre", s(pre)),
        ("tokenizer.ggml.tokens", strs(&tokens)),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.merges", strs(&merges)),
        ("tokenizer.ggml.eos_token_id", Value::U32(257)),
    ])
}

/// A tiny SentencePiece vocabulary with byte fallback.
fn spm_content(add_space_prefix: bool, pieces: &[(&str, f32, i32)]) -> Content {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    let mut scores = vec![0.0f32; 3];
    let mut types = vec![2, 3, 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(6);
    }
    for &(t, score, ty) in pieces {
        tokens.push(t.to_string());
        scores.push(score);
        types.push(ty);
    }
    content(vec![
        ("tokenizer.ggml.model", s("llama")),
        ("tokenizer.ggml.tokens", strs(&tokens)),
        (
            "tokenizer.ggml.scores",
            Value::Array(scores.into_iter().map(Value::F32).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        (
            "tokenizer.ggml.add_space_prefix",
            Value::Bool(add_space_prefix),
        ),
    ])
}

fn pieces(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&id| tok.inner().id_to_token(id).unwrap())
        .collect()
}

#[test]
fn missing_tokens_key_is_named() {
    let c = content(vec![("tokenizer.ggml.model", s("gpt2"))]);
    let err = Tokenizer::from_gguf(&c).unwrap_err();
    assert!(matches!(err, TokenizerError::MissingKey { .. }), "{err:?}");
    assert!(err.to_string().contains("tokenizer.ggml.tokens"), "{err}");
}

#[test]
fn missing_model_key_is_named() {
    let err = Tokenizer::from_gguf(&content(vec![])).unwrap_err();
    assert!(err.to_string().contains("tokenizer.ggml.model"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let c = content(vec![
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.tokens", Value::U32(3)),
    ]);
    let err = Tokenizer::from_gguf(&c).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.ggml.tokens") && err.contains("array"),
        "{err}"
    );
}

#[test]
fn unknown_pre_tokenizer_is_refused() {
    let err = Tokenizer::from_gguf(&gpt2_content("made-up-pre"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.ggml.pre"), "{err}");
    assert!(err.contains("made-up-pre"), "{err}");
    assert!(err.contains("refusing to guess"), "{err}");
}

#[test]
fn unknown_model_is_refused() {
    let mut c = gpt2_content("qwen2");
    c.metadata.insert("tokenizer.ggml.model".into(), s("bert"));
    let err = Tokenizer::from_gguf(&c).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.ggml.model") && err.contains("bert"),
        "{err}"
    );
}

#[test]
fn gpt2_merges_and_specials() {
    let tok = Tokenizer::from_gguf(&gpt2_content("qwen2")).unwrap();
    assert_eq!(tok.vocab_size(), 256 + 7 + 4);
    let sp = byte_chars()[b' ' as usize];
    let ids = tok.encode("hell he's", false, true).unwrap();
    assert_eq!(
        pieces(&tok, &ids),
        ["hell", &format!("{sp}he"), "'s"].map(String::from)
    );
    assert_eq!(tok.decode(&ids, false).unwrap(), "hell he's");

    let start = tok.token_id("<|im_start|>").unwrap();
    let end = tok.token_id("<|im_end|>").unwrap();
    let tool = tok.token_id("<tool>").unwrap();
    let ids = tok
        .encode("<|im_start|>he<tool><|im_end|>", false, true)
        .unwrap();
    assert_eq!(ids, vec![start, tok.token_id("he").unwrap(), tool, end]);
    // Without parse_special, control tokens are text but USER_DEFINED ones are still split.
    let ids = tok.encode("<|im_start|>he<tool>", false, false).unwrap();
    assert!(!ids.contains(&start), "{ids:?}");
    assert_eq!(ids.last(), Some(&tool));
    assert_eq!(tok.decode(&ids, false).unwrap(), "<|im_start|>he<tool>");
    // Decoding can skip control tokens.
    assert_eq!(tok.decode(&[start, tool, end], true).unwrap(), "<tool>");
    // "</s>" is NORMAL in the file, but llama.cpp treats it as a control token.
    let eos_like = tok.token_id("</s>").unwrap();
    assert_eq!(
        tok.encode("a</s>", false, true).unwrap().last(),
        Some(&eos_like)
    );
    assert!(!tok
        .encode("a</s>", false, false)
        .unwrap()
        .contains(&eos_like));
    // No BOS by default for qwen2; the default BOS id 11 is a byte token here.
    assert_eq!(tok.encode("", true, true).unwrap(), Vec::<u32>::new());
    assert_eq!(tok.eos_id(), Some(257));
}

#[test]
fn gpt2_regex_families_split_digits_as_llama_cpp_does() {
    // With a "1 2" merge, only pre-tokenizers that keep "12" in one piece can use it:
    // GPT-2 (` ?\p{N}+`) and Llama 3 (`\p{N}{1,3}`), not SmolLM or Qwen2 (one digit each).
    for (pre, merged) in [
        ("gpt-2", true),
        ("llama3", true),
        ("smollm", false),
        ("qwen2", false),
    ] {
        let tok = Tokenizer::from_gguf(&gpt2_content(pre)).unwrap();
        let ids = tok.encode("x 12", false, true).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), "x 12");
        let twelve = tok.token_id("12").unwrap();
        assert_eq!(ids.contains(&twelve), merged, "{pre}: {ids:?}");
    }
    // llama3 also adds BOS by default (id 11 here).
    let tok = Tokenizer::from_gguf(&gpt2_content("llama3")).unwrap();
    assert_eq!(tok.encode("", true, true).unwrap(), vec![11]);
}

#[test]
fn partition_is_longest_token_first() {
    let mut c = gpt2_content("qwen2");
    let Some(Value::Array(tokens)) = c.metadata.get_mut("tokenizer.ggml.tokens") else {
        unreachable!()
    };
    tokens.push(s("ab"));
    tokens.push(s("bcd"));
    let Some(Value::Array(types)) = c.metadata.get_mut("tokenizer.ggml.token_type") else {
        unreachable!()
    };
    types.push(Value::I32(4));
    types.push(Value::I32(4));
    let tok = Tokenizer::from_gguf(&c).unwrap();
    let ids = tok.encode("abcd ab", false, false).unwrap();
    // llama.cpp cuts "bcd" first (longer), then "ab": a|bcd| |ab.
    let bcd = tok.token_id("bcd").unwrap();
    let ab = tok.token_id("ab").unwrap();
    assert_eq!(
        ids,
        vec![
            tok.token_id("a").unwrap(),
            bcd,
            tok.token_id(&byte_chars()[32].to_string()).unwrap(),
            ab
        ]
    );
}

#[test]
fn spm_merges_by_score_with_leftmost_ties_and_byte_fallback() {
    let sp = "\u{2581}";
    let c = spm_content(
        true,
        &[
            (sp, -1.0, 1),
            ("a", -2.0, 1),
            ("b", -3.0, 1),
            ("ab", -4.0, 1),
            ("ba", -5.0, 1),
            ("aba", -6.0, 1),
            (&format!("{sp}a"), -7.0, 1),
            ("<ctl>", 0.0, 3),
        ],
    );
    let tok = Tokenizer::from_gguf(&c).unwrap();
    assert_eq!(tok.bos_id(), Some(1));
    assert_eq!(tok.eos_id(), Some(2));
    // "▁ababa": ab(-4) beats ba(-5) and ▁a(-7); leftmost "ab" first, then "ab" again,
    // leaving "a"; then "aba" (-6) from "ab"+"a" beats "▁a" (-7).
    let ids = tok.encode("ababa", true, true).unwrap();
    assert_eq!(ids[0], 1, "BOS first: the SPM default");
    assert_eq!(pieces(&tok, &ids[1..]), [sp, "ab", "aba"]);
    assert_eq!(tok.decode(&ids, true).unwrap(), "ababa");
    // Unknown characters fall back to their UTF-8 bytes.
    let ids = tok.encode("é", false, true).unwrap();
    assert_eq!(pieces(&tok, &ids), [sp, "<0xC3>", "<0xA9>"]);
    assert_eq!(tok.decode(&ids, false).unwrap(), "é");
    // Each fragment after a special token gets its own space prefix.
    let ids = tok.encode("a<ctl>a", false, true).unwrap();
    let ctl = tok.token_id("<ctl>").unwrap();
    let sa = tok.token_id(&format!("{sp}a")).unwrap();
    assert_eq!(ids, vec![sa, ctl, sa]);
}

#[test]
fn spm_without_space_prefix() {
    let c = spm_content(
        false,
        &[
            ("\u{2581}", -1.0, 1),
            ("a", -2.0, 1),
            ("\u{2581}a", -3.0, 1),
        ],
    );
    let tok = Tokenizer::from_gguf(&c).unwrap();
    let ids = tok.encode("a a", false, true).unwrap();
    assert_eq!(pieces(&tok, &ids), ["a", "\u{2581}a"]);
    assert_eq!(tok.decode(&ids, false).unwrap(), "a a");
}

#[test]
fn decode_rejects_ids_outside_the_vocabulary() {
    let tok = Tokenizer::from_gguf(&gpt2_content("qwen2")).unwrap();
    let err = tok.decode(&[1, 100_000], false).unwrap_err();
    assert!(
        matches!(err, TokenizerError::BadId { id: 100_000, .. }),
        "{err:?}"
    );
}
