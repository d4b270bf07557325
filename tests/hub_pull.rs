//! `summarise models pull` through the real hf-hub download path, against a Hub look-alike on
//! 127.0.0.1: fetch, no-op second pull, checksum mismatch, source fallback, offline use.

mod common;

use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::hub_server::{sha256_hex, HubFile, HubServer};
use predicates::prelude::*;

const REPO: &str = "acme/tiny-GGUF";

fn bytes() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn hub_source(file: &str) -> String {
    format!(r#"{{ kind = "hub", repo = "{REPO}", file = "{file}" }}"#)
}

struct Env {
    _cfg: tempfile::TempDir,
    home: tempfile::TempDir,
    hf_home: tempfile::TempDir,
    registry: std::path::PathBuf,
    endpoint: String,
}

impl Env {
    fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("summarise").unwrap();
        cmd.env("SUMMARISE_HOME", self.home.path())
            .env("SUMMARISE_REGISTRY", &self.registry)
            .env("HF_HOME", self.hf_home.path())
            .env("HF_ENDPOINT", &self.endpoint)
            .env_remove("HF_HUB_OFFLINE")
            .env_remove("SUMMARISE_OFFLINE");
        cmd
    }

    fn cached(&self) -> std::path::PathBuf {
        self.home.path().join("models/tiny/tiny.gguf")
    }
}

fn setup(server: &HubServer, sha256: &str, sources: &[String]) -> Env {
    let cfg = tempfile::tempdir().unwrap();
    let registry = common::write_tiny_registry(cfg.path(), sha256, bytes().len(), sources);
    Env {
        _cfg: cfg,
        home: tempfile::tempdir().unwrap(),
        hf_home: tempfile::tempdir().unwrap(),
        registry,
        endpoint: server.endpoint(),
    }
}

#[test]
fn pull_fetches_verifies_and_second_pull_is_a_fast_no_op() {
    let server = HubServer::start(vec![HubFile::new(REPO, "main", "tiny.gguf", bytes())]);
    let env = setup(&server, &sha256_hex(&bytes()), &[hub_source("tiny.gguf")]);

    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "fetched from hub acme/tiny-GGUF/tiny.gguf@main",
        ));
    assert_eq!(std::fs::read(env.cached()).unwrap(), bytes());
    assert!(server
        .requests()
        .iter()
        .any(|r| r.starts_with("GET /acme/tiny-GGUF/resolve/main/tiny.gguf")));

    server.clear_requests();
    let start = Instant::now();
    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already cached"));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "second pull took {:?}",
        start.elapsed()
    );
    assert!(
        server.requests().is_empty(),
        "second pull hit the network: {:?}",
        server.requests()
    );

    env.cmd()
        .args(["models", "verify", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OK"));
    env.cmd()
        .args(["models", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cached"));
    env.cmd()
        .args(["models", "path", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tiny.gguf"));
    env.cmd().args(["models", "rm", "tiny"]).assert().success();
    assert!(!env.cached().exists());
}

#[test]
fn checksum_mismatch_is_rejected_and_nothing_is_cached() {
    let server = HubServer::start(vec![HubFile::new(REPO, "main", "tiny.gguf", bytes())]);
    let wrong = sha256_hex(b"other bytes");
    let env = setup(&server, &wrong, &[hub_source("tiny.gguf")]);
    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("checksum mismatch"))
        .stderr(predicate::str::contains(wrong.as_str()));
    assert!(!env.cached().exists());
    // No temporary file is left behind either.
    let leftovers: Vec<_> = std::fs::read_dir(env.home.path().join("models/tiny"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn sources_are_tried_in_order_and_failures_are_listed() {
    let server = HubServer::start(vec![HubFile::new(REPO, "main", "tiny.gguf", bytes())]);
    let sha = sha256_hex(&bytes());
    let env = setup(
        &server,
        &sha,
        &[
            r#"{ kind = "local", path = "$SUMMARISE_TEST_UNSET_DIR/tiny.gguf" }"#.to_string(),
            hub_source("missing.gguf"),
            hub_source("tiny.gguf"),
        ],
    );
    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "fetched from hub acme/tiny-GGUF/tiny.gguf@main",
        ));

    let env = setup(&server, &sha, &[hub_source("missing.gguf")]);
    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "could not fetch tiny.gguf for model `tiny`",
        ))
        .stderr(predicate::str::contains(
            "hub acme/tiny-GGUF/missing.gguf@main",
        ));
}

#[test]
fn offline_uses_the_hugging_face_cache_and_never_the_network() {
    let server = HubServer::start(vec![HubFile::new(REPO, "main", "tiny.gguf", bytes())]);
    let env = setup(&server, &sha256_hex(&bytes()), &[hub_source("tiny.gguf")]);

    // Nothing anywhere: offline fails with the fix, and sends no request.
    env.cmd()
        .args(["models", "pull", "tiny", "--offline"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("summarise models pull tiny"));
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // Online pull fills the Hugging Face cache; after `rm`, offline pull finds it there.
    env.cmd()
        .args(["models", "pull", "tiny"])
        .assert()
        .success();
    env.cmd().args(["models", "rm", "tiny"]).assert().success();
    server.clear_requests();
    env.cmd()
        .env("HF_HUB_OFFLINE", "1")
        .args(["models", "pull", "tiny"])
        .assert()
        .success();
    assert_eq!(std::fs::read(env.cached()).unwrap(), bytes());
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn local_source_is_used_first() {
    let server = HubServer::start(vec![]);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("tiny.gguf"), bytes()).unwrap();
    let env = setup(
        &server,
        &sha256_hex(&bytes()),
        &[
            r#"{ kind = "local", path = "$SUMMARISE_TEST_LOCAL_DIR/tiny.gguf" }"#.to_string(),
            hub_source("tiny.gguf"),
        ],
    );
    env.cmd()
        .env("SUMMARISE_TEST_LOCAL_DIR", local.path())
        .args(["models", "pull", "tiny"])
        .assert()
        .success()
        .stdout(predicate::str::contains("fetched from local"));
    assert!(server.requests().is_empty());
}
