//! Choosing the next token from logits: greedy, or temperature with top-k / top-p, plus a
//! repeat penalty. Change sampling here; nothing else needs to know.

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};

use crate::error::Result;
use crate::models::registry;

/// Sampling settings after command-line overrides.
#[derive(Debug, Clone, Copy)]
pub struct SamplerConfig {
    /// The registry defaults, with `temperature` possibly overridden.
    pub params: registry::Sampling,
    /// Seed of the random generator (ignored when greedy).
    pub seed: u64,
}

/// Picks tokens.
pub struct Sampler {
    processor: LogitsProcessor,
    repeat_penalty: f32,
    repeat_last_n: usize,
}

impl Sampler {
    /// A sampler for `config`.
    pub fn new(config: SamplerConfig) -> Sampler {
        let p = config.params;
        let sampling = if p.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match (p.top_k, p.top_p < 1.0) {
                (0, false) => Sampling::All {
                    temperature: p.temperature,
                },
                (0, true) => Sampling::TopP {
                    p: p.top_p,
                    temperature: p.temperature,
                },
                (k, false) => Sampling::TopK {
                    k,
                    temperature: p.temperature,
                },
                (k, true) => Sampling::TopKThenTopP {
                    k,
                    p: p.top_p,
                    temperature: p.temperature,
                },
            }
        };
        Sampler {
            processor: LogitsProcessor::from_sampling(config.seed, sampling),
            repeat_penalty: p.repeat_penalty,
            repeat_last_n: p.repeat_last_n,
        }
    }

    /// Choose the next token given the logits of the last position and the tokens generated.
    pub fn sample(&mut self, logits: &Tensor, generated: &[u32]) -> Result<u32> {
        let token = if self.repeat_penalty == 1.0 || generated.is_empty() {
            self.processor.sample(logits)?
        } else {
            let start = generated.len().saturating_sub(self.repeat_last_n);
            let logits = candle_transformers::utils::apply_repeat_penalty(
                logits,
                self.repeat_penalty,
                &generated[start..],
            )?;
            self.processor.sample(&logits)?
        };
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn greedy_picks_the_largest_logit() {
        let mut s = Sampler::new(SamplerConfig {
            params: registry::Sampling::default(),
            seed: 1,
        });
        let logits = Tensor::new(&[0.1f32, 3.0, -1.0, 2.9], &Device::Cpu).unwrap();
        assert_eq!(s.sample(&logits, &[]).unwrap(), 1);
    }

    #[test]
    fn repeat_penalty_moves_away_from_repeated_token() {
        let params = registry::Sampling {
            repeat_penalty: 2.0,
            ..Default::default()
        };
        let mut s = Sampler::new(SamplerConfig { params, seed: 1 });
        let logits = Tensor::new(&[0.1f32, 3.0, -1.0, 2.9], &Device::Cpu).unwrap();
        assert_eq!(s.sample(&logits, &[1]).unwrap(), 3);
    }

    #[test]
    fn same_seed_same_tokens() {
        let params = registry::Sampling {
            temperature: 1.0,
            ..Default::default()
        };
        let logits = Tensor::new(&[1.0f32, 1.0, 1.0, 1.0, 1.0], &Device::Cpu).unwrap();
        let run = |seed| {
            let mut s = Sampler::new(SamplerConfig { params, seed });
            (0..20)
                .map(|_| s.sample(&logits, &[]).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
