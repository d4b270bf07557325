//! The real `summarise` binary: help, listing, usage errors and bad input, no model needed.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

/// The binary with an empty model cache and no network sources reachable.
fn summarise(home: &tempfile::TempDir) -> Command {
    let mut cmd = Command::cargo_bin("summarise").unwrap();
    cmd.env("SUMMARISE_HOME", home.path())
        .env("HF_HOME", home.path().join("hf"))
        .env_remove("SUMMARISE_MODEL_DIR")
        .env_remove("SUMMARISE_REGISTRY")
        .env_remove("SUMMARISE_OFFLINE")
        .env_remove("HF_HUB_OFFLINE");
    cmd
}

#[test]
fn help_names_the_subcommands_and_options() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("models"))
        .stdout(predicate::str::contains("--device"))
        .stdout(predicate::str::contains("--offline"))
        .stdout(predicate::str::contains("--format"));
}

#[test]
fn models_list_marks_the_default_and_cache_state() {
    let home = tempfile::tempdir().unwrap();
    let out = summarise(&home).args(["models", "list"]).assert().success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for id in [
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-0.5b-instruct",
        "smollm2-135m-instruct",
        "gemma-3-270m",
        "all-minilm-l6-v2",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "{id} not first on a line:\n{stdout}"
        );
    }
    let defaults: Vec<&&str> = lines.iter().filter(|l| l.contains(" default ")).collect();
    assert_eq!(defaults.len(), 1, "{stdout}");
    // Nothing is cached in an empty home.
    assert!(lines.iter().all(|l| !l.contains("cached")), "{stdout}");
}

#[test]
fn global_flags_work_before_a_subcommand_as_after_it() {
    let home = tempfile::tempdir().unwrap();
    let list = |args: &[&str]| {
        let out = summarise(&home).args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let after = list(&["models", "list", "--offline", "-t", "1"]);
    assert!(after.contains("gemma-3-270m"), "{after}");
    let before = list(&[
        "--offline",
        "-t",
        "1",
        "--engine",
        "native",
        "models",
        "list",
    ]);
    assert_eq!(before, after);
    // The same for a subcommand's own errors: the flag is taken, the subcommand runs.
    summarise(&home)
        .args(["--offline", "models", "path", "smollm2-135m-instruct"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("smollm2-135m-instruct"))
        .stderr(predicate::str::contains("is a folder").not());
}

#[test]
fn no_input_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no input"));
}

#[test]
fn unknown_option_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["--frobnicate", "x.txt"])
        .assert()
        .code(2);
}

#[test]
fn missing_input_file_is_named() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .arg("no-such-article.txt")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such-article.txt"))
        .stderr(predicate::str::contains("no such file"));
}

#[test]
fn garbage_input_is_refused_before_any_model_work() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("photo.jpg");
    std::fs::write(&binary, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00").unwrap();
    summarise(&home)
        .arg(&binary)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("photo.jpg"))
        .stderr(predicate::str::contains("binary"));
    summarise(&home)
        .arg("-")
        .write_stdin(vec![0xc3u8, 0x28, b'a'])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("<stdin>"))
        .stderr(predicate::str::contains("not UTF-8"));
    summarise(&home)
        .arg("-")
        .write_stdin("   \n\n  ")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("empty"));
    // No model was fetched on the way.
    assert!(!home.path().join("models").exists());
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["--device", "cuda"])
        .arg(common::fixtures().join("../../examples/articles/short-council.txt"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--features cuda"));
}

#[test]
fn offline_with_missing_model_names_it_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    for (flag, env) in [
        (Some("--offline"), None),
        (None, Some(("HF_HUB_OFFLINE", "1"))),
    ] {
        let mut cmd = summarise(&home);
        cmd.args(["--model", "smollm2-135m-instruct"])
            .arg(common::fixtures().join("../../examples/articles/short-council.txt"));
        if let Some(flag) = flag {
            cmd.arg(flag);
        }
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.assert()
            .code(1)
            .stderr(predicate::str::contains("smollm2-135m-instruct"))
            .stderr(predicate::str::contains(
                "summarise models pull smollm2-135m-instruct",
            ));
    }
}

#[test]
fn unknown_model_lists_known_ones() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["--model", "gpt-17", "--offline"])
        .arg(common::fixtures().join("../../examples/articles/short-council.txt"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("gpt-17"))
        .stderr(predicate::str::contains("smollm2-135m-instruct"));
}

#[test]
fn malformed_registry_names_entry_and_field() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry.toml");
    std::fs::write(
        &registry,
        "default = \"x\"\n[[model]]\nid = \"x\"\nname = \"X\"\narchitecture = \"llama\"\nkind = \"instruct\"\ntemplate = \"chatml\"\nfiles = []\n",
    )
    .unwrap();
    summarise(&home)
        .env("SUMMARISE_REGISTRY", &registry)
        .args(["models", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("registry.toml"))
        .stderr(predicate::str::contains("context_length"))
        .stderr(predicate::str::contains("`x`"));
}

#[test]
fn verify_with_nothing_cached_says_so() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["models", "verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no models are cached"));
}

#[test]
fn path_of_missing_model_says_how_to_fetch() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["models", "path", "gemma-3-270m"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "summarise models pull gemma-3-270m",
        ));
}

#[test]
fn summarise_offline_env_accepts_1_and_0() {
    let home = tempfile::tempdir().unwrap();
    let article = common::fixtures().join("../../examples/articles/short-council.txt");
    summarise(&home)
        .env("SUMMARISE_OFFLINE", "1")
        .args(["--model", "smollm2-135m-instruct"])
        .arg(&article)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("offline mode is on"));
    summarise(&home)
        .env("SUMMARISE_OFFLINE", "0")
        .args(["models", "list"])
        .assert()
        .success();
}

#[test]
fn unsupported_architecture_is_refused_before_any_download() {
    let home = tempfile::tempdir().unwrap();
    let registry = common::write_tiny_registry(
        home.path(),
        &"0".repeat(64),
        10,
        &[r#"{ kind = "local", path = "/nonexistent/tiny.gguf" }"#.to_string()],
    );
    let text = std::fs::read_to_string(&registry)
        .unwrap()
        .replace(r#"architecture = "llama""#, r#"architecture = "mamba""#);
    std::fs::write(&registry, text).unwrap();
    summarise(&home)
        .env("SUMMARISE_REGISTRY", &registry)
        .args(["--model", "tiny"])
        .arg(common::fixtures().join("../../examples/articles/short-council.txt"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("mamba"))
        .stderr(predicate::str::contains("cannot run yet"));
    assert!(!home.path().join("models").exists());
}

#[test]
fn zero_tokens_or_threads_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for flag in ["--max-tokens", "--threads"] {
        summarise(&home)
            .args([flag, "0", "x.txt"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(flag));
    }
    // Every subcommand takes --threads after its name.
    for command in [
        &["translate", "x.txt", "--to", "en"][..],
        &["quotes", "x.txt"],
        &["eval", "translation", "--src", "a", "--ref", "b"],
        &["bench"],
    ] {
        summarise(&home)
            .args(command)
            .args(["--threads", "0"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--threads"));
    }
}

#[test]
fn beams_out_of_range_or_not_a_number_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 4] = [
        &["translate", "x.txt", "--to", "en"],
        &["quotes", "x.txt", "--to", "en"],
        &["eval", "translation", "--src", "a", "--ref", "b"],
        &["bench"],
    ];
    for value in ["0", "17", "four", "-2"] {
        for command in commands {
            summarise(&home)
                .args(command)
                .arg(format!("--beams={value}"))
                .assert()
                .code(2)
                .stderr(predicate::str::contains("--beams"));
        }
    }
}

#[test]
fn eval_names_the_bad_line_of_its_data_file_before_loading_a_model() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data.jsonl");
    std::fs::write(&data, "{\"id\": \"x\"}\nnot json at all\n").unwrap();
    summarise(&home)
        .args(["eval", "summarization", "--data"])
        .arg(&data)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("data.jsonl:1"))
        .stderr(predicate::str::contains("article_sentences"));
    std::fs::write(&data, "\n\n").unwrap();
    summarise(&home)
        .args(["eval", "summarization", "--data"])
        .arg(&data)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no evaluation records"));
    summarise(&home)
        .args(["eval", "summarization", "--data", "/nonexistent/eval.jsonl"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/eval.jsonl"));
    assert!(!home.path().join("models").exists());
}

#[test]
fn standard_input_can_be_given_once() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["-", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("only once"));
}

/// The default summary needs no model: the article's leading statements, verbatim.
#[test]
fn default_summary_is_extractive_and_needs_no_model() {
    let home = tempfile::tempdir().unwrap();
    let article = common::fixtures().join("../../examples/articles/ferry-strike.txt");
    let text = std::fs::read_to_string(&article).unwrap();
    let out = summarise(&home)
        .args(["--offline", "--format", "json", "--sentences", "2"])
        .arg(&article)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["mode"], "extractive");
    assert!(json["model"].is_null(), "{json}");
    assert_eq!(json["coverage"]["strategy"], "extractive");
    let summary = json["summary"].as_str().unwrap();
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 2, "{summary}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in lines {
        assert!(flat.contains(line), "not verbatim: {line}");
    }
    assert!(json["facts"]["dropped"].as_array().unwrap().is_empty());

    // Bullets lay out the same sentences.
    summarise(&home)
        .args(["--offline", "--style", "bullets", "--length", "short"])
        .arg(&article)
        .assert()
        .success()
        .stdout(predicate::str::is_match("^- .+\n- .+\n$").unwrap());
}

#[test]
fn summary_options_that_cannot_be_met_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let article = common::fixtures().join("../../examples/articles/ferry-strike.txt");
    summarise(&home)
        .args(["--mode", "extractive", "--lang", "es"])
        .arg(&article)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--mode abstractive"));
    for (flag, value) in [
        ("--lang", "klingon"),
        ("--length", "huge"),
        ("--style", "poem"),
        ("--sentences", "0"),
        ("--mode", "magic"),
        ("--context", "10"),
    ] {
        summarise(&home)
            .args([flag, value])
            .arg(&article)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(flag).or(predicate::str::contains(value)));
    }
}

/// Quotations need no model: exact offsets, speakers and language from rules alone.
#[test]
fn quotes_are_found_without_a_model() {
    let home = tempfile::tempdir().unwrap();
    let article = common::fixtures().join("../../examples/articles/ferry-strike.txt");
    let text = std::fs::read_to_string(&article).unwrap();
    let out = summarise(&home)
        .args(["quotes", "--format", "json"])
        .arg(&article)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["lang"], "en");
    let quotes = json["quotes"].as_array().unwrap();
    assert!(quotes.len() >= 2, "{json}");
    for q in quotes {
        let (s, e) = (
            q["start"].as_u64().unwrap() as usize,
            q["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[s..e], q["text"].as_str().unwrap());
        assert!(q["speaker"]["name"].is_string() && q["cue"].is_string() && q["kind"].is_string());
        assert!(q.get("translation").is_none());
    }
    assert_eq!(quotes[0]["speaker"]["name"], "Alma Okafor");

    // The same quotations come with a summary in one run.
    let out = summarise(&home)
        .args(["--quotes", "--format", "json"])
        .arg(&article)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["quotes"].as_array().unwrap().len(), quotes.len());
}

#[test]
fn bad_quote_and_translation_inputs_are_named() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["quotes", "/nonexistent/article.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/nonexistent/article.txt"));
    let binary = dir.path().join("garbage.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
    summarise(&home)
        .args(["quotes"])
        .arg(&binary)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("garbage.bin"));
    summarise(&home)
        .args(["quotes", "--to", "klingon", "x.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("klingon"));
    let (src, reference) = (dir.path().join("src.txt"), dir.path().join("ref.txt"));
    std::fs::write(&src, "uno\ndos\n").unwrap();
    std::fs::write(&reference, "one\n").unwrap();
    summarise(&home)
        .args(["eval", "translation", "--src"])
        .arg(&src)
        .arg("--ref")
        .arg(&reference)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("same number of lines"));
    let jsonl = dir.path().join("pairs.jsonl");
    std::fs::write(&jsonl, "{\"src\": \"uno\", \"ref\": \"one\"}\nnot json\n").unwrap();
    summarise(&home)
        .args(["eval", "translation", "--jsonl"])
        .arg(&jsonl)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pairs.jsonl:2"));
    let passages = dir.path().join("passages.jsonl");
    std::fs::write(&passages, "{\"id\": 3}\n").unwrap();
    summarise(&home)
        .args(["eval", "quotes", "--data"])
        .arg(&passages)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("passages.jsonl:1"));
}

#[test]
fn eval_quotes_meets_its_bars_on_both_annotated_sets() {
    let home = tempfile::tempdir().unwrap();
    for set in ["passages.jsonl", "heldout.jsonl"] {
        let out = summarise(&home)
            .args(["eval", "quotes", "--format", "json", "--data"])
            .arg(common::fixtures().join("quotes").join(set))
            .assert()
            .success();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert!(json["precision"].as_f64().unwrap() >= 0.98, "{set}: {json}");
        assert!(json["recall"].as_f64().unwrap() >= 0.95, "{set}: {json}");
        assert!(
            json["speaker_accuracy"].as_f64().unwrap() >= 0.90,
            "{set}: {json}"
        );
    }
}

#[test]
fn bench_task_summarise_names_missing_articles_before_any_model_work() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["bench", "--task", "summarise", "--offline"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs articles"));
    summarise(&home)
        .args([
            "bench",
            "--task",
            "summarise",
            "--offline",
            "no-such-article.txt",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no-such-article.txt"));
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.txt");
    std::fs::write(&binary, b"\x00\x01\x02garbage").unwrap();
    summarise(&home)
        .args(["bench", "--task", "summarise", "--offline"])
        .arg(&binary)
        .assert()
        .failure()
        .stderr(predicate::str::contains("binary.txt"));
    summarise(&home)
        .args(["bench", "--offline", "an-article.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--task summarise"));
}

#[test]
fn speculate_and_no_speculate_together_are_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    summarise(&home)
        .args(["--speculate", "--no-speculate", "article.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--no-speculate"));
    // Either one alone goes before a subcommand or after it.
    summarise(&home)
        .args(["--no-speculate", "models", "list"])
        .assert()
        .success();
    summarise(&home)
        .args(["models", "list", "--speculate"])
        .assert()
        .success();
}

#[test]
fn batch_sizes_out_of_range_or_not_numbers_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for bad in ["0", "8", "four", "-1"] {
        summarise(&home)
            .args(["--batch", bad, "article.txt", "other.txt"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("'{bad}'")));
    }
}
