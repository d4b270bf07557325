//! What differs between architectures, as data: one table row per family, and the numbers
//! read from the GGUF metadata. Adding a llama-like family is a new row here.

use candle_core::quantized::gguf_file::{Content, Value};

use super::error::{EngineError, Result};
use super::ops::{Activation, RopeStyle};

/// The fixed traits of an architecture family.
#[derive(Debug)]
pub(crate) struct Family {
    /// `general.architecture`.
    pub name: &'static str,
    pub rope: RopeStyle,
    pub activation: Activation,
    /// Multiply token embeddings by `sqrt(n_embd)` (Gemma).
    pub scale_embeddings: bool,
    /// Sliding-window layers repeat with this period, the last of each period global (Gemma 3);
    /// used when the file has a window but no explicit pattern.
    pub window_period: Option<usize>,
    /// RoPE base of sliding-window layers when the file does not say.
    pub window_rope_base: f32,
}

/// Families this engine runs. Biases, q/k norms and post-norms are found from the tensors
/// present, so they need no column here.
pub(crate) const FAMILIES: &[Family] = &[
    Family {
        name: "llama",
        rope: RopeStyle::Adjacent,
        activation: Activation::Silu,
        scale_embeddings: false,
        window_period: None,
        window_rope_base: 10_000.0,
    },
    Family {
        name: "qwen2",
        rope: RopeStyle::Halves,
        activation: Activation::Silu,
        scale_embeddings: false,
        window_period: None,
        window_rope_base: 10_000.0,
    },
    Family {
        name: "qwen3",
        rope: RopeStyle::Halves,
        activation: Activation::Silu,
        scale_embeddings: false,
        window_period: None,
        window_rope_base: 10_000.0,
    },
    Family {
        name: "gemma3",
        rope: RopeStyle::Halves,
        activation: Activation::GeluTanh,
        scale_embeddings: true,
        window_period: Some(6),
        window_rope_base: 10_000.0,
    },
];

/// Architecture names the engine accepts.
pub(crate) fn family_names() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.name).collect()
}

/// A model's shape and constants.
#[derive(Debug)]
pub(crate) struct Config {
    pub family: &'static Family,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub k_dim: usize,
    pub v_dim: usize,
    pub n_rot: usize,
    pub eps: f32,
    pub rope_base: f32,
    pub rope_scale: f32,
    pub window: Option<usize>,
    /// Per layer: is it a sliding-window layer?
    pub windowed: Vec<bool>,
    pub window_rope_base: f32,
    /// Multiplier applied to queries before the dot products.
    pub attn_scale: f32,
    pub final_softcap: Option<f32>,
    pub context_length: usize,
}

/// Typed access to the metadata, with errors naming the key.
struct Meta<'a> {
    content: &'a Content,
    arch: &'a str,
}

impl Meta<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(&format!("{}.{key}", self.arch))
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.arch)
    }

    fn usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .to_u64()
                .map(|n| Some(n as usize))
                .or_else(|_| v.to_u32().map(|n| Some(n as usize)))
                .or_else(|_| v.to_i32().map(|n| Some(n.max(0) as usize)))
                .map_err(|_| EngineError::metadata(self.key(key), "is not an integer")),
        }
    }

    fn need(&self, key: &str) -> Result<usize> {
        self.usize(key)?
            .ok_or_else(|| EngineError::metadata(self.key(key), "is missing"))
    }

    fn f32(&self, key: &str) -> Result<Option<f32>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .to_f32()
                .map(Some)
                .map_err(|_| EngineError::metadata(self.key(key), "is not a number")),
        }
    }

    fn string(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(|v| v.to_string().ok())
            .map(|s| s.as_str())
    }
}

impl Config {
    /// Read the configuration of an `arch` model; errors name the metadata key.
    pub(crate) fn from_gguf(content: &Content, arch: &str) -> Result<Config> {
        let family = FAMILIES.iter().find(|f| f.name == arch).ok_or_else(|| {
            EngineError::Unsupported(format!(
                "architecture `{arch}` is not supported; supported: {}",
                family_names().join(", ")
            ))
        })?;
        let m = Meta { content, arch };
        let n_embd = m.need("embedding_length")?;
        let n_layer = m.need("block_count")?;
        let n_head = m.need("attention.head_count")?;
        let n_kv_head = m.usize("attention.head_count_kv")?.unwrap_or(n_head);
        if n_head == 0 || n_kv_head == 0 || n_head % n_kv_head != 0 {
            return Err(EngineError::metadata(
                m.key("attention.head_count_kv"),
                format!("is {n_kv_head}: {n_head} attention heads cannot share that many key/value heads"),
            ));
        }
        let k_dim = m.usize("attention.key_length")?.unwrap_or(n_embd / n_head);
        let v_dim = m.usize("attention.value_length")?.unwrap_or(k_dim);
        let n_rot = m.usize("rope.dimension_count")?.unwrap_or(k_dim);
        if n_rot > k_dim || n_rot % 2 != 0 {
            return Err(EngineError::metadata(
                m.key("rope.dimension_count"),
                format!("is {n_rot}, which does not fit heads of {k_dim}"),
            ));
        }
        let rope_scale = match m.string("rope.scaling.type") {
            None | Some("none") => 1.0,
            Some("linear") => 1.0 / m.f32("rope.scaling.factor")?.unwrap_or(1.0),
            Some(other) => {
                return Err(EngineError::Unsupported(format!(
                    "rope scaling `{other}` (`{arch}.rope.scaling.type`) is not supported yet"
                )))
            }
        };
        let window = m.usize("attention.sliding_window")?.filter(|&w| w > 0);
        let windowed = match (window, family.window_period) {
            (Some(_), Some(period)) => match m.get("attention.sliding_window_pattern") {
                // Newer files list the windowed layers explicitly.
                Some(Value::Array(flags)) => {
                    let flags: Vec<bool> = flags.iter().filter_map(|v| v.to_bool().ok()).collect();
                    if flags.len() != n_layer {
                        return Err(EngineError::metadata(
                            m.key("attention.sliding_window_pattern"),
                            format!("lists {} layers, the model has {n_layer}", flags.len()),
                        ));
                    }
                    flags
                }
                _ => {
                    let period = m
                        .usize("attention.sliding_window_pattern")?
                        .unwrap_or(period);
                    (0..n_layer)
                        .map(|l| period == 0 || l % period < period - 1)
                        .collect()
                }
            },
            (Some(_), None) => vec![true; n_layer],
            (None, _) => vec![false; n_layer],
        };
        // Gemma 3 27B scales queries by the model width per head rather than the head size.
        let attn_scale = if arch == "gemma3" && n_layer == 62 {
            1.0 / ((n_embd / n_head) as f32).sqrt()
        } else {
            1.0 / (k_dim as f32).sqrt()
        };
        Ok(Config {
            family,
            n_embd,
            n_layer,
            n_ff: m.need("feed_forward_length")?,
            n_head,
            n_kv_head,
            k_dim,
            v_dim,
            n_rot,
            eps: m.f32("attention.layer_norm_rms_epsilon")?.unwrap_or(1e-6),
            rope_base: m.f32("rope.freq_base")?.unwrap_or(10_000.0),
            rope_scale,
            window,
            windowed,
            window_rope_base: m
                .f32("rope.freq_base_swa")?
                .unwrap_or(family.window_rope_base),
            attn_scale,
            final_softcap: m.f32("final_logit_softcapping")?.filter(|&c| c > 0.0),
            context_length: m.need("context_length")?,
        })
    }
}
