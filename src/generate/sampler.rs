//! Choosing the next token from logits: greedy, or temperature with top-k / top-p, plus a
//! repeat penalty. Change sampling here; nothing else needs to know. Works on a slice of
//! logits and reuses its buffers, so sampling allocates nothing per token.

use crate::error::{Error, Result};
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
    params: registry::Sampling,
    rng: SplitMix64,
    /// Penalised copy of the logits.
    work: Vec<f32>,
    /// Candidate token ids, best first.
    order: Vec<u32>,
    /// Their probabilities.
    probs: Vec<f32>,
}

impl Sampler {
    /// A sampler for `config`.
    pub fn new(config: SamplerConfig) -> Sampler {
        Sampler {
            params: config.params,
            rng: SplitMix64(config.seed),
            work: Vec::new(),
            order: Vec::new(),
            probs: Vec::new(),
        }
    }

    /// Whether the choice is the plain argmax of the logits (greedy with no repeat penalty), so
    /// that an engine may make it where the logits are ([`crate::engine::CausalLm::forward_argmax`]).
    pub fn is_plain_greedy(&self) -> bool {
        self.params.temperature <= 0.0 && self.params.repeat_penalty == 1.0
    }

    /// Choose the next token given the logits of the last position and the tokens generated.
    pub fn sample(&mut self, logits: &[f32], generated: &[u32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(Error::Engine("the model returned no logits".into()));
        }
        let p = self.params;
        let mut work = std::mem::take(&mut self.work);
        let penalise = p.repeat_penalty != 1.0 && !generated.is_empty();
        if penalise {
            work.clear();
            work.extend_from_slice(logits);
            let window = &generated[generated.len().saturating_sub(p.repeat_last_n)..];
            for (i, &t) in window.iter().enumerate() {
                // Once per distinct token: a repeated token is not penalised twice.
                if window[..i].contains(&t) {
                    continue;
                }
                if let Some(v) = work.get_mut(t as usize) {
                    *v = if *v >= 0.0 {
                        *v / p.repeat_penalty
                    } else {
                        *v * p.repeat_penalty
                    };
                }
            }
        }
        let logits = if penalise { &work[..] } else { logits };
        let token = if p.temperature <= 0.0 {
            argmax(logits)
        } else {
            self.draw(logits)
        };
        self.work = work;
        Ok(token)
    }

    /// Temperature sampling over the top-k, then the top-p nucleus.
    fn draw(&mut self, logits: &[f32]) -> u32 {
        let p = self.params;
        let t = p.temperature as f32;
        self.order.clear();
        self.order.extend(0..logits.len() as u32);
        let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
        let k = if p.top_k == 0 {
            logits.len()
        } else {
            p.top_k.min(logits.len())
        };
        if k < logits.len() {
            self.order.select_nth_unstable_by(k - 1, by_logit);
            self.order.truncate(k);
        }
        self.order.sort_unstable_by(by_logit);
        let max = logits[self.order[0] as usize];
        // Unnormalised probabilities of the candidates, best first.
        let mut probs = std::mem::take(&mut self.probs);
        probs.clear();
        probs.extend(
            self.order
                .iter()
                .map(|&i| ((logits[i as usize] - max) / t).exp()),
        );
        let total: f32 = probs.iter().sum();
        let mut keep = probs.len();
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            for (i, &q) in probs.iter().enumerate() {
                acc += q / total;
                if acc >= p.top_p as f32 {
                    keep = i + 1;
                    break;
                }
            }
        }
        let kept: f32 = probs[..keep].iter().sum();
        let mut r = self.rng.next_f32() * kept;
        let mut chosen = self.order[keep - 1];
        for (i, &q) in probs[..keep].iter().enumerate() {
            if r < q {
                chosen = self.order[i];
                break;
            }
            r -= q;
        }
        self.probs = probs;
        chosen
    }
}

/// Index of the largest logit (the first, on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// A small, seedable generator; quality is ample for sampling.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(params: registry::Sampling, seed: u64) -> Sampler {
        Sampler::new(SamplerConfig { params, seed })
    }

    #[test]
    fn greedy_picks_the_largest_logit() {
        let mut s = sampler(registry::Sampling::default(), 1);
        assert_eq!(s.sample(&[0.1, 3.0, -1.0, 2.9], &[]).unwrap(), 1);
    }

    #[test]
    fn repeat_penalty_moves_away_from_repeated_token() {
        let params = registry::Sampling {
            repeat_penalty: 2.0,
            ..Default::default()
        };
        let mut s = sampler(params, 1);
        assert_eq!(s.sample(&[0.1, 3.0, -1.0, 2.9], &[1]).unwrap(), 3);
        // Repeated twice in the history, still penalised once: 3.0 / 2 = 1.5 < 2.9 either way,
        // and a negative logit is pushed further down.
        assert_eq!(s.sample(&[0.1, 3.0, -1.0, 2.9], &[1, 1]).unwrap(), 3);
        assert_eq!(s.sample(&[-0.5, -0.6], &[0]).unwrap(), 1);
    }

    #[test]
    fn same_seed_same_tokens() {
        let params = registry::Sampling {
            temperature: 1.0,
            ..Default::default()
        };
        let logits = [1.0f32; 5];
        let run = |seed| {
            let mut s = sampler(params, seed);
            (0..20)
                .map(|_| s.sample(&logits, &[]).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn top_k_one_is_greedy_and_top_p_keeps_the_nucleus() {
        let params = registry::Sampling {
            temperature: 1.0,
            top_k: 1,
            ..Default::default()
        };
        let mut s = sampler(params, 3);
        for _ in 0..10 {
            assert_eq!(s.sample(&[0.0, 5.0, 4.9], &[]).unwrap(), 1);
        }
        // One token holds nearly all the mass: top-p 0.5 keeps only it.
        let params = registry::Sampling {
            temperature: 1.0,
            top_p: 0.5,
            ..Default::default()
        };
        let mut s = sampler(params, 3);
        for _ in 0..20 {
            assert_eq!(s.sample(&[10.0, 0.0, 0.0, 0.0], &[]).unwrap(), 0);
        }
    }

    #[test]
    fn empty_logits_are_an_error() {
        let mut s = sampler(registry::Sampling::default(), 1);
        assert!(s.sample(&[], &[]).is_err());
    }
}
