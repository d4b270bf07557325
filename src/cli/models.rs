//! `summarise models list | pull | verify | path | rm`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::error::{Error, IoContext, Result};
use crate::models::cache::FileState;
use crate::models::fetch::{self, FetchOptions};
use crate::models::{twin, Cache, ModelEntry, Registry};

/// Model management.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// One model a line: id, whether it is cached, size, architecture, name.
    List,
    /// Fetch a model's files into the cache and verify them (no-op when already there).
    Pull {
        /// Model id (default: the registry's default model).
        id: Option<String>,
    },
    /// Re-hash cached files against the registry's sha256 (all cached models by default).
    Verify {
        /// Model id.
        id: Option<String>,
    },
    /// Print the path of a model's weights file in the cache.
    Path {
        /// Model id.
        id: String,
    },
    /// Delete a model's cached files.
    Rm {
        /// Model id.
        id: String,
    },
    /// Copy the header of a model's GGUF (metadata, tokenizer, tensor list: a few MB) to a
    /// file, from which `models twin` makes a stand-in elsewhere.
    Header {
        /// Registry id of a cached model, or a path to a .gguf file.
        #[arg(value_name = "ID|PATH")]
        model: String,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a shape twin: a GGUF with the header's metadata, tokenizer and tensor names,
    /// shapes and quant types, filled with deterministic pseudo-random weights. It runs at the
    /// real model's speed and writes gibberish; for benchmarks and device checks only.
    Twin {
        /// A header cut by `models header` (or a whole GGUF file).
        #[arg(value_name = "HEADER")]
        header: PathBuf,
        /// Where to write the twin.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Threads for the random values and their quantization (default: all cores).
        #[arg(long, short = 't', value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..))]
        threads: Option<u32>,
    },
}

pub(super) fn run(cmd: ModelsCommand, offline: bool) -> Result<()> {
    if let ModelsCommand::Twin {
        header,
        out,
        threads,
    } = &cmd
    {
        // Needs neither the registry nor the cache: it runs where only the header travelled.
        let threads = threads.map(|t| t as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let report = twin::make(header, out, threads)?;
        let line = serde_json::json!({
            "twin": out.display().to_string(),
            "header": header.display().to_string(),
            "architecture": report.architecture,
            "tensors": report.tensors,
            "bytes": report.bytes,
            "seconds": (report.seconds * 1000.0).round() / 1000.0,
        });
        let mut stdout = std::io::stdout().lock();
        return writeln!(stdout, "{line}").at("<stdout>");
    }
    let registry = Registry::load()?;
    let cache = Cache::from_env()?;
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| -> Result<()> { writeln!(out, "{line}").at("<stdout>") };
    match cmd {
        ModelsCommand::List => {
            for m in &registry.models {
                let state = model_state(&cache, m);
                let default = if m.id == registry.default {
                    "default"
                } else {
                    "-"
                };
                say(format!(
                    "{:<30} {:<8} {:<10} {:>8}  {:<7} {:<7} {}",
                    m.id,
                    default,
                    state,
                    human_size(m.files.iter().map(|f| f.size).sum()),
                    m.architecture,
                    m.quant,
                    m.name
                ))?;
            }
        }
        ModelsCommand::Pull { id } => {
            let m = registry.require(id.as_deref().unwrap_or(&registry.default))?;
            let fetched = fetch::pull(&cache, m, FetchOptions::from_env(offline))?;
            for f in fetched {
                match f.source {
                    None => say(format!("{}: {} already cached", m.id, f.file))?,
                    Some(src) => say(format!("{}: {} fetched from {src}", m.id, f.file))?,
                }
            }
            say(cache.file_path(m, m.weights()).display().to_string())?;
        }
        ModelsCommand::Verify { id } => {
            let models: Vec<&ModelEntry> = match &id {
                Some(id) => vec![registry.require(id)?],
                None => registry.models.iter().collect(),
            };
            let mut bad = Vec::new();
            let mut to_pull: Vec<String> = Vec::new();
            let mut checked = 0;
            for m in models {
                for f in &m.files {
                    if cache.state(m, f) == FileState::Missing {
                        if id.is_some() {
                            say(format!("{}: {} MISSING", m.id, f.name))?;
                            bad.push(f.name.clone());
                            to_pull.push(m.id.clone());
                        }
                        continue;
                    }
                    checked += 1;
                    match cache.verify(m, f) {
                        Ok(path) => say(format!("{}: {} OK", m.id, path.display()))?,
                        Err(e @ Error::Corrupt { .. }) => {
                            say(format!(
                                "{}: {} CORRUPT",
                                m.id,
                                cache.file_path(m, f).display()
                            ))?;
                            eprintln!("error: {e}");
                            bad.push(f.name.clone());
                            to_pull.push(m.id.clone());
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if checked == 0 && bad.is_empty() {
                say("no models are cached; fetch one with `summarise models pull`".into())?;
            }
            if !bad.is_empty() {
                to_pull.dedup();
                return Err(Error::Verify(format!(
                    "{} file(s) failed verification: {}; fetch good copies with {}",
                    bad.len(),
                    bad.join(", "),
                    to_pull
                        .iter()
                        .map(|id| format!("`summarise models pull {id}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        ModelsCommand::Path { id } => {
            let m = registry.require(&id)?;
            say(cached_weights(&cache, m)?.display().to_string())?;
        }
        ModelsCommand::Rm { id } => {
            let m = registry.require(&id)?;
            let freed = cache.remove(m)?;
            say(format!("{}: removed {}", m.id, human_size(freed)))?;
        }
        ModelsCommand::Header { model, out } => {
            let path =
                match registry.get(&model) {
                    Some(m) => cached_weights(&cache, m)?,
                    None if Path::new(&model).is_file() => PathBuf::from(&model),
                    None => return Err(Error::Input {
                        source_name: model,
                        message:
                            "neither a registry id (see `summarise models list`) nor a .gguf file"
                                .into(),
                    }),
                };
            let bytes = twin::cut_header(&path, &out)?;
            say(format!(
                "{}: {} bytes of header written to {}",
                path.display(),
                bytes,
                out.display()
            ))?;
        }
        ModelsCommand::Twin { .. } => unreachable!("handled above"),
    }
    Ok(())
}

/// Where a registry model's weights lie in the cache; an error naming the pull when absent.
fn cached_weights(cache: &Cache, m: &ModelEntry) -> Result<PathBuf> {
    let w = m.weights();
    if cache.state(m, w) == FileState::Missing {
        return Err(Error::NotCached {
            id: m.id.clone(),
            file: w.name.clone(),
            dir: cache.model_dir(&m.id),
            why: "",
        });
    }
    Ok(cache.file_path(m, w))
}

fn model_state(cache: &Cache, m: &ModelEntry) -> &'static str {
    let states: Vec<FileState> = m.files.iter().map(|f| cache.state(m, f)).collect();
    if states.iter().all(|s| *s == FileState::Missing) {
        "-"
    } else if states.contains(&FileState::Missing) {
        "partial"
    } else {
        "cached"
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}
