//! What the engine reports when a model cannot be loaded or a request cannot run; each message
//! names the tensor, metadata key or position involved.

/// Errors of the native engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The file cannot be opened or is not a readable GGUF file.
    #[error("{0}")]
    File(String),
    /// The file lacks a tensor the architecture needs.
    #[error("tensor `{0}` is missing (is this file complete? `summarise models verify` checks a cached model)")]
    MissingTensor(String),
    /// A tensor whose shape, size, type or placement is unusable.
    #[error("tensor `{name}` {problem}")]
    Tensor { name: String, problem: String },
    /// A metadata value that is missing or unusable.
    #[error("metadata `{key}` {problem}")]
    Metadata { key: String, problem: String },
    /// Something the file asks for that this engine does not do yet.
    #[error("{0}")]
    Unsupported(String),
    /// A request with no tokens.
    #[error("no tokens to run")]
    NoTokens,
    /// A request past the positions reserved for it.
    #[error(
        "position {position} is past the {reserved} reserved for this request; reserve more first"
    )]
    PastReserved { position: usize, reserved: usize },
    /// A token id the model has no embedding for.
    #[error("token id {token} is outside the vocabulary of {vocab}")]
    TokenOutOfVocab { token: u32, vocab: usize },
    /// A draft check longer than one pass computes exactly as single steps.
    #[error("{tokens} tokens to check at once; at most {most} (split the draft)")]
    TooManyToVerify { tokens: usize, most: usize },
    /// A beam search call out of order or with the wrong number of beams.
    #[error("{0}")]
    Beams(String),
}

impl EngineError {
    /// A problem with tensor `name`.
    pub(crate) fn tensor(name: &str, problem: impl Into<String>) -> EngineError {
        EngineError::Tensor {
            name: name.to_string(),
            problem: problem.into(),
        }
    }

    /// A problem with metadata key `key`.
    pub(crate) fn metadata(key: impl Into<String>, problem: impl Into<String>) -> EngineError {
        EngineError::Metadata {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Results of the native engine.
pub type Result<T> = std::result::Result<T, EngineError>;
