//! The Hugging Face Hub source, through hf-hub (honours `HF_HOME` and `HF_ENDPOINT`).

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::FetchOptions;

/// A path to the file in the Hugging Face cache, downloading it unless offline. Offline, a file
/// already in the Hugging Face cache (`HF_HOME`) is still used.
pub(super) fn fetch(
    repo: &str,
    file: &str,
    revision: &str,
    opts: FetchOptions,
) -> Result<PathBuf, String> {
    let repo = Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string());
    if let Some(path) = Cache::from_env().repo(repo.clone()).get(file) {
        return Ok(path);
    }
    if opts.offline {
        return Err("skipped: offline and not in the Hugging Face cache".to_string());
    }
    let api = ApiBuilder::from_env()
        .with_progress(opts.progress)
        .build()
        .map_err(|e| e.to_string())?;
    api.repo(repo).download(file).map_err(|e| e.to_string())
}
