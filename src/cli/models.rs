//! `summarise models list | pull | verify | path | rm`.

use std::io::Write;

use clap::Subcommand;

use crate::error::{Error, IoContext, Result};
use crate::models::cache::FileState;
use crate::models::fetch::{self, FetchOptions};
use crate::models::{Cache, ModelEntry, Registry};

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
}

pub(super) fn run(cmd: ModelsCommand, offline: bool) -> Result<()> {
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
            let w = m.weights();
            if cache.state(m, w) == FileState::Missing {
                return Err(Error::NotCached {
                    id: m.id.clone(),
                    file: w.name.clone(),
                    dir: cache.model_dir(&m.id),
                    why: "",
                });
            }
            say(cache.file_path(m, w).display().to_string())?;
        }
        ModelsCommand::Rm { id } => {
            let m = registry.require(&id)?;
            let freed = cache.remove(m)?;
            say(format!("{}: removed {}", m.id, human_size(freed)))?;
        }
    }
    Ok(())
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
