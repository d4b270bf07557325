//! A real small model from the registry (SmolLM2-135M, fetched by the test setup) summarises an
//! article we wrote, through the library and through the binary; a corrupted cached copy is
//! named by `models verify` and refused by a run.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use summarise::engine::device::{self, DeviceChoice};
use summarise::tasks::model::ModelSpec;
use summarise::tasks::summarise::{Length, Mode, Summariser, SummaryOptions};
use summarise::text::input;

const ID: &str = "smollm2-135m-instruct";

fn article() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/articles/ferry-strike.txt")
}

/// A private model home holding a copy of the real model file (never a link: tests corrupt it).
fn home_with_model(weights: &std::path::Path) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("models").join(ID);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(weights, dir.join(weights.file_name().unwrap())).unwrap();
    home
}

fn cmd(home: &tempfile::TempDir) -> Command {
    let mut cmd = Command::cargo_bin("summarise").unwrap();
    cmd.env("SUMMARISE_HOME", home.path())
        .env("HF_HOME", home.path().join("hf"))
        .env_remove("SUMMARISE_MODEL_DIR")
        .env_remove("SUMMARISE_REGISTRY")
        .env_remove("HF_HUB_OFFLINE");
    cmd
}

/// Run `summarise` with `args` then `path`, expect success, and parse its JSON output.
fn run_json(home: &tempfile::TempDir, args: &[&str], path: &std::path::Path) -> serde_json::Value {
    let out = cmd(home).args(args).arg(path).assert().success();
    serde_json::from_slice(&out.get_output().stdout).expect("JSON output")
}

#[test]
fn library_summary_is_deterministic_and_reports_counts() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let registry = summarise::models::Registry::load().unwrap();
    let entry = registry.require(ID).unwrap();
    let spec = ModelSpec {
        id: ID.into(),
        path: weights,
        tokenizer: None,
        sha256: entry.weights().sha256.clone(),
        template: entry.template,
        stop: entry.stop.clone(),
        sampling: entry.sampling,
        prompts: registry.prompts.clone(),
    };
    let device = device::open(DeviceChoice::Cpu).unwrap();
    let mut s =
        Summariser::new(Some(spec), &device, summarise::engine::EngineKind::Native).unwrap();
    let text = input::read(article().to_str().unwrap()).unwrap();
    let mut options = SummaryOptions::new(Length::Medium);
    options.mode = Mode::Abstractive;
    options.max_tokens = Some(48);
    options.temperature = Some(0.0);
    options.seed = 1;
    let mut streamed = String::new();
    let a = s
        .summarise(&text, &options, &mut |p| streamed.push_str(p))
        .unwrap();
    assert!(!a.summary.is_empty());
    assert_eq!(streamed.trim(), a.summary);
    assert!(a.prompt_tokens > 200, "{}", a.prompt_tokens);
    assert!(a.generated_tokens >= 1 && a.generated_tokens <= 48);
    // Greedy decoding is deterministic, also on a reused model.
    let b = s.summarise(&text, &options, &mut |_| {}).unwrap();
    assert_eq!(a.summary, b.summary);
}

#[test]
fn binary_prints_json_summary_offline() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let json = run_json(
        &home,
        &[
            "--model",
            ID,
            "--offline",
            "--format",
            "json",
            "--max-tokens",
            "64",
        ],
        &article(),
    );
    assert!(
        !json["summary"].as_str().unwrap().trim().is_empty(),
        "{json}"
    );
    assert_eq!(json["model"]["id"], ID);
    assert_eq!(
        json["model"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(json["device"], "cpu");
    for key in [
        "prompt_tokens",
        "generated_tokens",
        "prefill_tok_s",
        "decode_tok_s",
        "seconds",
        "load_s",
    ] {
        assert!(json[key].as_f64().unwrap() > 0.0, "{key}: {json}");
    }

    // Text format, from stdin, with a model given by path.
    cmd(&home)
        .args(["--offline", "--max-tokens", "16", "--model"])
        .arg(&weights)
        .arg("-")
        .write_stdin(std::fs::read_to_string(article()).unwrap())
        .assert()
        .success()
        .stdout(predicate::str::is_empty().not());
}

#[test]
fn flipped_byte_is_named_by_verify_and_refused_by_a_run() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    cmd(&home)
        .args(["models", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OK"));

    let cached = home
        .path()
        .join("models")
        .join(ID)
        .join(weights.file_name().unwrap());
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&cached)
        .unwrap();
    let mut byte = [0u8];
    f.seek(SeekFrom::Start(5_000_000)).unwrap();
    f.read_exact(&mut byte).unwrap();
    f.seek(SeekFrom::Start(5_000_000)).unwrap();
    f.write_all(&[byte[0] ^ 0x01]).unwrap();
    drop(f);

    let file_name = weights.file_name().unwrap().to_string_lossy().into_owned();
    // A run notices the change (size/mtime differ from the verified stamp), re-hashes, refuses.
    cmd(&home)
        .args(["--model", ID, "--offline"])
        .arg(article())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("corrupt"))
        .stderr(predicate::str::contains(file_name.as_str()))
        .stderr(predicate::str::contains("summarise models pull"));
    cmd(&home)
        .args(["models", "verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("CORRUPT"))
        .stdout(predicate::str::contains(file_name.as_str()))
        .stderr(predicate::str::contains("corrupt"));
    // Offline, pull cannot repair it and says the file is corrupt (not "missing").
    cmd(&home)
        .args(["models", "pull", ID, "--offline"])
        .env_remove("SUMMARISE_MODEL_DIR")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("corrupt"));
}

#[test]
fn article_longer_than_the_context_is_cut_to_ranked_sentences_and_says_so() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long-article.txt");
    let text = std::fs::read_to_string(article()).unwrap();
    std::fs::write(&long, text.repeat(3)).unwrap();
    let json = run_json(
        &home,
        &[
            "--model",
            ID,
            "--offline",
            "--format",
            "json",
            "--context",
            "512",
        ],
        &long,
    );
    let c = &json["coverage"];
    assert_eq!(c["strategy"], "selected", "{json}");
    let (tokens_in, used) = (
        c["tokens_in"].as_u64().unwrap(),
        c["tokens_used"].as_u64().unwrap(),
    );
    assert!(used > 100 && used < tokens_in && tokens_in > 800, "{c}");
    assert!(
        c["sentences_used"].as_u64() < c["sentences_in"].as_u64(),
        "{c}"
    );
    assert!(json["prompt_tokens"].as_u64().unwrap() <= 512, "{json}");
    assert!(!json["summary"].as_str().unwrap().is_empty());

    // A context too small for the instructions and the answer is named, with the fix.
    cmd(&home)
        .args(["--model", ID, "--offline", "--context", "64"])
        .arg(&long)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("long-article.txt"))
        .stderr(predicate::str::contains("context of 64 tokens"));
}

#[test]
fn eval_summarization_reports_the_fixed_keys() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let data = common::fixtures().join("eval/mini.jsonl");
    let v = run_json(
        &home,
        &[
            "eval",
            "summarization",
            "--format",
            "json",
            "--model",
            ID,
            "--offline",
            "--data",
        ],
        &data,
    );
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec![
        "n",
        "rouge1",
        "rouge2",
        "rougeLsum",
        "secs_per_article_median",
        "unsupported_facts",
        "baselines",
    ];
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(v["n"], 2);
    let b = v["baselines"].as_object().unwrap();
    for system in ["lead3", "bart", "bert_sum", "bus", "pgn", "s2s"] {
        for metric in ["rouge1", "rouge2", "rougeLsum"] {
            assert!(b[system][metric].as_f64().is_some(), "{system}.{metric}");
        }
    }
    assert!(v["rouge1"].as_f64().unwrap() > 0.0);
}

#[test]
fn web_clutter_is_removed_and_reported() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let article = common::fixtures().join("../../examples/articles/dirty-harbour.txt");
    let v = run_json(
        &home,
        &["--model", ID, "--offline", "--format", "json"],
        &article,
    );
    let rules: Vec<&str> = v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "byline",
            "timestamp",
            "share-subscribe",
            "photo-credit",
            "related-link",
            "advert-cookie",
            "share-subscribe",
            "comment-form",
            "comment-form"
        ]
    );
    let summary = v["summary"].as_str().unwrap().to_lowercase();
    for clutter in ["subscribe", "comment", "getty", "you can also read"] {
        assert!(
            !summary.contains(clutter),
            "summary holds {clutter:?}: {summary}"
        );
    }
}

#[test]
fn an_article_of_only_clutter_is_refused_by_name() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("only-clutter.txt");
    std::fs::write(
        &junk,
        "Share this article\n\nAdvertisement\nPlease enter your comment!\n",
    )
    .unwrap();
    cmd(&home)
        .args(["--model", ID, "--offline"])
        .arg(&junk)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("only-clutter.txt"))
        .stderr(predicate::str::contains("web clutter"));
}

#[test]
fn several_files_share_one_model_and_a_bad_one_loses_no_work() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.txt");
    std::fs::write(&binary, b"\x00\x01garbage").unwrap();
    let examples = common::fixtures().join("../../examples/articles");
    let out = cmd(&home)
        .args([
            "--model",
            ID,
            "--offline",
            "--format",
            "jsonl",
            "--max-tokens",
            "48",
        ])
        .arg(examples.join("short-council.txt"))
        .arg(&binary)
        .arg(examples.join("dirty-harbour.txt"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("binary.txt"))
        .stderr(predicate::str::contains("1 of 3 inputs"))
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["input"]
        .as_str()
        .unwrap()
        .ends_with("short-council.txt"));
    assert!(lines[1]["input"]
        .as_str()
        .unwrap()
        .ends_with("dirty-harbour.txt"));
}

#[test]
fn summaries_decoded_together_are_those_written_one_at_a_time() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "  \n").unwrap();
    let examples = common::fixtures().join("../../examples/articles");
    let run = |batch: &str| -> Vec<serde_json::Value> {
        let out = cmd(&home)
            .args(["--model", ID, "--offline", "--format", "jsonl"])
            .args(["--max-tokens", "40", "--batch", batch])
            .arg(examples.join("ferry-strike.txt"))
            .arg(examples.join("short-council.txt"))
            .arg(&empty)
            .arg(examples.join("dirty-harbour.txt"))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("empty.txt"))
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (alone, together) = (run("1"), run("2"));
    assert_eq!(alone.len(), 3);
    assert_eq!(together.len(), 3);
    for (a, t) in alone.iter().zip(&together) {
        assert_eq!(a["input"], t["input"]);
        assert_eq!(a["summary"], t["summary"], "{}", a["input"]);
        assert_eq!(a["generated_tokens"], t["generated_tokens"]);
        assert_eq!(a["batch"], 1);
        assert_eq!(t["batch"], 3);
    }
}

#[test]
#[cfg(unix)]
fn a_missing_or_broken_llama_bench_is_a_clear_error() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let args = [
        "bench",
        "--model",
        ID,
        "--offline",
        "--vs-llamacpp",
        "-r",
        "1",
    ];
    cmd(&home)
        .args(args)
        .env(
            "SUMMARISE_LLAMA_BENCH",
            home.path().join("no-such-llama-bench"),
        )
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-llama-bench"))
        .stderr(predicate::str::contains("just bench-anchor"));
    // A program that prints garbage in place of llama-bench's JSON.
    let fake = home.path().join("fake-llama-bench");
    std::fs::write(&fake, "#!/bin/sh\necho 'this is not json'\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    cmd(&home)
        .args(args)
        .env("SUMMARISE_LLAMA_BENCH", &fake)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot read llama-bench's JSON output",
        ));
}

/// Hybrid summaries shorten the extractive sentences, but every word stays the article's own,
/// in the article's order.
#[test]
fn hybrid_summary_only_leaves_words_out() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let json = run_json(
        &home,
        &[
            "--model",
            ID,
            "--offline",
            "--format",
            "json",
            "--mode",
            "hybrid",
        ],
        &article(),
    );
    assert_eq!(json["mode"], "hybrid");
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let source = words(&std::fs::read_to_string(article()).unwrap());
    let summary = json["summary"].as_str().unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
    for line in summary.lines() {
        let mut at = 0;
        for w in words(line) {
            match source[at..].iter().position(|s| *s == w) {
                Some(k) => at += k + 1,
                None => panic!("`{w}` of {line:?} is not the article's next word"),
            }
        }
    }
    assert!(json["generated_tokens"].as_u64().unwrap() > 0, "{json}");
}

/// Translation runs end to end with a real model: `translate` keeps every sentence, and
/// `quotes --to` adds translations in the target language's marks without touching the quote.
#[test]
fn translate_and_quote_translation_run_with_a_real_model() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let es = dir.path().join("noticia.txt");
    let text = "La alcaldesa Ana Ruiz habló el lunes.\n\n«Vamos a reconstruir el muelle antes del verano», dijo Ruiz.\n";
    std::fs::write(&es, text).unwrap();
    // Greedy, as one document (the second sentence asked after the first), and with a beam
    // search: every sentence comes back each way.
    for extra in [&[][..], &["--document"], &["--beams", "3"]] {
        let args = [
            "translate",
            "--to",
            "en",
            "--format",
            "json",
            "-m",
            ID,
            "--offline",
        ];
        let json = run_json(&home, &[&args[..], extra].concat(), &es);
        assert_eq!(json["from"], "es", "{extra:?}");
        let sentences = json["sentences"].as_array().unwrap();
        assert_eq!(sentences.len(), 2, "{extra:?}: {json}");
        assert!(
            sentences
                .iter()
                .all(|s| !s["translation"].as_str().unwrap().trim().is_empty()),
            "{extra:?}: {json}"
        );
        if extra == ["--document"] {
            let second = sentences[1]["translation"].as_str().unwrap();
            assert!(second.contains("Ruiz"), "{json}");
        }
    }

    // Greedy and with a beam search: the quotation stays exactly as written, and its
    // translation comes in the target language's marks.
    for extra in [&[][..], &["--beams", "3"]] {
        let args = [
            "quotes",
            "--to",
            "en",
            "--format",
            "json",
            "-m",
            ID,
            "--offline",
        ];
        let json = run_json(&home, &[&args[..], extra].concat(), &es);
        let q = &json["quotes"][0];
        assert_eq!(q["text"], "Vamos a reconstruir el muelle antes del verano");
        assert_eq!(q["speaker"]["name"], "Ana Ruiz");
        assert_eq!(q["lang"], "es");
        let t = q["translation"].as_str().unwrap();
        assert!(
            t.starts_with('“') && t.ends_with('”') && t.chars().count() > 4,
            "{extra:?}: {t}"
        );
    }
}

/// `quotes --model-speakers`: a quotation with no cue gets a speaker only from the article's
/// names (or none), marked as the model's; the rules' records are unchanged.
#[test]
fn model_speakers_come_only_from_the_article() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pier.txt");
    let text = "Mayor Ana Ruiz opened the new pier on Monday. Harbour master Tomas Leal stood \
                beside her.\n\n\"This pier will carry twice the traffic of the old one.\" The \
                crowd cheered.\n\n\"We will rebuild the old pier before the summer,\" Ruiz said.\n";
    std::fs::write(&path, text).unwrap();
    let args = ["quotes", "--format", "json", "-m", ID, "--offline"];
    let rules = run_json(&home, &args, &path);
    assert_eq!(rules["quotes"].as_array().unwrap().len(), 1, "{rules}");
    let json = run_json(&home, &[&args[..], &["--model-speakers"]].concat(), &path);
    let quotes = json["quotes"].as_array().unwrap();
    let ruled: Vec<_> = quotes
        .iter()
        .filter(|q| q["attributed_by"] == "rules")
        .collect();
    assert_eq!(ruled.len(), 1, "{json}");
    assert_eq!(ruled[0], &rules["quotes"][0]);
    for q in quotes.iter().filter(|q| q["attributed_by"] == "model") {
        assert_eq!(
            q["text"],
            "This pier will carry twice the traffic of the old one."
        );
        let name = q["speaker"]["name"].as_str().unwrap();
        assert!(["Ana Ruiz", "Tomas Leal"].contains(&name), "{json}");
        assert!(q["confidence"].as_f64().unwrap() <= 0.5, "{json}");
    }
}

/// `bench` reports decode against the memory floor; the weight bytes a token reads are the
/// layer matrices, the output matrix and one embedding row, as the file's tensor table gives
/// their sizes.
#[test]
fn bench_reports_the_memory_floor_from_the_files_tensor_sizes() {
    let Some(weights) = common::model_file(ID) else {
        return;
    };
    let home = home_with_model(&weights);
    let out = cmd(&home)
        .args([
            "bench",
            "--model",
            ID,
            "--offline",
            "-r",
            "1",
            "--format",
            "json",
        ])
        .args(["--prompt-tokens", "8", "--decode-tokens", "4"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let floor = &json["decode_floor"];

    let mut file = std::fs::File::open(&weights).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let size = |name: &str| {
        content
            .tensor_infos
            .get(name)
            .map(|t| t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size())
    };
    let mut bytes = 0;
    for (name, _) in content.tensor_infos.iter() {
        let matrix = [
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
        ]
        .iter()
        .any(|m| name.starts_with("blk.") && name.ends_with(&format!(".{m}.weight")));
        if matrix {
            bytes += size(name).unwrap();
        }
    }
    let embd = size("token_embd.weight").unwrap();
    let rows = content.tensor_infos["token_embd.weight"].shape.dims()[0];
    bytes += size("output.weight").unwrap_or(embd) + embd / rows;
    let mib = (bytes as f64 / (1 << 20) as f64 * 10.0).round() / 10.0;
    assert_eq!(
        floor["weight_mib_per_token"].as_f64().unwrap(),
        mib,
        "{json}"
    );
    assert!(floor["read_gib_s"].as_f64().unwrap() > 0.0, "{json}");
    let share = floor["share"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.5, "{json}");
}

#[test]
fn quotations_translated_together_are_those_translated_one_at_a_time() {
    use summarise::tasks::translate::{QuoteRequest, Translator};
    use summarise::text::lang::Lang;
    if common::model_file(ID).is_none() {
        return;
    }
    let registry = summarise::models::Registry::load().unwrap();
    let spec = summarise::tasks::model::resolve(Some(ID), &registry, true).unwrap();
    let mut loaded = summarise::tasks::model::Loaded::new(
        spec,
        &candle_core::Device::Cpu,
        summarise::engine::EngineKind::Native,
    )
    .unwrap();
    let (es, en) = (Lang::parse("es").unwrap(), Lang::parse("en").unwrap());
    // Quotations we wrote, of different lengths, so the answers end at different steps.
    let quotes = [
        ("No vamos a cerrar el puerto", "Marta Quiroga", "«No vamos a cerrar el puerto», dijo Marta Quiroga."),
        ("Los barcos esperan desde el lunes y nadie nos dice cuándo podrán salir", "el capitán", "«Los barcos esperan desde el lunes y nadie nos dice cuándo podrán salir», se quejó el capitán."),
        ("Es una buena noticia", "la alcaldesa", "«Es una buena noticia», afirmó la alcaldesa."),
    ];
    let requests: Vec<QuoteRequest> = quotes
        .iter()
        .map(|&(text, speaker, context)| QuoteRequest {
            text,
            speaker,
            context,
            from: es,
        })
        .collect();
    let mut t = Translator::new(&mut loaded);
    let alone: Vec<String> = quotes
        .iter()
        .map(|&(text, speaker, context)| t.quote(text, speaker, context, es, en).unwrap())
        .collect();
    let together = t.quotes(&requests, en, 2).unwrap();
    assert_eq!(alone, together);
    assert!(
        together
            .iter()
            .all(|q| q.starts_with('“') && q.ends_with('”')),
        "{together:?}"
    );
}
