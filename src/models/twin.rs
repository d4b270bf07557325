//! Shape twins: a GGUF file with a real model's metadata, tokenizer and tensor layout (names,
//! shapes, quant types) but deterministic pseudo-random weights, made from the real file's
//! header alone. A header is a few MB where the model is hundreds, so it can travel to a
//! machine the model cannot reach (the GPU check, `scripts/gpu-check.sh`), and a twin runs
//! at the real model's speed there. Its text is gibberish: it measures speed and device
//! agreement, never quality.
//!
//! Values: norm weights are ones; token embeddings and the output matrix are scaled so that
//! logits spread about as a trained model's do (std about 3); the projections into the
//! residual stream (attention output, FFN down) have std 0.02 / sqrt(2 x layers), as GPT-2 is
//! initialised, so that the random network is stable; every other tensor has std 0.02. Each
//! value is the sum of four uniforms (close to normal), from a SplitMix64 stream seeded by the
//! tensor's name and row block, so a twin is the same whatever the thread count.

use std::borrow::Cow;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::Device;

use crate::error::{Error, IoContext, Result};

/// Metadata key set on every twin, so a twin can never pass for a real model.
pub const TWIN_KEY: &str = "summarise.twin";

/// Largest twin made, in bytes of tensor data: far above any model this project runs, low
/// enough that a garbage header cannot ask for terabytes.
const MAX_TWIN_BYTES: u64 = 64 << 30;

/// Rows quantized per work item; fixed so the output does not depend on the thread count.
const ROWS_PER_ITEM: usize = 32;

/// What [`make`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TwinReport {
    /// `general.architecture` of the header.
    pub architecture: String,
    /// Tensors written.
    pub tensors: usize,
    /// Size of the twin file.
    pub bytes: u64,
    /// Seconds to make it.
    pub seconds: f64,
}

fn header_error(path: &Path, message: String) -> Error {
    Error::Input {
        source_name: path.display().to_string(),
        message: format!(
            "{message}; pass a GGUF file or its header, as cut by `summarise models header ID|PATH --out FILE`"
        ),
    }
}

/// Parse the GGUF header of `path` (a whole model, or just its header).
pub fn read_header(path: &Path) -> Result<Content> {
    let mut file = std::fs::File::open(path).at(path)?;
    Content::read(&mut file).map_err(|e| header_error(path, format!("not a GGUF header ({e})")))
}

/// Copy the header of the GGUF `model` (everything before its tensor data) to `out`; returns
/// the bytes written.
pub fn cut_header(model: &Path, out: &Path) -> Result<u64> {
    let content = read_header(model)?;
    let len = content.tensor_data_offset;
    let mut src = std::fs::File::open(model).at(model)?.take(len);
    let tmp = out.with_extension("header.tmp");
    let mut dst = std::fs::File::create(&tmp).at(&tmp)?;
    let copied = std::io::copy(&mut src, &mut dst).at(&tmp)?;
    dst.flush().at(&tmp)?;
    drop(dst);
    std::fs::rename(&tmp, out).at(out)?;
    Ok(copied)
}

/// Make a shape twin of the model whose header is `header` and write it to `out`, using up to
/// `threads` threads for the random values and their quantization.
pub fn make(header: &Path, out: &Path, threads: usize) -> Result<TwinReport> {
    let start = Instant::now();
    let content = read_header(header)?;
    let architecture = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .ok_or_else(|| {
            header_error(
                header,
                "metadata key `general.architecture` is missing".into(),
            )
        })?;

    // Tensors in the real file's order; sizes checked before anything is allocated.
    let mut infos: Vec<(&String, &gguf_file::TensorInfo)> = content.tensor_infos.iter().collect();
    infos.sort_by_key(|(name, info)| (info.offset, name.as_str()));
    if infos.is_empty() {
        return Err(header_error(header, "the header lists no tensors".into()));
    }
    let mut total = 0u64;
    for (name, info) in &infos {
        let dims = info.shape.dims();
        let cols = dims.last().copied().unwrap_or(0);
        let block = info.ggml_dtype.block_size();
        if dims.is_empty() || cols == 0 || cols % block != 0 {
            return Err(header_error(
                header,
                format!(
                    "tensor `{name}` has shape {dims:?}, which {:?} blocks of {block} cannot hold",
                    info.ggml_dtype
                ),
            ));
        }
        let elems = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
        let bytes = elems
            .map(|e| e / block as u64 * info.ggml_dtype.type_size() as u64)
            .filter(|&b| b <= MAX_TWIN_BYTES);
        total = match bytes.and_then(|b| total.checked_add(b)) {
            Some(t) if t <= MAX_TWIN_BYTES => t,
            _ => {
                return Err(header_error(
                    header,
                    format!(
                        "tensor `{name}` ({dims:?}) takes the twin past {} GiB; this is no model header",
                        MAX_TWIN_BYTES >> 30
                    ),
                ))
            }
        };
    }

    let hidden = content
        .metadata
        .get(&format!("{architecture}.embedding_length"))
        .and_then(|v| v.to_u32().ok());
    let layers = content
        .metadata
        .get(&format!("{architecture}.block_count"))
        .and_then(|v| v.to_u32().ok())
        .unwrap_or(1) as usize;
    let mut tensors = Vec::with_capacity(infos.len());
    for (name, info) in &infos {
        let dims = info.shape.dims();
        let cols = *dims.last().expect("checked above");
        let rows = info.shape.elem_count() / cols;
        let fill = Fill::for_tensor(
            name,
            dims.len(),
            hidden.map(|h| h as usize).unwrap_or(cols),
            layers,
        );
        let bytes = quantized_rows(name, info.ggml_dtype, rows, cols, fill, threads);
        let storage = QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, info.ggml_dtype)?;
        tensors.push((name.as_str(), QTensor::new(storage, info.shape.clone())?));
    }

    // Metadata as in the real file, less the alignment (the writer uses its own) and marked.
    let real_name = content
        .metadata
        .get("general.name")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_else(|| architecture.clone());
    let name_value = Value::String(format!(
        "{real_name} (shape twin: random weights, gibberish output)"
    ));
    let twin_value = Value::Bool(true);
    let mut metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "general.alignment" | "general.name" | TWIN_KEY))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    metadata.sort_by_key(|(k, _)| *k);
    metadata.push(("general.name", &name_value));
    metadata.push((TWIN_KEY, &twin_value));
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();

    let tmp = out.with_extension("twin.tmp");
    let file = std::fs::File::create(&tmp).at(&tmp)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    gguf_file::write(&mut w, &metadata, &tensor_refs).map_err(|e| Error::Io {
        path: tmp.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    w.flush().at(&tmp)?;
    drop(w);
    std::fs::rename(&tmp, out).at(out)?;
    let bytes = std::fs::metadata(out).at(out)?.len();
    Ok(TwinReport {
        architecture,
        tensors: tensors.len(),
        bytes,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// How a tensor's values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fill {
    /// All ones (norm weights).
    Ones,
    /// Zero mean, this standard deviation.
    Random(f32),
}

impl Fill {
    fn for_tensor(name: &str, rank: usize, hidden: usize, layers: usize) -> Fill {
        if rank == 1 && name.contains("norm") {
            Fill::Ones
        } else if name == "token_embd.weight" || name == "output.weight" {
            // Logits are a unit-RMS hidden state times these rows: std 3 / sqrt(hidden) gives
            // logits of std about 3, with clear winners as in a trained model.
            Fill::Random(3.0 / (hidden.max(1) as f32).sqrt())
        } else if name.ends_with("attn_output.weight") || name.ends_with("ffn_down.weight") {
            // The projections back into the residual stream get GPT-2's 1 / sqrt(2 x layers):
            // with 0.02 each layer would add more than the stream holds, and a deep random
            // network then amplifies rounding differences until two correct engines disagree.
            Fill::Random(0.02 / ((2 * layers.max(1)) as f32).sqrt())
        } else {
            Fill::Random(0.02)
        }
    }
}

/// Quantized bytes of a `rows` x `cols` tensor of `dtype`, filled per `fill`.
fn quantized_rows(
    name: &str,
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
    fill: Fill,
    threads: usize,
) -> Vec<u8> {
    let row_bytes = cols / dtype.block_size() * dtype.type_size();
    let mut out = vec![0u8; rows * row_bytes];
    let seed = fnv1a(name.as_bytes());
    let items = std::sync::Mutex::new(out.chunks_mut(ROWS_PER_ITEM * row_bytes).enumerate());
    let work = || {
        let mut values = Vec::new();
        loop {
            let Some((item, dst)) = items.lock().expect("no worker panics").next() else {
                break;
            };
            let n = dst.len() / row_bytes * cols;
            values.clear();
            match fill {
                Fill::Ones => values.resize(n, 1.0),
                Fill::Random(std) => {
                    let mut rng =
                        SplitMix64(seed ^ (item as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    values.extend((0..n).map(|_| rng.normal() * std));
                }
            }
            let mut q = dtype.cpu_zeros(n);
            q.from_float(&values);
            // SAFETY: `as_ptr` points at `storage_size_in_bytes` initialised bytes owned by `q`.
            let bytes =
                unsafe { std::slice::from_raw_parts(q.as_ptr(), q.storage_size_in_bytes()) };
            dst.copy_from_slice(bytes);
        }
    };
    let threads = threads.clamp(1, rows.div_ceil(ROWS_PER_ITEM).max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Mean 0, std 1: the sum of four 16-bit uniforms, centred and scaled (Irwin-Hall).
    fn normal(&mut self) -> f32 {
        let r = self.next();
        let sum: u32 = (0..4).map(|i| ((r >> (16 * i)) & 0xFFFF) as u32).sum();
        // Each uniform has mean 32767.5 and variance 65536^2 / 12; four have variance 65536^2 / 3.
        (sum as f32 - 4.0 * 32767.5) * (3.0f32.sqrt() / 65536.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    /// A tiny GGUF with a norm, an embedding and a Q4_0 matrix.
    fn tiny_gguf(path: &Path) {
        let dev = Device::Cpu;
        let norm = QTensor::quantize(
            &Tensor::zeros(64, candle_core::DType::F32, &dev).unwrap(),
            GgmlDType::F32,
        )
        .unwrap();
        let embd = QTensor::quantize(
            &Tensor::zeros((10, 64), candle_core::DType::F32, &dev).unwrap(),
            GgmlDType::Q8_0,
        )
        .unwrap();
        let w = QTensor::quantize(
            &Tensor::zeros((8, 256), candle_core::DType::F32, &dev).unwrap(),
            GgmlDType::Q4K,
        )
        .unwrap();
        let arch = Value::String("llama".into());
        let hidden = Value::U32(64);
        let mut f = std::fs::File::create(path).unwrap();
        gguf_file::write(
            &mut f,
            &[
                ("general.architecture", &arch),
                ("llama.embedding_length", &hidden),
            ],
            &[
                ("blk.0.attn_norm.weight", &norm),
                ("token_embd.weight", &embd),
                ("blk.0.ffn_up.weight", &w),
            ],
        )
        .unwrap();
    }

    #[test]
    fn twin_keeps_names_shapes_types_and_fills_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.gguf");
        tiny_gguf(&real);
        let header = dir.path().join("real.header");
        let cut = cut_header(&real, &header).unwrap();
        assert_eq!(cut, read_header(&real).unwrap().tensor_data_offset);
        let twin = dir.path().join("twin.gguf");
        let report = make(&header, &twin, 3).unwrap();
        assert_eq!(report.tensors, 3);

        let real_c = read_header(&real).unwrap();
        let mut f = std::fs::File::open(&twin).unwrap();
        let twin_c = Content::read(&mut f).unwrap();
        for (name, info) in &real_c.tensor_infos {
            let t = &twin_c.tensor_infos[name];
            assert_eq!(t.shape, info.shape, "{name}");
            assert_eq!(t.ggml_dtype, info.ggml_dtype, "{name}");
        }
        assert!(twin_c.metadata[TWIN_KEY].to_bool().unwrap());
        let norm = twin_c
            .tensor(&mut f, "blk.0.attn_norm.weight", &Device::Cpu)
            .unwrap();
        let norm: Vec<f32> = norm.dequantize(&Device::Cpu).unwrap().to_vec1().unwrap();
        assert!(norm.iter().all(|&x| x == 1.0));
        let mut values = |name: &str| -> Vec<f32> {
            let t = twin_c.tensor(&mut f, name, &Device::Cpu).unwrap();
            let t = t.dequantize(&Device::Cpu).unwrap();
            t.flatten_all().unwrap().to_vec1().unwrap()
        };
        let w = values("blk.0.ffn_up.weight");
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let std = (w.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
        assert!(
            mean.abs() < 0.003 && (0.015..0.025).contains(&std),
            "mean {mean} std {std}"
        );
        let e = values("token_embd.weight");
        let e_std = (e.iter().map(|x| x * x).sum::<f32>() / e.len() as f32).sqrt();
        assert!(
            (0.3..0.45).contains(&e_std),
            "embedding std {e_std} (3/sqrt(64) = 0.375)"
        );

        // The same twin whatever the thread count.
        let twin1 = dir.path().join("twin1.gguf");
        make(&header, &twin1, 1).unwrap();
        assert_eq!(
            std::fs::read(&twin).unwrap(),
            std::fs::read(&twin1).unwrap()
        );
    }

    #[test]
    fn garbage_and_truncated_headers_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.header");
        std::fs::write(&garbage, b"this is not a gguf header at all").unwrap();
        let err = make(&garbage, &dir.path().join("t.gguf"), 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("garbage.header") && err.contains("models header"),
            "{err}"
        );

        let real = dir.path().join("real.gguf");
        tiny_gguf(&real);
        let bytes = std::fs::read(&real).unwrap();
        let cut = dir.path().join("cut.header");
        std::fs::write(&cut, &bytes[..bytes.len().min(120)]).unwrap();
        let err = make(&cut, &dir.path().join("t.gguf"), 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cut.header") && err.contains("not a GGUF header"),
            "{err}"
        );
        assert!(!dir.path().join("t.gguf").exists());

        let missing = dir.path().join("missing.header");
        let err = make(&missing, &dir.path().join("t.gguf"), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.header"), "{err}");
    }

    #[test]
    fn normal_draws_have_unit_spread() {
        let mut rng = SplitMix64(7);
        let xs: Vec<f32> = (0..100_000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "mean {mean} var {var}"
        );
    }
}
