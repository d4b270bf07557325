//! The memory's read bandwidth, measured by summing a buffer far larger than any cache: with
//! a model's weight bytes per token it gives the fastest decode the machine allows.

use crate::tasks::bench::round;
use std::time::Instant;

use serde::Serialize;

/// Bytes read per pass: far beyond the last-level cache of the CPUs this runs on.
const BUFFER_BYTES: usize = 256 << 20;
const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// Decode speed against what memory bandwidth allows.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeFloor {
    /// Weight bytes one decoded token reads, in MiB.
    pub weight_mib_per_token: f64,
    /// Read bandwidth measured here with the same threads, in GiB/s.
    pub read_gib_s: f64,
    /// The decode speed at which reading the weights would take all the time: the floor on
    /// time per token, as a rate.
    pub ceiling_tok_s: f64,
    /// Measured decode speed over the ceiling.
    pub share: f64,
}

impl DecodeFloor {
    /// The floor for a model reading `bytes_per_token` with `read_gib_s` of bandwidth, and
    /// the share of it `decode_tok_s` reaches.
    pub fn new(bytes_per_token: usize, read_gib_s: f64, decode_tok_s: f64) -> DecodeFloor {
        let ceiling = match bytes_per_token {
            0 => 0.0,
            b => read_gib_s * GIB / b as f64,
        };
        DecodeFloor {
            weight_mib_per_token: round(bytes_per_token as f64 / MIB, 1),
            read_gib_s: round(read_gib_s, 2),
            ceiling_tok_s: round(ceiling, 1),
            share: match ceiling > 0.0 {
                true => round(decode_tok_s / ceiling, 3),
                false => 0.0,
            },
        }
    }
}

/// Read bandwidth in GiB/s, `threads` threads each summing its share of the buffer: the best
/// of `passes` passes after one that warms the pages.
pub fn read_gib_s(threads: usize, passes: usize) -> f64 {
    // Filled, not zeroed, so every page is backed by its own memory rather than the zero page.
    let words = vec![1u64; BUFFER_BYTES / 8];
    let chunk = words.len().div_ceil(threads.max(1));
    let mut best = 0.0f64;
    for pass in 0..=passes.max(1) {
        let start = Instant::now();
        let total = std::thread::scope(|s| {
            let parts: Vec<_> = words
                .chunks(chunk)
                .map(|c| s.spawn(move || sum(c)))
                .collect();
            parts
                .into_iter()
                .map(|h| h.join().expect("a summing thread does not panic"))
                .fold(0u64, u64::wrapping_add)
        });
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(total);
        if pass > 0 && secs > 0.0 {
            best = best.max(BUFFER_BYTES as f64 / secs / GIB);
        }
    }
    best
}

/// How far ahead the sum prefetches, in bytes: as the decode kernels do, whose weights
/// stream the same way (without it one core keeps too few lines in flight: on AMD EPYC Zen 4
/// the probe read 4.5-9 GiB/s while decode itself read 27).
const PREFETCH_BYTES: usize = 3072;

/// Wrapping sum with independent lanes, so the loads, not the adds, set the pace; each
/// 64-byte block prefetches the one `PREFETCH_BYTES` ahead.
fn sum(words: &[u64]) -> u64 {
    let mut lanes = [0u64; 8];
    let mut blocks = words.chunks_exact(8);
    for block in &mut blocks {
        #[cfg(target_arch = "x86_64")]
        {
            let ahead = block.as_ptr().wrapping_byte_add(PREFETCH_BYTES) as *const i8;
            // SAFETY: SSE is part of x86-64; a prefetch never faults, even past the buffer.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ahead) };
        }
        for (lane, &w) in lanes.iter_mut().zip(block) {
            *lane = lane.wrapping_add(w);
        }
    }
    let tail = blocks
        .remainder()
        .iter()
        .fold(0u64, |a, &w| a.wrapping_add(w));
    lanes.iter().fold(tail, |a, &l| a.wrapping_add(l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_counts_every_word_with_tails() {
        for n in [0, 1, 7, 8, 9, 63, 1000] {
            let words: Vec<u64> = (1..=n as u64).collect();
            assert_eq!(sum(&words), n as u64 * (n as u64 + 1) / 2, "n = {n}");
        }
    }

    #[test]
    fn floor_is_bandwidth_over_bytes() {
        // 1 GiB/s over 64 MiB a token: 16 tokens a second at best.
        let f = DecodeFloor::new(64 << 20, 1.0, 8.0);
        assert_eq!(f.weight_mib_per_token, 64.0);
        assert_eq!(f.ceiling_tok_s, 16.0);
        assert_eq!(f.share, 0.5);
        assert_eq!(DecodeFloor::new(0, 1.0, 8.0).share, 0.0);
    }

    #[test]
    fn bandwidth_is_measured() {
        let gib_s = read_gib_s(1, 1);
        assert!(gib_s.is_finite() && gib_s > 0.0, "{gib_s}");
    }
}
