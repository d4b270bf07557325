//! The model cache on disk: where files live, and sha256 checks before any use.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::models::registry::{ModelEntry, ModelFile};

/// Root of the cache: `$SUMMARISE_HOME`, else `$XDG_CACHE_HOME/summarise`, else
/// `~/.cache/summarise`. Model files live in `models/<id>/<file name>`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// State of one cached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Not in the cache.
    Missing,
    /// Present; its sha256 was checked and it has not changed since (size and mtime).
    Verified,
    /// Present but not checked since it last changed.
    Unchecked,
}

impl Cache {
    /// The cache named by the environment.
    pub fn from_env() -> Result<Cache> {
        let root = if let Some(home) = non_empty_var("SUMMARISE_HOME") {
            PathBuf::from(home)
        } else if let Some(xdg) = non_empty_var("XDG_CACHE_HOME") {
            PathBuf::from(xdg).join("summarise")
        } else if let Some(home) = non_empty_var("HOME") {
            PathBuf::from(home).join(".cache").join("summarise")
        } else {
            return Err(Error::Config(
                "cannot place the model cache: set SUMMARISE_HOME (or XDG_CACHE_HOME or HOME)"
                    .into(),
            ));
        };
        Ok(Cache { root })
    }

    /// A cache rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// Folder of one model's files.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join("models").join(id)
    }

    /// Where a model file lives in the cache.
    pub fn file_path(&self, model: &ModelEntry, file: &ModelFile) -> PathBuf {
        self.model_dir(&model.id).join(&file.name)
    }

    fn stamp_path(&self, model: &ModelEntry, file: &ModelFile) -> PathBuf {
        self.model_dir(&model.id)
            .join(format!(".{}.verified", file.name))
    }

    /// Whether the file is present and known good, without hashing it.
    pub fn state(&self, model: &ModelEntry, file: &ModelFile) -> FileState {
        let path = self.file_path(model, file);
        let Ok(meta) = fs::metadata(&path) else {
            return FileState::Missing;
        };
        let stamp = fs::read_to_string(self.stamp_path(model, file)).unwrap_or_default();
        if stamp.trim() == stamp_line(&file.sha256, &meta) {
            FileState::Verified
        } else {
            FileState::Unchecked
        }
    }

    /// The path of a file that is present and matches its sha256, for loading. Hashes the
    /// file unless it was verified and has not changed since; refuses a corrupt file.
    pub fn checked_path(&self, model: &ModelEntry, file: &ModelFile) -> Result<Option<PathBuf>> {
        match self.state(model, file) {
            FileState::Missing => Ok(None),
            FileState::Verified => Ok(Some(self.file_path(model, file))),
            FileState::Unchecked => self.verify(model, file).map(Some),
        }
    }

    /// Hash the cached file now; on success record a stamp so later runs skip the hash.
    pub fn verify(&self, model: &ModelEntry, file: &ModelFile) -> Result<PathBuf> {
        let path = self.file_path(model, file);
        let actual = sha256_file(&path).at(&path)?;
        if actual != file.sha256 {
            let _ = fs::remove_file(self.stamp_path(model, file));
            return Err(Error::Corrupt {
                id: model.id.clone(),
                path,
                expected: file.sha256.clone(),
                actual,
            });
        }
        self.write_stamp(model, file)?;
        Ok(path)
    }

    /// Record that the cached file matches its sha256 as of its current size and mtime.
    pub fn write_stamp(&self, model: &ModelEntry, file: &ModelFile) -> Result<()> {
        let path = self.file_path(model, file);
        let meta = fs::metadata(&path).at(&path)?;
        let stamp = self.stamp_path(model, file);
        fs::write(&stamp, stamp_line(&file.sha256, &meta) + "\n").at(stamp)
    }

    /// Delete a model's cached files; returns the bytes freed.
    pub fn remove(&self, model: &ModelEntry) -> Result<u64> {
        let dir = self.model_dir(&model.id);
        let mut freed = 0;
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                freed += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(freed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e).at(dir),
        }
    }
}

fn non_empty_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn stamp_line(sha256: &str, meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{sha256} {} {mtime}", meta.len())
}

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A writer that hashes what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Finish: the inner writer and the hex sha256 of everything written.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::registry::Registry;

    #[test]
    fn stamp_tracks_verification_and_later_changes() {
        let home = tempfile::tempdir().unwrap();
        let cache = Cache::at(home.path());
        let text = format!(
            "default = \"m\"\n[[model]]\nid = \"m\"\nname = \"M\"\narchitecture = \"llama\"\nkind = \"instruct\"\ncontext_length = 8\ntemplate = \"chatml\"\n[[model.files]]\nname = \"w.gguf\"\nrole = \"weights\"\nsha256 = \"{}\"\nsize = 3\nsources = [{{ kind = \"local\", path = \"/nowhere\" }}]\n",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let registry = Registry::parse(&text, Path::new("t.toml")).unwrap();
        let model = registry.require("m").unwrap();
        let file = model.weights();
        assert_eq!(cache.state(model, file), FileState::Missing);
        assert_eq!(cache.checked_path(model, file).unwrap(), None);

        let path = cache.file_path(model, file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"abc").unwrap();
        assert_eq!(cache.state(model, file), FileState::Unchecked);
        assert_eq!(cache.checked_path(model, file).unwrap(), Some(path.clone()));
        assert_eq!(cache.state(model, file), FileState::Verified);

        // Same size, other bytes: the changed mtime makes it unchecked again, and it is refused.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, b"abd").unwrap();
        assert_eq!(cache.state(model, file), FileState::Unchecked);
        let err = cache.checked_path(model, file).unwrap_err().to_string();
        assert!(err.contains("corrupt") && err.contains("w.gguf"), "{err}");
        assert_eq!(cache.state(model, file), FileState::Unchecked);
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (bytes, sha) = w.finish();
        assert_eq!(bytes, b"abc");
        assert_eq!(sha, sha256_file(&p).unwrap());
    }
}
