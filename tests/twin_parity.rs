//! Shape twins and `summarise parity`, the two tools of the GPU check (`scripts/gpu-check.sh`),
//! on the CPU: a twin of the smallest registry model made from its header alone loads with
//! the real loader, tokenizes like the real file and runs `summarise bench`; `summarise
//! parity` passes on the real model (native vs candle on the CPU) and on the twin; garbage
//! headers and missing texts are refused by name. Skips cleanly when the model is not cached.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use summarise::engine::{self, EngineKind};
use summarise::models::twin;

const MODEL: &str = "smollm2-135m-instruct";

fn summarise() -> Command {
    let mut cmd = Command::cargo_bin("summarise").unwrap();
    cmd.env("SUMMARISE_OFFLINE", "1")
        .env_remove("SUMMARISE_MODEL_DIR");
    cmd
}

fn parity_text() -> PathBuf {
    common::fixtures().join("parity").join("text.txt")
}

/// Header and twin of the real model, in `dir`.
fn twin_of(real: &Path, dir: &Path) -> PathBuf {
    let header = dir.join("model.header");
    summarise()
        .args(["models", "header"])
        .arg(real)
        .arg("--out")
        .arg(&header)
        .assert()
        .success();
    let size = std::fs::metadata(&header).unwrap().len();
    assert!(
        size < 8 << 20,
        "a header should be a few MB, got {size} bytes"
    );
    let out = dir.join("twin.gguf");
    summarise()
        .args(["models", "twin"])
        .arg(&header)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

#[test]
fn a_twin_loads_tokenizes_and_benches_like_the_real_file() {
    let Some(real) = common::model_file(MODEL) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let twin_path = twin_of(&real, dir.path());

    // Same size within the padding, same metadata, same tensors.
    let (a, b) = (
        std::fs::metadata(&real).unwrap().len() as f64,
        std::fs::metadata(&twin_path).unwrap().len() as f64,
    );
    assert!((a - b).abs() / a < 0.01, "real {a} bytes, twin {b}");
    let real_c = twin::read_header(&real).unwrap();
    let twin_c = twin::read_header(&twin_path).unwrap();
    assert_eq!(real_c.tensor_infos.len(), twin_c.tensor_infos.len());
    for (name, info) in &real_c.tensor_infos {
        let t = &twin_c.tensor_infos[name];
        assert_eq!(
            (&t.shape, t.ggml_dtype),
            (&info.shape, info.ggml_dtype),
            "{name}"
        );
    }
    assert!(twin_c.metadata[twin::TWIN_KEY].to_bool().unwrap());

    // The real loader, both engines; tokenizer identical; logits finite and not flat.
    let cpu = candle_core::Device::Cpu;
    let text = std::fs::read_to_string(parity_text()).unwrap();
    let real_m = engine::load_gguf(&real, None, &cpu, EngineKind::Native).unwrap();
    for kind in [EngineKind::Native, EngineKind::Candle] {
        let mut m = engine::load_gguf(&twin_path, None, &cpu, kind).unwrap();
        let ids = m.tokenizer.encode(&text, true, false).unwrap();
        assert_eq!(ids, real_m.tokenizer.encode(&text, true, false).unwrap());
        m.lm.reserve(64).unwrap();
        let logits = m.lm.forward(&ids[..32], 0).unwrap();
        assert_eq!(logits.len(), m.tokenizer.vocab_size());
        let (lo, hi) = logits
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        assert!(
            logits.iter().all(|x| x.is_finite()) && hi - lo > 5.0,
            "{kind:?}: {lo}..{hi}"
        );
    }

    // `summarise bench` takes it by path.
    let out = summarise()
        .args([
            "bench",
            "--device",
            "cpu",
            "-r",
            "1",
            "--prompt-tokens",
            "64",
        ])
        .args(["--decode-tokens", "8", "--format", "json", "--model"])
        .arg(&twin_path)
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(report["prefill_tok_s"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["device"], "cpu");
}

#[test]
fn parity_passes_on_the_real_model_and_on_its_twin() {
    let Some(real) = common::model_file(MODEL) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let twin_path = twin_of(&real, dir.path());
    // The last 101 positions of the text (the whole schedule, 339, takes 3 times as long).
    for model in [&real, &twin_path] {
        let mut cmd = summarise();
        cmd.args(["parity", "--device", "cpu", "--format", "json", "--text"])
            .arg(parity_text())
            .arg("--model")
            .arg(model);
        let out = cmd.args(["--prefill", "575"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("{}: {stdout}", model.display());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(r["pass"], true);
        let pair = &r["pairs"][0];
        assert_eq!(
            (&pair["reference"], &pair["other"]),
            (&"cpu-native".into(), &"cpu-candle".into())
        );
        assert_eq!(pair["positions"], 101, "{pair}");
    }

    // A tolerance nobody can meet fails with exit 1 and names the model file.
    summarise()
        .args(["parity", "--device", "cpu", "--min-top1", "1.01"])
        .args(["--prefill", "670", "--text"])
        .arg(parity_text())
        .arg("--model")
        .arg(&real)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("parity failed"))
        .stderr(predicates::str::contains(
            real.file_name().unwrap().to_str().unwrap(),
        ));
}

#[test]
fn garbage_headers_and_missing_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.header");
    std::fs::write(&garbage, vec![0x47u8; 4096]).unwrap();
    summarise()
        .args(["models", "twin"])
        .arg(&garbage)
        .arg("--out")
        .arg(dir.path().join("t.gguf"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("garbage.header"))
        .stderr(predicates::str::contains("models header"));
    summarise()
        .args(["models", "header", "no-such-model", "--out"])
        .arg(dir.path().join("h"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no-such-model"));
    summarise()
        .args(["models", "header"])
        .arg(&garbage)
        .arg("--out")
        .arg(dir.path().join("h"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("garbage.header"));
    summarise()
        .args(["parity", "--device", "cpu", "--text"])
        .arg(dir.path().join("missing.txt"))
        .arg("--model")
        .arg(&garbage)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("missing.txt"));
}
