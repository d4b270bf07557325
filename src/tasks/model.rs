//! Resolving `--model ID|PATH` into a file on disk plus how to prompt it, fetching if allowed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::{self, LoadedModel};
use crate::error::IoContext;
use crate::error::{Error, Result};
use crate::generate::{self, template};
use crate::models::cache::sha256_file;
use crate::models::fetch::{self, FetchOptions};
use crate::models::registry::{ModelKind, Prompts, Sampling, TemplateKind};
use crate::models::{Cache, Registry};

/// A model chosen for a run: where its weights are and how to prompt it.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Registry id, or the file stem for a model given by path.
    pub id: String,
    /// The weights file.
    pub path: PathBuf,
    /// A tokenizer.json to use instead of the GGUF's own vocabulary.
    pub tokenizer: Option<PathBuf>,
    /// Its sha256.
    pub sha256: String,
    /// Prompt layout.
    pub template: TemplateKind,
    /// Stop token texts.
    pub stop: Vec<String>,
    /// Default sampling.
    pub sampling: Sampling,
    /// How summaries are asked for.
    pub prompts: Prompts,
}

/// Identity of the model in reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// Registry id or file stem.
    pub id: String,
    /// File name of the weights.
    pub file: String,
    /// sha256 of the weights.
    pub sha256: String,
}

impl ModelSpec {
    /// Identity for reports.
    pub fn report(&self) -> ModelReport {
        ModelReport {
            id: self.id.clone(),
            file: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: self.sha256.clone(),
        }
    }
}

/// Resolve `spec` (a registry id, or a path to a .gguf file; `None` = the registry default).
/// A registry model is taken from the cache after a sha256 check, or fetched unless offline.
pub fn resolve(spec: Option<&str>, registry: &Registry, offline: bool) -> Result<ModelSpec> {
    let spec = spec.unwrap_or(&registry.default);
    if registry.get(spec).is_none() && looks_like_path(spec) {
        return from_path(Path::new(spec), registry);
    }
    let entry = registry.require(spec)?;
    if entry.kind == ModelKind::Embedding {
        return Err(Error::Usage(format!(
            "model `{}` is a sentence-embedding model and cannot write text; pick another with --model",
            entry.id
        )));
    }
    let supported = engine::supported();
    if !supported.contains(&entry.architecture.as_str()) {
        return Err(Error::Unsupported(format!(
            "model `{}` is a {} model, which this build cannot run yet (supported: {}); pick another with --model",
            entry.id,
            entry.architecture,
            supported.join(", ")
        )));
    }
    let cache = Cache::from_env()?;
    let opts = FetchOptions::from_env(offline);
    let path = fetch::ensure_file(&cache, entry, entry.weights(), opts)?;
    let tokenizer = match entry.tokenizer_file() {
        Some(file) => Some(fetch::ensure_file(&cache, entry, file, opts)?),
        None => None,
    };
    Ok(ModelSpec {
        id: entry.id.clone(),
        path,
        tokenizer,
        sha256: entry.weights().sha256.clone(),
        template: entry.template,
        stop: entry.stop.clone(),
        sampling: entry.sampling,
        prompts: registry.prompts.clone(),
    })
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') || spec.ends_with(".gguf")
}

/// A model file outside the registry: prompt it by what its GGUF metadata says.
fn from_path(path: &Path, registry: &Registry) -> Result<ModelSpec> {
    if !path.is_file() {
        return Err(Error::Input {
            source_name: path.display().to_string(),
            message: "no such model file; pass a registry id (see `summarise models list`) or a path to a .gguf file".into(),
        });
    }
    let sha256 = sha256_file(path).at(path)?;
    let mut file = std::fs::File::open(path).at(path)?;
    let chatml = candle_core::quantized::gguf_file::Content::read(&mut file)
        .ok()
        .and_then(|c| {
            c.metadata
                .get("tokenizer.chat_template")
                .and_then(|v| v.to_string().ok())
                .map(|t| t.contains("<|im_start|>"))
        })
        .unwrap_or(false);
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    Ok(ModelSpec {
        id,
        path: path.to_path_buf(),
        tokenizer: None,
        sha256,
        template: if chatml {
            TemplateKind::Chatml
        } else {
            TemplateKind::Completion
        },
        stop: if chatml {
            vec!["<|im_end|>".into()]
        } else {
            vec![]
        },
        sampling: Sampling::default(),
        prompts: registry.prompts.clone(),
    })
}

/// Load the resolved model onto the device.
pub fn load(
    spec: &ModelSpec,
    device: &candle_core::Device,
    kind: engine::EngineKind,
) -> Result<LoadedModel> {
    engine::load_gguf(&spec.path, spec.tokenizer.as_deref(), device, kind)
}

/// The model's stop rules: every stop text is matched in the decoded text, and those that are
/// single tokens of the vocabulary also stop by id (with the end-of-sequence token), which
/// also catches special tokens that decoding hides.
pub fn stops(spec: &ModelSpec, model: &LoadedModel) -> (Vec<u32>, Vec<String>) {
    let mut ids = Vec::with_capacity(spec.stop.len() + 1);
    let mut texts = Vec::new();
    for text in &spec.stop {
        ids.extend(model.tokenizer.token_id(text));
        texts.push(text.clone());
    }
    ids.extend(model.tokenizer.eos_id());
    ids.sort_unstable();
    ids.dedup();
    (ids, texts)
}

/// A loaded model with its spec and stop rules: what every task that prompts a model needs.
pub struct Loaded {
    pub spec: ModelSpec,
    pub model: LoadedModel,
    pub stop_ids: Vec<u32>,
    pub stop_texts: Vec<String>,
    /// Check drafts from the prompt when decoding greedily (`--speculate`).
    pub speculate: bool,
}

impl Loaded {
    /// Load `spec` onto `device`.
    pub fn new(
        spec: ModelSpec,
        device: &candle_core::Device,
        engine: engine::EngineKind,
    ) -> Result<Loaded> {
        let model = load(&spec, device, engine)?;
        let (stop_ids, stop_texts) = stops(&spec, &model);
        Ok(Loaded {
            spec,
            model,
            stop_ids,
            stop_texts,
            speculate: generate::speculation_wanted(),
        })
    }

    /// Lay out and tokenize a request for this model: its chat template for instruct models,
    /// plain text ending in `answer` for base models.
    pub fn encode(&self, system: &str, user: &str, answer: &str) -> Result<Vec<u32>> {
        self.encode_with(system, &[], user, answer)
    }

    /// [`Loaded::encode`] with worked examples shown first, as earlier (request, answer) turns.
    pub fn encode_with(
        &self,
        system: &str,
        examples: &[(String, String)],
        user: &str,
        answer: &str,
    ) -> Result<Vec<u32>> {
        let prompt = template::Prompt {
            system,
            examples,
            user,
            answer_prefix: match self.spec.template {
                TemplateKind::Chatml => "",
                _ => answer,
            },
        };
        template::encode(
            &self.model.tokenizer,
            &template::render(self.spec.template, &prompt),
        )
    }

    /// Greedy (or registry-sampled) generation from `ids`, with `extra_stops` besides the
    /// model's own stop rules; a beam search when `beams` is more than 1.
    pub fn generate(
        &mut self,
        ids: &[u32],
        max_tokens: usize,
        extra_stops: &[&str],
        temperature: Option<f64>,
        seed: u64,
        beams: usize,
    ) -> Result<generate::Generation> {
        let config = self.config(max_tokens, extra_stops, temperature, seed, beams);
        generate::generate(&mut self.model, ids, &config, &mut |_| {})
    }

    /// [`Loaded::generate`] for each of `prompts`, up to `width` decoding together
    /// ([`generate::generate_batch`]); the results in order, a prompt that cannot run getting
    /// its error.
    pub fn generate_batch(
        &mut self,
        prompts: &[Vec<u32>],
        max_tokens: usize,
        temperature: Option<f64>,
        seed: u64,
        width: usize,
    ) -> Result<Vec<Result<generate::Generation>>> {
        let config = self.config(max_tokens, &[], temperature, seed, 1);
        generate::generate_batch(&mut self.model, prompts, &config, width)
    }

    /// [`Loaded::generate_batch`] with a token limit for each prompt and `extra_stops`.
    pub fn generate_batch_limited(
        &mut self,
        prompts: &[Vec<u32>],
        max_tokens: &[usize],
        extra_stops: &[&str],
        temperature: Option<f64>,
        seed: u64,
        width: usize,
    ) -> Result<Vec<Result<generate::Generation>>> {
        let config = self.config(0, extra_stops, temperature, seed, 1);
        generate::generate_batch_limited(&mut self.model, prompts, max_tokens, &config, width)
    }

    /// The generation settings of a request: the registry's sampling with `temperature` in
    /// place of its own when given, and the model's stop rules with `extra_stops`.
    fn config(
        &self,
        max_tokens: usize,
        extra_stops: &[&str],
        temperature: Option<f64>,
        seed: u64,
        beams: usize,
    ) -> generate::GenerateConfig {
        let mut params = self.spec.sampling;
        if let Some(t) = temperature {
            params.temperature = t;
        }
        let mut stop_texts = self.stop_texts.clone();
        stop_texts.extend(extra_stops.iter().map(|s| s.to_string()));
        generate::GenerateConfig {
            max_tokens,
            stop_ids: self.stop_ids.clone(),
            stop_texts,
            sampler: generate::SamplerConfig { params, seed },
            beams,
            speculate: self.speculate,
        }
    }
}
