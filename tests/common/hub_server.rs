//! A Hub look-alike HTTP server on 127.0.0.1 for download tests, answering what `hf-hub` 0.4.3's sync API asks.
//!
//! # What `hf-hub` 0.4.3 (sync API, `ureq` backend) sends
//!
//! For `api.repo(Repo::with_revision(repo, RepoType::Model, rev))`:
//!
//! * `get(path)` first looks in the cache (`{cache}/models--{org}--{name}/refs/{rev}` holds a
//!   commit hash, `snapshots/{commit}/{path}` must exist). On a hit it makes **no request at all**;
//!   otherwise it does exactly what `download(path)` does.
//! * `download(path)` always goes to the network, even when the file is cached:
//!   1. metadata: `GET /{repo}/resolve/{rev}/{path}` with `Range: bytes=0-0`, on an agent that does
//!      not follow redirects. A 3xx whose `Location` has no host is followed by hand (same
//!      request again); an absolute `Location` is not. From that response it reads `x-linked-etag`
//!      (else `etag`; quotes stripped; this names the blob file) and `x-repo-commit` (names the
//!      snapshot folder); both are required. If the response was a 3xx it then sends
//!      `GET {Location}` with `Range: bytes=0-0` (redirects followed). The size comes from the last
//!      response's `Content-Range` (the part after `/`) — required; `Content-Length` is ignored.
//!      Any status >= 400 is an error (`ApiError::RequestError`).
//!   2. body: one `GET /{repo}/resolve/{rev}/{path}` with `Range: bytes=0-` (or `bytes=N-` when a
//!      `.part` file of N bytes is being resumed), redirects followed, read to the end into
//!      `blobs/{etag}.part`, then renamed to `blobs/{etag}` and symlinked from
//!      `snapshots/{commit}/{path}`; `refs/{rev}` is written with the commit. There is no parallel
//!      chunked download in the sync API and no `HEAD` request; nothing checks the sha256.
//! * The revision is sent with `/` escaped as `%2F`; the path is sent as is (ureq escapes
//!   characters such as spaces). `info()` asks `GET /api/models/{repo}/revision/{rev}`.
//!
//! This server answers those in the Hub's layout: `/{repo}/resolve/{revision}/{path}` (the
//! revision may also be the commit hash), `ETag: "<sha256 of the bytes>"` as the Hub does for LFS
//! files, `X-Repo-Commit` from [`commit_hash`], single byte ranges with `206` + `Content-Range`,
//! `HEAD` as well as `GET`, HTTP/1.1 keep-alive (or close when asked), and
//! `404` + `X-Error-Code: EntryNotFound` / `RevisionNotFound` / `RepoNotFound` for what it does not
//! hold. [`HubServer::start_with_cdn_redirects`] instead answers resolve URLs the way the Hub does
//! for LFS files: `302` to an absolute `/cdn-lfs/{sha256}` URL on the same server, with
//! `X-Linked-Etag`, `X-Linked-Size` and `X-Repo-Commit`.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a connection may sit idle (or a client may stall mid-request) before it is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may block on a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the accept loop checks whether the server was dropped.
const ACCEPT_POLL: Duration = Duration::from_millis(2);
/// Longest request line or header line accepted.
const MAX_LINE: u64 = 16 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 100;
/// Largest request body read (and thrown away).
const MAX_BODY: u64 = 1024 * 1024;
/// Path prefix of the fake CDN used by [`HubServer::start_with_cdn_redirects`].
const CDN_PREFIX: &str = "/cdn-lfs/";

/// One file the server holds.
#[derive(Clone, Debug)]
pub struct HubFile {
    /// Repository id, e.g. `"acme/tiny-GGUF"`.
    pub repo: String,
    /// Revision it is served under, e.g. `"main"` or `"refs/pr/1"`.
    pub revision: String,
    /// Path inside the repository, e.g. `"model.gguf"` or `"onnx/model.onnx"`.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

impl HubFile {
    /// Shorthand constructor.
    pub fn new(repo: &str, revision: &str, path: &str, bytes: impl Into<Vec<u8>>) -> HubFile {
        HubFile {
            repo: repo.to_string(),
            revision: revision.to_string(),
            path: path.to_string(),
            bytes: bytes.into(),
        }
    }

    /// Lower-case hex sha256 of the bytes: the ETag the server sends (unquoted) and the blob file
    /// name hf-hub stores it under.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }

    /// The commit hash the server reports for this file's repo and revision.
    pub fn commit(&self) -> String {
        commit_hash(&self.repo, &self.revision)
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The fake commit hash (40 hex digits) served as `X-Repo-Commit` for `repo` at `revision`: the
/// revision itself when it already is a 40-digit hex hash, otherwise a fixed value derived from
/// repo and revision, so two revisions of a repo never share a snapshot folder in hf-hub's cache.
pub fn commit_hash(repo: &str, revision: &str) -> String {
    if revision.len() == 40
        && revision
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return revision.to_string();
    }
    let digest = Sha256::digest(format!("fake-commit\0{repo}\0{revision}").as_bytes());
    hex(&digest)[..40].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent (not percent-decoded), e.g. `/acme/m/resolve/main/x.gguf`.
    pub target: String,
    /// The `Range` header value, if any, e.g. `bytes=0-0`.
    pub range: Option<String>,
}

impl SeenRequest {
    /// `"{method} {target}"`, the form [`HubServer::requests`] returns.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

struct Served {
    file: HubFile,
    sha256: String,
    commit: String,
}

struct State {
    files: Vec<Served>,
    endpoint: String,
    cdn_redirects: bool,
    seen: Mutex<Vec<SeenRequest>>,
    shutdown: AtomicBool,
    connections: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

/// A running server; stops (and joins every thread it started) when dropped.
pub struct HubServer {
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl HubServer {
    /// Serve `files`: (repo e.g. "acme/tiny-GGUF", revision e.g. "main", path in repo, bytes).
    /// Resolve URLs are answered directly (no redirect), like the Hub does for small files.
    pub fn start(files: Vec<HubFile>) -> HubServer {
        HubServer::start_inner(files, false)
    }

    /// Like [`HubServer::start`], but every resolve URL is answered like the Hub answers LFS
    /// files: `302 Found` to `{endpoint}/cdn-lfs/{sha256}` with `X-Linked-Etag`,
    /// `X-Linked-Size` and `X-Repo-Commit`; the bytes come from the `/cdn-lfs/` URL.
    pub fn start_with_cdn_redirects(files: Vec<HubFile>) -> HubServer {
        HubServer::start_inner(files, true)
    }

    fn start_inner(files: Vec<HubFile>, cdn_redirects: bool) -> HubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set listener non-blocking");
        let port = listener.local_addr().expect("listener address").port();
        let files = files
            .into_iter()
            .map(|file| Served {
                sha256: file.sha256(),
                commit: file.commit(),
                file,
            })
            .collect();
        let state = Arc::new(State {
            files,
            endpoint: format!("http://127.0.0.1:{port}"),
            cdn_redirects,
            seen: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let acceptor_state = Arc::clone(&state);
        let acceptor = std::thread::Builder::new()
            .name("hub-server-accept".into())
            .spawn(move || accept_loop(listener, acceptor_state))
            .expect("spawn accept thread");
        HubServer {
            state,
            acceptor: Some(acceptor),
        }
    }

    /// `"http://127.0.0.1:PORT"`, for `HF_ENDPOINT` or `ApiBuilder::with_endpoint`.
    pub fn endpoint(&self) -> String {
        self.state.endpoint.clone()
    }

    /// Request lines seen so far, in arrival order, e.g. `"GET /acme/m/resolve/main/x.gguf"`
    /// (the target as sent: a revision `refs/pr/1` appears as `refs%2Fpr%2F1`).
    pub fn requests(&self) -> Vec<String> {
        self.request_log().iter().map(SeenRequest::line).collect()
    }

    /// Requests seen so far, with their `Range` headers.
    pub fn request_log(&self) -> Vec<SeenRequest> {
        lock(&self.state.seen).clone()
    }

    /// Forget the requests seen so far.
    pub fn clear_requests(&self) {
        lock(&self.state.seen).clear();
    }
}

impl Drop for HubServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // The acceptor has stopped, so the list is complete. Shutting the sockets down wakes any
        // thread blocked reading or writing; each then returns promptly.
        let connections = std::mem::take(&mut *lock(&self.state.connections));
        for (stream, _) in &connections {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, handle) in connections {
            let _ = handle.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while !state.shutdown.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let Ok(handle_copy) = stream.try_clone() else {
                    continue;
                };
                let conn_state = Arc::clone(&state);
                let spawned = std::thread::Builder::new()
                    .name("hub-server-conn".into())
                    .spawn(move || serve_connection(stream, &conn_state));
                let Ok(handle) = spawned else {
                    continue;
                };
                let mut connections = lock(&state.connections);
                // Reap finished connections so the list stays small in long tests.
                let (done, live): (Vec<_>, Vec<_>) = std::mem::take(&mut *connections)
                    .into_iter()
                    .partition(|(_, h)| h.is_finished());
                *connections = live;
                connections.push((handle_copy, handle));
                drop(connections);
                for (_, h) in done {
                    let _ = h.join();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

struct Request {
    method: String,
    target: String,
    range: Option<String>,
    close: bool,
}

enum ReadOutcome {
    Request(Request),
    /// The client closed the connection (or went quiet) between requests.
    Closed,
    /// Unparseable or oversized request: answer 400 and close.
    Bad,
}

fn serve_connection(stream: TcpStream, state: &State) {
    // Accepted sockets inherit O_NONBLOCK from the listener on some platforms.
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(READ_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while !state.shutdown.load(Ordering::SeqCst) {
        let request = match read_request(&mut reader) {
            ReadOutcome::Request(request) => request,
            ReadOutcome::Closed => break,
            ReadOutcome::Bad => {
                let response = Response::plain(400, "Bad Request", "bad request");
                let _ = write_response(&mut writer, false, &response, true);
                break;
            }
        };
        lock(&state.seen).push(SeenRequest {
            method: request.method.clone(),
            target: request.target.clone(),
            range: request.range.clone(),
        });
        let response = route(state, &request);
        let head_only = request.method == "HEAD";
        if write_response(&mut writer, head_only, &response, request.close).is_err()
            || request.close
        {
            break;
        }
    }
    let _ = writer.flush();
    let _ = writer.shutdown(Shutdown::Both);
}

fn read_line(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .ok()?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return None;
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).ok()
}

fn read_request(reader: &mut BufReader<TcpStream>) -> ReadOutcome {
    // Tolerate stray blank lines between requests (RFC 9112 section 2.2).
    let request_line = loop {
        match read_line(reader) {
            None => return ReadOutcome::Closed,
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ReadOutcome::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return ReadOutcome::Bad;
    }
    let mut close = version == "HTTP/1.0";
    let mut range = None;
    let mut body_len: u64 = 0;
    let mut headers = 0;
    loop {
        let Some(line) = read_line(reader) else {
            return ReadOutcome::Bad;
        };
        if line.is_empty() {
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return ReadOutcome::Bad;
        }
        let Some((name, value)) = line.split_once(':') else {
            return ReadOutcome::Bad;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(value.to_string()),
            "connection" => {
                let value = value.to_ascii_lowercase();
                if value.contains("close") {
                    close = true;
                } else if value.contains("keep-alive") {
                    close = false;
                }
            }
            "content-length" => match value.parse() {
                Ok(n) if n <= MAX_BODY => body_len = n,
                _ => return ReadOutcome::Bad,
            },
            "transfer-encoding" => return ReadOutcome::Bad,
            _ => {}
        }
    }
    if body_len > 0 {
        let copied = std::io::copy(&mut reader.by_ref().take(body_len), &mut std::io::sink());
        if !matches!(copied, Ok(n) if n == body_len) {
            return ReadOutcome::Bad;
        }
    }
    ReadOutcome::Request(Request {
        method: method.to_string(),
        target: target.to_string(),
        range,
        close,
    })
}

struct Response<'a> {
    status: u16,
    reason: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Cow<'a, [u8]>,
}

impl<'a> Response<'a> {
    fn plain(status: u16, reason: &'static str, body: &str) -> Response<'a> {
        Response {
            status,
            reason,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_string())],
            body: Cow::Owned(body.as_bytes().to_vec()),
        }
    }

    /// A Hub-style error: the status, `X-Error-Code` and `X-Error-Message`.
    fn hub_error(status: u16, reason: &'static str, code: &str, message: &str) -> Response<'a> {
        let mut response = Response::plain(status, reason, message);
        response.headers.push(("X-Error-Code", code.to_string()));
        response
            .headers
            .push(("X-Error-Message", message.to_string()));
        response
    }
}

fn write_response(
    writer: &mut TcpStream,
    head_only: bool,
    response: &Response<'_>,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    let connection = if close { "close" } else { "keep-alive" };
    head.push_str(&format!("Connection: {connection}\r\n\r\n"));
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(&response.body)?;
    }
    writer.flush()
}

/// Percent-decodes a URL path (invalid escapes are kept as they are).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(digits, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route<'a>(state: &'a State, request: &Request) -> Response<'a> {
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = Response::plain(405, "Method Not Allowed", "method not allowed");
        response.headers.push(("Allow", "GET, HEAD".to_string()));
        return response;
    }
    let raw_path = request.target.split(['?', '#']).next().unwrap_or("");
    let path = percent_decode(raw_path);

    if let Some(sha) = path.strip_prefix(CDN_PREFIX) {
        return match state.files.iter().find(|f| f.sha256 == sha) {
            Some(served) => serve_bytes(served, request.range.as_deref(), None),
            None => Response::plain(404, "Not Found", "no such object"),
        };
    }
    if let Some(rest) = path.strip_prefix("/api/models/") {
        return repo_info(state, rest);
    }
    resolve(state, &path, request.range.as_deref())
}

fn serves_revision(served: &Served, revision: &str) -> bool {
    served.file.revision == revision || served.commit == revision
}

/// `/{repo}/resolve/{revision}/{path}`.
fn resolve<'a>(state: &'a State, path: &str, range: Option<&str>) -> Response<'a> {
    let mut repo_known = false;
    let mut revision_known = false;
    for served in &state.files {
        let Some(after_repo) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(served.file.repo.as_str()))
            .and_then(|p| p.strip_prefix("/resolve/"))
        else {
            continue;
        };
        repo_known = true;
        for revision in [served.file.revision.as_str(), served.commit.as_str()] {
            let Some(file_path) = after_repo
                .strip_prefix(revision)
                .and_then(|p| p.strip_prefix('/'))
            else {
                continue;
            };
            revision_known = true;
            if file_path == served.file.path {
                if state.cdn_redirects {
                    return cdn_redirect(state, served);
                }
                return serve_bytes(served, range, Some(&served.commit));
            }
        }
    }
    if !repo_known {
        Response::hub_error(404, "Not Found", "RepoNotFound", "Repository not found")
    } else if !revision_known {
        Response::hub_error(404, "Not Found", "RevisionNotFound", "Invalid rev id")
    } else {
        Response::hub_error(404, "Not Found", "EntryNotFound", "Entry not found")
    }
}

fn cdn_redirect<'a>(state: &'a State, served: &'a Served) -> Response<'a> {
    let location = format!("{}{CDN_PREFIX}{}", state.endpoint, served.sha256);
    let mut response = Response::plain(302, "Found", &format!("Found. Redirecting to {location}"));
    // The Hub's own ETag here is the git hash of the LFS pointer file; hf-hub prefers
    // X-Linked-Etag, so any distinct value will do.
    let pointer_etag = &commit_hash(&served.sha256, "lfs-pointer");
    response.headers.extend([
        ("Location", location),
        ("ETag", format!("\"{pointer_etag}\"")),
        ("X-Linked-Etag", format!("\"{}\"", served.sha256)),
        ("X-Linked-Size", served.file.bytes.len().to_string()),
        ("X-Repo-Commit", served.commit.clone()),
    ]);
    response
}

/// The bytes of `served`, honouring a single `Range: bytes=...`.
fn serve_bytes<'a>(served: &'a Served, range: Option<&str>, commit: Option<&str>) -> Response<'a> {
    let bytes = served.file.bytes.as_slice();
    let len = bytes.len() as u64;
    let mut headers = vec![
        ("Content-Type", "application/octet-stream".to_string()),
        ("Accept-Ranges", "bytes".to_string()),
        ("ETag", format!("\"{}\"", served.sha256)),
    ];
    if let Some(commit) = commit {
        headers.push(("X-Repo-Commit", commit.to_string()));
    }
    let Some(range) = range.and_then(parse_range) else {
        return Response {
            status: 200,
            reason: "OK",
            headers,
            body: Cow::Borrowed(bytes),
        };
    };
    if len == 0 {
        // No byte range of an empty file is satisfiable, but hf-hub needs a Content-Range to
        // learn the size: answer with the whole (empty) file and `bytes */0`.
        headers.push(("Content-Range", "bytes */0".to_string()));
        return Response {
            status: 200,
            reason: "OK",
            headers,
            body: Cow::Borrowed(bytes),
        };
    }
    let (start, end) = match range {
        ByteRange::From(start, end) => (start, end.map_or(len - 1, |e| e.min(len - 1))),
        ByteRange::Suffix(n) => (len.saturating_sub(n), len - 1),
    };
    if start >= len || start > end {
        headers.push(("Content-Range", format!("bytes */{len}")));
        return Response {
            status: 416,
            reason: "Range Not Satisfiable",
            headers,
            body: Cow::Borrowed(&[]),
        };
    }
    headers.push(("Content-Range", format!("bytes {start}-{end}/{len}")));
    Response {
        status: 206,
        reason: "Partial Content",
        headers,
        body: Cow::Borrowed(&bytes[start as usize..=end as usize]),
    }
}

enum ByteRange {
    /// `bytes=START-` or `bytes=START-END` (END inclusive).
    From(u64, Option<u64>),
    /// `bytes=-N`: the last N bytes.
    Suffix(u64),
}

/// Parses a single `bytes=` range; anything else (multiple ranges, other units, junk) is `None`,
/// which the caller treats as "no Range header" (RFC 9110 allows ignoring it).
fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        return Some(ByteRange::Suffix(end.parse().ok()?));
    }
    let start = start.parse().ok()?;
    let end = if end.is_empty() {
        None
    } else {
        Some(end.parse().ok()?)
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some(ByteRange::From(start, end))
}

/// `/api/models/{repo}/revision/{revision}` (what `ApiRepo::info` asks), or `/api/models/{repo}`
/// for revision `main`.
fn repo_info<'a>(state: &'a State, rest: &str) -> Response<'a> {
    let (repo, revision) = match rest.split_once("/revision/") {
        Some((repo, revision)) => (repo, revision),
        None => (rest.trim_end_matches('/'), "main"),
    };
    let in_repo: Vec<&Served> = state.files.iter().filter(|s| s.file.repo == repo).collect();
    if in_repo.is_empty() {
        return Response::hub_error(404, "Not Found", "RepoNotFound", "Repository not found");
    }
    let at_revision: Vec<&Served> = in_repo
        .into_iter()
        .filter(|s| serves_revision(s, revision))
        .collect();
    let Some(first) = at_revision.first() else {
        return Response::hub_error(404, "Not Found", "RevisionNotFound", "Invalid rev id");
    };
    let names: BTreeSet<&str> = at_revision.iter().map(|s| s.file.path.as_str()).collect();
    let siblings: Vec<serde_json::Value> = names
        .into_iter()
        .map(|name| serde_json::json!({ "rfilename": name }))
        .collect();
    let body = serde_json::json!({
        "_id": first.commit[..24].to_string(),
        "id": repo,
        "modelId": repo,
        "sha": first.commit,
        "private": false,
        "gated": false,
        "disabled": false,
        "tags": [],
        "siblings": siblings,
    });
    Response {
        status: 200,
        reason: "OK",
        headers: vec![
            (
                "Content-Type",
                "application/json; charset=utf-8".to_string(),
            ),
            ("X-Repo-Commit", first.commit.clone()),
        ],
        body: Cow::Owned(body.to_string().into_bytes()),
    }
}
