//! The Hugging Face Hub source, through hf-hub (honours `HF_HOME` and `HF_ENDPOINT`).

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::FetchOptions;

fn repo(repo: &str, revision: &str) -> Repo {
    Repo::with_revision(repo.to_string(), RepoType::Model, revision.to_string())
}

/// The file in the Hugging Face cache (`HF_HOME`), if it is there; no network.
pub(super) fn cached(repo_id: &str, file: &str, revision: &str) -> Option<PathBuf> {
    Cache::from_env().repo(repo(repo_id, revision)).get(file)
}

/// Download the file into the Hugging Face cache (replacing any copy there) and return its path.
pub(super) fn download(
    repo_id: &str,
    file: &str,
    revision: &str,
    opts: FetchOptions,
) -> Result<PathBuf, String> {
    let api = ApiBuilder::from_env()
        .with_progress(opts.progress)
        .build()
        .map_err(|e| e.to_string())?;
    api.repo(repo(repo_id, revision))
        .download(file)
        .map_err(|e| e.to_string())
}
