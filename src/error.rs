//! The library's error type: every variant names the file, model or field involved and what to do.

use std::path::PathBuf;

/// Errors from the library. The CLI prints them with `{:#}` and picks an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model registry could not be read or is malformed.
    #[error("model registry {path}: {message}")]
    Registry { path: PathBuf, message: String },

    /// A model id that is not in the registry.
    #[error("unknown model `{id}`; known models: {known}. Run `summarise models list`, or pass a path to a .gguf file")]
    UnknownModel { id: String, known: String },

    /// The model is not in the cache (and may not be fetched now).
    #[error("model `{id}` is not downloaded ({file} is not in {dir}){why}; fetch it with `summarise models pull {id}`")]
    NotCached {
        id: String,
        file: String,
        dir: PathBuf,
        /// Why it was not fetched now, e.g. " and offline mode is on".
        why: &'static str,
    },

    /// A cached or downloaded file whose sha256 does not match the registry.
    #[error("{path} is corrupt: sha256 is {actual}, the registry expects {expected}; replace it with a good copy: `summarise models pull {id}`")]
    Corrupt {
        id: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// `models verify` found missing or corrupt files.
    #[error("{0}")]
    Verify(String),

    /// Every source of a file failed; each failure is listed.
    #[error("could not fetch {file} for model `{id}`; tried:\n{attempts}")]
    FetchFailed {
        id: String,
        file: String,
        attempts: String,
    },

    /// A model this build cannot run (yet).
    #[error("{0}")]
    Unsupported(String),

    /// The environment or a model's registry data is unusable.
    #[error("{0}")]
    Config(String),

    /// A device that is not compiled in or not present.
    #[error("{0}")]
    Device(String),

    /// A model file that cannot be loaded.
    #[error("cannot load model {path}: {message}")]
    Load { path: PathBuf, message: String },

    /// The inference engine refused a request.
    #[error("inference failed: {0}")]
    Engine(String),

    /// The native engine refused a request.
    #[error("inference failed: {0}")]
    Native(#[from] crate::engine::native::EngineError),

    /// The tokenizer failed.
    #[error(transparent)]
    Tokenizer(#[from] crate::engine::tokenizer::TokenizerError),

    /// The input article could not be read or is unusable.
    #[error("{source_name}: {message}")]
    Input {
        source_name: String,
        message: String,
    },

    /// Generated tokens could not be turned back into text.
    #[error("cannot decode generated text: {0}")]
    Decode(String),

    /// The prompt does not fit the model's context; callers name the input it came from.
    #[error(
        "the prompt is {tokens} tokens but the model holds at most {context}; shorten the input"
    )]
    PromptTooLong { tokens: usize, context: usize },

    /// A failure inside the tensor library during inference.
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),

    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Invalid option values, caught after argument parsing.
    #[error("{0}")]
    Usage(String),
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a path to an I/O error.
pub trait IoContext<T> {
    /// Name the path an I/O error happened on.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
