//! The GGUF tokenizer gives exactly llama.cpp's ids: every string of
//! tests/fixtures/tokenizer/strings.json, with and without special-token parsing, against the
//! ids llama.cpp's `llama-tokenize` produced (scripts/tokenizer-fixtures.py); and decoding
//! gives the strings back.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::gguf_file;
use serde::Deserialize;
use summarise::engine::tokenizer::Tokenizer;

#[derive(Deserialize)]
struct Input {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct Fixture {
    model: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    text: String,
    parse_special: Vec<u32>,
    no_parse_special: Vec<u32>,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer")
}

fn read_json<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A readable account of where two id lists first differ.
fn describe_difference(expected: &[u32], actual: &[u32]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    let window = |ids: &[u32]| {
        let from = at.saturating_sub(4);
        let to = (at + 6).min(ids.len());
        format!("[{from}..{to}] {:?}", &ids[from.min(ids.len())..to])
    };
    format!(
        "first difference at position {at} (lengths: llama.cpp {}, ours {})\n    llama.cpp: {}\n    ours:      {}",
        expected.len(),
        actual.len(),
        window(expected),
        window(actual)
    )
}

fn check_model(id: &str) {
    let inputs: Vec<Input> = read_json("strings.json");
    let fixture: Fixture = read_json(&format!("{id}.json"));
    assert_eq!(fixture.model, id);
    let stale: Vec<&str> = inputs
        .iter()
        .zip(&fixture.cases)
        .filter(|(i, c)| i.id != c.id || i.text != c.text)
        .map(|(i, _)| i.id.as_str())
        .collect();
    assert!(
        stale.is_empty() && inputs.len() == fixture.cases.len(),
        "tests/fixtures/tokenizer/{id}.json does not match strings.json (changed: {stale:?}); \
         regenerate it with scripts/tokenizer-fixtures.py MODELS_DIR {id}"
    );

    let Some(path) = common::model_file(id) else {
        println!("SKIP tokenizer parity for {id}: model file not available");
        return;
    };
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let start = Instant::now();
    let tok = Tokenizer::from_gguf(&content).unwrap_or_else(|e| panic!("{id}: {e}"));
    let build = start.elapsed();
    let spm = matches!(
        content.metadata.get("tokenizer.ggml.model"),
        Some(gguf_file::Value::String(m)) if m == "llama"
    );

    let mut failures = Vec::new();
    let mut passed = 0;
    let start = Instant::now();
    for (index, case) in fixture.cases.iter().enumerate() {
        for (parse_special, expected) in
            [(true, &case.parse_special), (false, &case.no_parse_special)]
        {
            let actual = tok
                .encode(&case.text, true, parse_special)
                .unwrap_or_else(|e| panic!("{id} string {index} ({}): {e}", case.id));
            if &actual == expected {
                passed += 1;
            } else {
                failures.push(format!(
                    "string {index} ({:?}, parse_special={parse_special}) text {:?}\n  {}",
                    case.id,
                    case.text.chars().take(80).collect::<String>(),
                    describe_difference(expected, &actual)
                ));
            }
        }
    }
    let encode = start.elapsed();

    // Decoding gives the text back (SentencePiece vocabularies read U+2581 as a space), except
    // for "lossy_" strings: llama.cpp drops bytes that a vocabulary has no token for.
    let mut round_trip_failures = Vec::new();
    for (index, case) in fixture.cases.iter().enumerate() {
        if case.id.starts_with("lossy_") {
            continue;
        }
        let want = if spm {
            case.text.replace('\u{2581}', " ")
        } else {
            case.text.clone()
        };
        for parse_special in [true, false] {
            let ids = tok.encode(&case.text, false, parse_special).unwrap();
            let text = tok.decode(&ids, false).unwrap();
            if text != want {
                round_trip_failures.push(format!(
                    "string {index} ({:?}, parse_special={parse_special}): decoded {:?}",
                    case.id,
                    text.chars().take(80).collect::<String>()
                ));
            }
        }
    }

    println!(
        "tokenizer parity {id}: {passed}/{} encodings identical to llama.cpp; round trips failed: {}; \
         built in {:.0} ms, encoded all in {:.0} ms",
        2 * fixture.cases.len(),
        round_trip_failures.len(),
        build.as_secs_f64() * 1e3,
        encode.as_secs_f64() * 1e3
    );
    assert!(
        failures.is_empty(),
        "{id}: {} of {} encodings differ from llama.cpp:\n{}",
        failures.len(),
        2 * fixture.cases.len(),
        failures.join("\n")
    );
    assert!(
        round_trip_failures.is_empty(),
        "{id}: decode(encode(text)) != text:\n{}",
        round_trip_failures.join("\n")
    );
}

#[test]
fn smollm2_135m_instruct() {
    check_model("smollm2-135m-instruct");
}

#[test]
fn gemma_3_270m() {
    check_model("gemma-3-270m");
}

#[test]
fn qwen2_5_coder_0_5b_instruct() {
    check_model("qwen2.5-coder-0.5b-instruct");
}

#[test]
fn qwen2_5_coder_1_5b_instruct() {
    check_model("qwen2.5-coder-1.5b-instruct");
}

/// A tokenizer.json (here a WordPiece one) loads, and encodes like the `tokenizers` library
/// with its BOS-like leading token from the post-processor.
#[test]
fn tokenizer_json_file() {
    let Some(weights) = common::model_file("all-minilm-l6-v2") else {
        println!("SKIP tokenizer.json check: model files not available");
        return;
    };
    let path = weights.with_file_name("tokenizer.json");
    let tok = Tokenizer::from_file(&path).unwrap();
    let text = "Hello, world! [SEP] Ünïcödé text";
    let encoding = tok.inner().encode(text, false).unwrap();
    // The file pads to a fixed length; `Tokenizer::encode` never pads.
    let reference: Vec<u32> = encoding
        .get_ids()
        .iter()
        .zip(encoding.get_attention_mask())
        .filter(|(_, &m)| m == 1)
        .map(|(&id, _)| id)
        .collect();
    let mut expected = vec![tok.bos_id().expect("[CLS] from the post-processor")];
    expected.extend_from_slice(&reference);
    assert_eq!(tok.encode(text, true, true).unwrap(), expected);
    assert_eq!(tok.encode(text, false, true).unwrap(), reference);
    assert!(!tok
        .encode(text, false, false)
        .unwrap()
        .contains(&tok.token_id("[SEP]").unwrap()));
}
