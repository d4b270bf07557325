//! Reference backend: candle-transformers' quantized llama and qwen2 modules behind
//! [`CausalLm`], kept to measure the native engine against and to run on CUDA/Metal until the
//! native engine does. gemma3 is refused: candle's `quantized_gemma3` is wrong for Gemma 3
//! (SiLU instead of GELU-tanh, no sliding window).
//!
//! On a GPU the weights stay quantized on the device (candle's quantized matmul kernels), the
//! KV cache is device tensors, and greedy decoding takes the argmax there. Every type candle
//! 0.11 reads from a GGUF (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K to Q6_K) has a
//! CUDA kernel there, so nothing needs dequantizing at load; other types (Q8_K, the IQ and TQ
//! families) are refused as the file is read, on every device, naming the type.

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor, D};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::CausalLm;
use crate::error::Result;

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

struct CandleModel {
    weights: Weights,
    device: Device,
    logits: Vec<f32>,
}

impl CandleModel {
    /// The last position's logits as a device tensor, `[vocab]`.
    fn logits(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, pos)?,
            Weights::Qwen2(m) => m.forward(&input, pos)?,
        };
        // Both return the last position's logits, [1, vocab].
        Ok(logits.squeeze(0)?)
    }
}

impl CausalLm for CandleModel {
    fn reserve(&mut self, _positions: usize) -> Result<()> {
        Ok(())
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<&[f32]> {
        self.logits = self.logits(tokens, pos)?.to_dtype(DType::F32)?.to_vec1()?;
        Ok(&self.logits)
    }

    fn forward_argmax(&mut self, tokens: &[u32], pos: usize) -> Result<u32> {
        if self.device.is_cpu() {
            return Ok(crate::generate::sampler::argmax(self.forward(tokens, pos)?));
        }
        // On the device: only the chosen id is copied back.
        Ok(self
            .logits(tokens, pos)?
            .argmax(D::Minus1)?
            .to_scalar::<u32>()?)
    }

    fn reset(&mut self) {
        match &mut self.weights {
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::Qwen2(m) => m.clear_kv_cache(),
        }
    }
}

/// The longest sequence the backend handles for `architecture`, when below the file's own
/// context length: candle's quantized llama precomputes RoPE for 4096 positions only.
pub(super) fn max_context(architecture: &str) -> Option<usize> {
    (architecture == "llama").then_some(quantized_llama::MAX_SEQ_LEN)
}

/// Build the model for `architecture`; errors are messages for [`crate::Error::Load`].
pub(super) fn load(
    architecture: &str,
    content: gguf_file::Content,
    file: &mut std::io::Cursor<&[u8]>,
    device: &Device,
) -> std::result::Result<Box<dyn CausalLm>, String> {
    let weights = match architecture {
        "llama" => {
            quantized_llama::ModelWeights::from_gguf(content, file, device).map(Weights::Llama)
        }
        "qwen2" => {
            quantized_qwen2::ModelWeights::from_gguf(content, file, device).map(Weights::Qwen2)
        }
        other => {
            return Err(format!(
            "architecture `{other}` is not supported by the candle engine; it runs: llama, qwen2"
        ))
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(Box::new(CandleModel {
        weights,
        device: device.clone(),
        logits: Vec::new(),
    }))
}
