//! Fetching model files into the cache: try each source in order, verify sha256, then rename.

mod hub;
mod mirror;

use std::fs;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::models::cache::{Cache, HashingWriter};
use crate::models::registry::{expand_path, ModelEntry, ModelFile, Source};

/// How a pull may behave.
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions {
    /// Never touch the network: only local sources and the Hugging Face cache.
    pub offline: bool,
    /// Show progress bars (only ever true on a terminal).
    pub progress: bool,
}

impl FetchOptions {
    /// `offline` from the flag or `HF_HUB_OFFLINE=1`; progress when stderr is a terminal.
    pub fn from_env(offline_flag: bool) -> FetchOptions {
        FetchOptions {
            offline: offline_flag || env_offline(),
            progress: io::stderr().is_terminal(),
        }
    }
}

/// True when `HF_HUB_OFFLINE` asks for offline mode.
pub fn env_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// What happened to one file during a pull.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// File name.
    pub file: String,
    /// Where it is now.
    pub path: PathBuf,
    /// `None` when it was already cached, else a description of the source used.
    pub source: Option<String>,
}

/// Make sure every file of `model` is in the cache and verified; fetch what is missing.
pub fn pull(cache: &Cache, model: &ModelEntry, opts: FetchOptions) -> Result<Vec<Fetched>> {
    model
        .files
        .iter()
        .map(|file| pull_file(cache, model, file, opts))
        .collect()
}

/// Path of a model's file, ready to load: verified from the cache, or fetched when allowed.
pub fn ensure_file(
    cache: &Cache,
    model: &ModelEntry,
    file: &ModelFile,
    opts: FetchOptions,
) -> Result<PathBuf> {
    Ok(pull_file(cache, model, file, opts)?.path)
}

fn pull_file(
    cache: &Cache,
    model: &ModelEntry,
    file: &ModelFile,
    opts: FetchOptions,
) -> Result<Fetched> {
    let already = |path| Fetched {
        file: file.name.clone(),
        path,
        source: None,
    };
    let corrupt = match cache.checked_path(model, file) {
        Ok(Some(path)) => return Ok(already(path)),
        Ok(None) => None,
        // A corrupt cached file is replaced by a fresh copy below (or reported, offline).
        Err(e @ Error::Corrupt { .. }) => Some(e),
        Err(e) => return Err(e),
    };

    let dir = cache.model_dir(&model.id);
    fs::create_dir_all(&dir).at(&dir)?;
    sweep_stale(&dir);
    let target = cache.file_path(model, file);
    let mut attempts = Vec::new();
    for source in &file.sources {
        let label = describe(source);
        let result = match source {
            Source::Local { path } => match expand_path(path) {
                None => Err(format!("skipped: a variable in `{path}` is unset")),
                Some(p) if !p.exists() => Err(format!("{} does not exist", p.display())),
                Some(p) => stage_copy(&p, &dir, file),
            },
            Source::Hub {
                repo,
                file: name,
                revision,
            } => fetch_hub(repo, name, revision, &dir, file, opts),
            Source::Pypi(_) | Source::Npm(_) if opts.offline => Err("skipped: offline".to_string()),
            Source::Pypi(m) => mirror::fetch_pypi(m, &dir, file, opts),
            Source::Npm(m) => mirror::fetch_npm(m, &dir, file, opts),
        };
        match result {
            Ok(staged) => {
                staged.persist(&target).map_err(|e| e.error).at(&target)?;
                cache.write_stamp(model, file)?;
                return Ok(Fetched {
                    file: file.name.clone(),
                    path: target,
                    source: Some(label),
                });
            }
            Err(why) => attempts.push(format!("  - {label}: {why}")),
        }
    }
    if let Some(corrupt) = corrupt {
        return Err(corrupt);
    }
    if opts.offline {
        return Err(Error::NotCached {
            id: model.id.clone(),
            file: file.name.clone(),
            dir,
            why: " and offline mode is on (--offline or HF_HUB_OFFLINE=1)",
        });
    }
    Err(Error::FetchFailed {
        id: model.id.clone(),
        file: file.name.clone(),
        attempts: attempts.join("\n"),
    })
}

/// The Hub source: the copy in the Hugging Face cache if it is good, else a fresh download.
fn fetch_hub(
    repo: &str,
    name: &str,
    revision: &str,
    dir: &Path,
    file: &ModelFile,
    opts: FetchOptions,
) -> Result<Staged, String> {
    let cached = hub::cached(repo, name, revision).map(|p| stage_copy(&p, dir, file));
    match cached {
        Some(Ok(staged)) => Ok(staged),
        Some(Err(bad)) if opts.offline => Err(format!("the Hugging Face cache copy is bad: {bad}")),
        None if opts.offline => Err("skipped: offline and not in the Hugging Face cache".into()),
        Some(Err(bad)) => hub::download(repo, name, revision, opts)
            .and_then(|p| stage_copy(&p, dir, file))
            .map_err(|e| {
                format!("the Hugging Face cache copy is bad ({bad}); a fresh download: {e}")
            }),
        None => hub::download(repo, name, revision, opts).and_then(|p| stage_copy(&p, dir, file)),
    }
}

/// Remove leftovers of interrupted pulls (staged files, download folders) older than an hour;
/// younger ones may belong to a pull running in another process.
fn sweep_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let leftover =
            name.starts_with(".download-") || (name.starts_with('.') && name.ends_with(".partial"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if leftover && old {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// One line describing a source, for messages.
pub fn describe(source: &Source) -> String {
    match source {
        Source::Local { path } => format!("local {path}"),
        Source::Hub {
            repo,
            file,
            revision,
        } => format!("hub {repo}/{file}@{revision}"),
        Source::Pypi(m) if m.parts > 1 => format!(
            "pypi {} x{} =={}",
            m.package.replace("{n}", "N"),
            m.parts,
            m.version
        ),
        Source::Pypi(m) => format!("pypi {}=={}", m.package, m.version),
        Source::Npm(m) => format!("npm {}@{}", m.package, m.version),
    }
}

/// A temporary file in the model folder holding bytes whose sha256 matched.
type Staged = tempfile::NamedTempFile;

/// Stage a copy of `src`, hashed while it is written. (Never a hard link: a corrupted copy
/// in one place must not corrupt the other.)
fn stage_copy(src: &Path, dir: &Path, file: &ModelFile) -> Result<Staged, String> {
    let mut input = fs::File::open(src).map_err(|e| format!("{}: {e}", src.display()))?;
    stage_with(dir, file, |out| {
        io::copy(&mut input, out)
            .map(|_| ())
            .map_err(|e| format!("copying {}: {e}", src.display()))
    })
    .map_err(|e| format!("{}: {e}", src.display()))
}

/// An empty hidden temporary file beside the final one (same file system, so rename is atomic).
fn new_staged(dir: &Path, file: &ModelFile) -> Result<Staged, String> {
    tempfile::Builder::new()
        .prefix(&format!(".{}.", file.name))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Stream bytes into a new staged file, hashing on the way; reject a mismatch.
fn stage_with<F>(dir: &Path, file: &ModelFile, fill: F) -> Result<Staged, String>
where
    F: FnOnce(&mut HashingWriter<&mut fs::File>) -> Result<(), String>,
{
    let mut staged = new_staged(dir, file)?;
    let mut writer = HashingWriter::new(staged.as_file_mut());
    fill(&mut writer)?;
    let (out, actual) = writer.finish();
    out.sync_all().map_err(|e| e.to_string())?;
    readable(out);
    if actual != file.sha256 {
        return Err(format!(
            "checksum mismatch: assembled file has sha256 {actual}, expected {}",
            file.sha256
        ));
    }
    Ok(staged)
}

/// Cached models are plain shared data: make a staged file world-readable (temp files are 0600).
fn readable(file: &fs::File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = file;
}
