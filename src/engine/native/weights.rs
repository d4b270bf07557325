//! Views of the named GGUF tensors inside the mapped file, checked against the config.

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;

use super::config::Config;
use super::error::{EngineError, Result};
use super::matmul::{QMatrix, Storage};

/// Finds tensors by name in the mapped file.
pub(crate) struct Tensors<'a> {
    file: Storage,
    content: &'a Content,
}

impl<'a> Tensors<'a> {
    pub(crate) fn new(file: Storage, content: &'a Content) -> Tensors<'a> {
        Tensors { file, content }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The tensor's type, `[rows, cols]`, and bytes.
    /// The tensor's type, `[rows, cols]`, and where its bytes are in the file.
    fn raw(&self, name: &str) -> Result<(GgmlDType, usize, usize, usize, usize)> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| EngineError::MissingTensor(name.to_string()))?;
        let dims = info.shape.dims();
        let (rows, cols) = match dims {
            [cols] => (1, *cols),
            [rows, cols] => (*rows, *cols),
            other => {
                return Err(EngineError::tensor(
                    name,
                    format!("has shape {other:?}, expected 1 or 2 dims"),
                ))
            }
        };
        let dtype = info.ggml_dtype;
        let len = rows
            .checked_mul(cols)
            .map(|n| n.div_ceil(dtype.block_size()))
            .and_then(|blocks| blocks.checked_mul(dtype.type_size()))
            .ok_or_else(|| EngineError::tensor(name, format!("of {rows}x{cols} is too large")))?;
        let start = (self.content.tensor_data_offset as usize).checked_add(info.offset as usize);
        let start =
            start.ok_or_else(|| EngineError::tensor(name, "has an offset past any file"))?;
        Ok((dtype, rows, cols, start, len))
    }

    /// A weight matrix, with its shape checked where the config fixes it.
    pub(crate) fn matrix(
        &self,
        name: &str,
        rows: Option<usize>,
        cols: Option<usize>,
    ) -> Result<QMatrix> {
        let (dtype, r, c, start, len) = self.raw(name)?;
        if rows.is_some_and(|want| want != r) || cols.is_some_and(|want| want != c) {
            return Err(EngineError::tensor(
                name,
                format!(
                    "is {r}x{c}, expected {}x{}",
                    rows.map_or("?".into(), |v| v.to_string()),
                    cols.map_or("?".into(), |v| v.to_string())
                ),
            ));
        }
        QMatrix::new(dtype, r, c, self.file.clone(), start, len)
            .map_err(|problem| EngineError::tensor(name, problem))
    }

    /// A small vector (norm weights, biases), copied out as f32.
    pub(crate) fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let m = self.matrix(name, Some(1), Some(len))?;
        let mut out = vec![0.0; len];
        m.row_to_f32(0, &mut out);
        Ok(out)
    }

    fn optional_vector(&self, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
        match self.has(name) {
            true => self.vector(name, len).map(Some),
            false => Ok(None),
        }
    }
}

/// One decoder block. Optional parts are present when the file has the tensor.
pub(crate) struct Layer {
    pub attn_norm: Vec<f32>,
    pub q: QMatrix,
    pub k: QMatrix,
    pub v: QMatrix,
    pub o: QMatrix,
    pub q_bias: Option<Vec<f32>>,
    pub k_bias: Option<Vec<f32>>,
    pub v_bias: Option<Vec<f32>>,
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: QMatrix,
    pub up: QMatrix,
    pub down: QMatrix,
    pub post_ffn_norm: Option<Vec<f32>>,
    pub windowed: bool,
}

impl Layer {
    /// Bytes of the layer's weight matrices: what one token's pass reads from memory.
    pub(crate) fn matrix_bytes(&self) -> usize {
        [
            &self.q, &self.k, &self.v, &self.o, &self.gate, &self.up, &self.down,
        ]
        .iter()
        .map(|m| m.byte_len())
        .sum()
    }

    pub(crate) fn load(t: &Tensors<'_>, c: &Config, l: usize) -> Result<Layer> {
        let name = |s: &str| format!("blk.{l}.{s}");
        let (e, qd) = (c.n_embd, c.n_head * c.k_dim);
        let (kd, vd) = (c.n_kv_head * c.k_dim, c.n_kv_head * c.v_dim);
        Ok(Layer {
            attn_norm: t.vector(&name("attn_norm.weight"), e)?,
            q: t.matrix(&name("attn_q.weight"), Some(qd), Some(e))?,
            k: t.matrix(&name("attn_k.weight"), Some(kd), Some(e))?,
            v: t.matrix(&name("attn_v.weight"), Some(vd), Some(e))?,
            o: t.matrix(
                &name("attn_output.weight"),
                Some(e),
                Some(c.n_head * c.v_dim),
            )?,
            q_bias: t.optional_vector(&name("attn_q.bias"), qd)?,
            k_bias: t.optional_vector(&name("attn_k.bias"), kd)?,
            v_bias: t.optional_vector(&name("attn_v.bias"), vd)?,
            q_norm: t.optional_vector(&name("attn_q_norm.weight"), c.k_dim)?,
            k_norm: t.optional_vector(&name("attn_k_norm.weight"), c.k_dim)?,
            post_attn_norm: t.optional_vector(&name("post_attention_norm.weight"), e)?,
            ffn_norm: t.vector(&name("ffn_norm.weight"), e)?,
            gate: t.matrix(&name("ffn_gate.weight"), Some(c.n_ff), Some(e))?,
            up: t.matrix(&name("ffn_up.weight"), Some(c.n_ff), Some(e))?,
            down: t.matrix(&name("ffn_down.weight"), Some(e), Some(c.n_ff))?,
            post_ffn_norm: t.optional_vector(&name("post_ffw_norm.weight"), e)?,
            windowed: c.windowed[l],
        })
    }
}
