//! Self-test of the Hub look-alike server in `tests/common/hub_server.rs`, driven through the
//! real `hf-hub` sync download path.

#[path = "common/hub_server.rs"]
mod hub_server;

use hf_hub::api::sync::{Api, ApiBuilder};
use hf_hub::{Repo, RepoType};
use hub_server::{commit_hash, sha256_hex, HubFile, HubServer, SeenRequest};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const REPO: &str = "acme/tiny-GGUF";
const BIG: &str = "model.gguf";

/// Tests in this binary run one at a time: one of them sets `HF_ENDPOINT`/`HF_HOME`, which are
/// process-global and read by other threads (ureq reads proxy variables on every `build`).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deterministic, incompressible-looking bytes (xorshift64*).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn big_bytes() -> Vec<u8> {
    // ~3 MiB and deliberately not a multiple of any buffer size.
    pseudo_random(3 * 1024 * 1024 + 12_345, 0x5eed)
}

fn build_api(server: &HubServer, cache: &Path) -> Api {
    ApiBuilder::new()
        .with_endpoint(server.endpoint())
        .with_cache_dir(cache.to_path_buf())
        .with_token(None)
        .with_progress(false)
        .build()
        .expect("build hf-hub api")
}

fn model(api: &Api, repo: &str, revision: &str) -> hf_hub::api::sync::ApiRepo {
    api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision.to_string(),
    ))
}

fn seen(method: &str, target: &str, range: Option<&str>) -> SeenRequest {
    SeenRequest {
        method: method.to_string(),
        target: target.to_string(),
        range: range.map(str::to_string),
    }
}

fn repo_cache_dir(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// One raw HTTP/1.1 exchange on `stream`: returns (status line, lower-cased headers, body).
fn exchange(
    stream: &mut TcpStream,
    request: &str,
    head_only: bool,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    let mut body = vec![0; if head_only { 0 } else { len }];
    reader.read_exact(&mut body).unwrap();
    assert!(
        reader.buffer().is_empty(),
        "unexpected bytes after the body"
    );
    (status.trim_end().to_string(), headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn connect(server: &HubServer) -> TcpStream {
    let addr = server.endpoint().trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

#[test]
fn downloads_through_hf_hub_then_serves_get_from_cache() {
    let _serial = serial();
    let bytes = big_bytes();
    let server = HubServer::start(vec![
        HubFile::new(REPO, "main", BIG, bytes.clone()),
        HubFile::new(REPO, "main", "config.json", b"{\"a\":1}".to_vec()),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let api = build_api(&server, cache.path());
    let repo = model(&api, REPO, "main");

    let path = repo.get(BIG).expect("download through hf-hub");
    assert!(
        std::fs::read(&path).unwrap() == bytes,
        "downloaded bytes differ"
    );

    // hf-hub's cache layout, named by the server's ETag and X-Repo-Commit.
    let commit = commit_hash(REPO, "main");
    let repo_dir = repo_cache_dir(cache.path(), REPO);
    assert_eq!(path, repo_dir.join("snapshots").join(&commit).join(BIG));
    assert!(repo_dir.join("blobs").join(sha256_hex(&bytes)).is_file());
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs").join("main")).unwrap(),
        commit
    );

    // Exactly: metadata probe, then one ranged GET of the whole body.
    let target = format!("/{REPO}/resolve/main/{BIG}");
    assert_eq!(
        server.request_log(),
        vec![
            seen("GET", &target, Some("bytes=0-0")),
            seen("GET", &target, Some("bytes=0-")),
        ]
    );
    assert_eq!(
        server.requests(),
        vec![format!("GET {target}"), format!("GET {target}")]
    );

    // A second `get`, even through a fresh Api on the same cache, touches no network.
    server.clear_requests();
    assert_eq!(repo.get(BIG).unwrap(), path);
    let fresh = build_api(&server, cache.path());
    assert_eq!(model(&fresh, REPO, "main").get(BIG).unwrap(), path);
    assert_eq!(server.requests(), Vec::<String>::new());

    // `download` always goes back to the server and fetches the body again.
    assert_eq!(repo.download(BIG).unwrap(), path);
    assert_eq!(
        server.request_log(),
        vec![
            seen("GET", &target, Some("bytes=0-0")),
            seen("GET", &target, Some("bytes=0-")),
        ]
    );
    assert!(std::fs::read(&path).unwrap() == bytes);

    // Small second file from the same snapshot.
    let config = repo.get("config.json").unwrap();
    assert_eq!(std::fs::read(config).unwrap(), b"{\"a\":1}");
}

#[test]
fn missing_files_are_errors() {
    let _serial = serial();
    let server = HubServer::start(vec![HubFile::new(REPO, "main", BIG, vec![1, 2, 3])]);
    let cache = tempfile::tempdir().unwrap();
    let api = build_api(&server, cache.path());

    for (repo, revision, file) in [
        (REPO, "main", "missing.gguf"),
        (REPO, "v9", BIG),
        ("acme/absent", "main", BIG),
    ] {
        let err = model(&api, repo, revision)
            .get(file)
            .expect_err("missing file must fail");
        assert!(
            err.to_string().contains("404"),
            "{repo}@{revision}/{file}: {err}"
        );
    }
    // Only the metadata probe was made for each, and nothing was cached.
    assert_eq!(server.requests().len(), 3);
    assert!(server
        .request_log()
        .iter()
        .all(|r| r.range.as_deref() == Some("bytes=0-0")));
    assert!(!repo_cache_dir(cache.path(), REPO)
        .join("snapshots")
        .exists());

    // The Hub's error headers.
    let mut stream = connect(&server);
    for (target, code) in [
        (
            format!("/{REPO}/resolve/main/missing.gguf"),
            "EntryNotFound",
        ),
        (format!("/{REPO}/resolve/v9/{BIG}"), "RevisionNotFound"),
        (format!("/acme/absent/resolve/main/{BIG}"), "RepoNotFound"),
    ] {
        let (status, headers, _) = exchange(
            &mut stream,
            &format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"),
            false,
        );
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert_eq!(header(&headers, "x-error-code"), Some(code));
    }
}

#[test]
fn lfs_style_cdn_redirects_are_followed() {
    let _serial = serial();
    let bytes = big_bytes();
    let sha = sha256_hex(&bytes);
    let server =
        HubServer::start_with_cdn_redirects(vec![HubFile::new(REPO, "main", BIG, bytes.clone())]);
    let cache = tempfile::tempdir().unwrap();
    let api = build_api(&server, cache.path());

    let path = model(&api, REPO, "main").get(BIG).unwrap();
    assert!(std::fs::read(&path).unwrap() == bytes);
    assert!(repo_cache_dir(cache.path(), REPO)
        .join("blobs")
        .join(&sha)
        .is_file());

    let target = format!("/{REPO}/resolve/main/{BIG}");
    let cdn = format!("/cdn-lfs/{sha}");
    assert_eq!(
        server.request_log(),
        vec![
            seen("GET", &target, Some("bytes=0-0")),
            seen("GET", &cdn, Some("bytes=0-0")),
            seen("GET", &target, Some("bytes=0-")),
            seen("GET", &cdn, Some("bytes=0-")),
        ]
    );
}

#[test]
fn revisions_nested_paths_commit_pins_and_empty_files() {
    let _serial = serial();
    let pr = "refs/pr/1";
    let nested = "onnx/sub dir/model.onnx";
    let main_bytes = pseudo_random(1000, 1);
    let pr_bytes = pseudo_random(2000, 2);
    let server = HubServer::start(vec![
        HubFile::new(REPO, "main", nested, main_bytes.clone()),
        HubFile::new(REPO, pr, nested, pr_bytes.clone()),
        HubFile::new(REPO, "main", "empty.txt", Vec::new()),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let api = build_api(&server, cache.path());

    let from_main = model(&api, REPO, "main").get(nested).unwrap();
    let from_pr = model(&api, REPO, pr).get(nested).unwrap();
    assert_ne!(commit_hash(REPO, "main"), commit_hash(REPO, pr));
    assert_eq!(std::fs::read(&from_main).unwrap(), main_bytes);
    assert_eq!(std::fs::read(&from_pr).unwrap(), pr_bytes);
    // The revision travels as refs%2Fpr%2F1, the space as %20.
    assert!(server.requests().contains(&format!(
        "GET /{REPO}/resolve/refs%2Fpr%2F1/onnx/sub%20dir/model.onnx"
    )));

    // Pinning the commit hash as the revision serves the same file.
    let pinned = commit_hash(REPO, pr);
    let from_pin = model(&api, REPO, &pinned).download(nested).unwrap();
    assert_eq!(std::fs::read(from_pin).unwrap(), pr_bytes);

    let empty = model(&api, REPO, "main").get("empty.txt").unwrap();
    assert_eq!(std::fs::read(empty).unwrap(), Vec::<u8>::new());

    let info = model(&api, REPO, pr).info().unwrap();
    assert_eq!(info.sha, commit_hash(REPO, pr));
    let names: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    assert_eq!(names, vec![nested]);
}

#[test]
fn from_env_honours_hf_endpoint_and_hf_home() {
    let _serial = serial();
    let bytes = pseudo_random(4096, 3);
    let server = HubServer::start(vec![HubFile::new(REPO, "main", BIG, bytes.clone())]);
    let home = tempfile::tempdir().unwrap();
    let saved: Vec<(&str, Option<std::ffi::OsString>)> = ["HF_ENDPOINT", "HF_HOME"]
        .into_iter()
        .map(|k| (k, std::env::var_os(k)))
        .collect();
    std::env::set_var("HF_ENDPOINT", server.endpoint());
    std::env::set_var("HF_HOME", home.path());
    let result = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map(|api| model(&api, REPO, "main").get(BIG));
    for (key, value) in saved {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
    }
    let path = result.unwrap().unwrap();
    assert!(path.starts_with(home.path().join("hub")));
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn raw_protocol_keep_alive_ranges_head_and_prompt_shutdown() {
    let _serial = serial();
    let bytes = pseudo_random(100, 4);
    let server = HubServer::start(vec![HubFile::new(REPO, "main", "f.bin", bytes.clone())]);
    let target = format!("/{REPO}/resolve/main/f.bin");
    let mut stream = connect(&server);
    let get = |range: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n{range}\r\n");

    // Several requests on one keep-alive connection.
    let (status, headers, body) = exchange(&mut stream, &get(""), false);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, bytes);
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    assert_eq!(header(&headers, "etag"), Some(etag.as_str()));
    let commit = commit_hash(REPO, "main");
    assert_eq!(header(&headers, "x-repo-commit"), Some(commit.as_str()));
    assert_eq!(header(&headers, "connection"), Some("keep-alive"));

    let (status, headers, body) = exchange(&mut stream, &get("Range: bytes=10-19\r\n"), false);
    assert_eq!(status, "HTTP/1.1 206 Partial Content");
    assert_eq!(header(&headers, "content-range"), Some("bytes 10-19/100"));
    assert_eq!(body, &bytes[10..20]);

    let (_, headers, body) = exchange(&mut stream, &get("Range: bytes=-5\r\n"), false);
    assert_eq!(header(&headers, "content-range"), Some("bytes 95-99/100"));
    assert_eq!(body, &bytes[95..]);

    let (status, headers, _) = exchange(&mut stream, &get("Range: bytes=100-\r\n"), false);
    assert_eq!(status, "HTTP/1.1 416 Range Not Satisfiable");
    assert_eq!(header(&headers, "content-range"), Some("bytes */100"));

    let head = format!("HEAD {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (status, headers, _) = exchange(&mut stream, &head, true);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&headers, "content-length"), Some("100"));

    let close = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (_, headers, body) = exchange(&mut stream, &close, false);
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert_eq!(body, bytes);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "server must close after Connection: close");
    assert_eq!(server.requests().len(), 6);

    // Dropping the server with an idle keep-alive connection open returns promptly and closes it.
    let mut idle = connect(&server);
    let _ = exchange(&mut idle, &get(""), false);
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop took too long"
    );
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap_or(0), 0);
}
