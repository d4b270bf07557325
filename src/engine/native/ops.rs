//! The element-wise pieces of a decoder layer: RMS norm, rotary embedding, activations.

use super::dispatch::avx2_dispatch;

avx2_dispatch! {
    /// `out = x / rms(x) * w`, row by row; `x` and `out` hold rows of `w.len()` values.
    pub(crate) fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        let n = w.len();
        for (xr, or) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            let scale = rms_scale(xr, eps);
            for ((o, &v), &g) in or.iter_mut().zip(xr).zip(w) {
                *o = v * scale * g;
            }
        }
    }
}

avx2_dispatch! {
    /// In-place RMS norm over each `w.len()`-wide slice (per-head q/k norms).
    pub(crate) fn rms_norm_in_place(x: &mut [f32], w: &[f32], eps: f32) {
        let n = w.len();
        for xr in x.chunks_exact_mut(n) {
            let scale = rms_scale(xr, eps);
            for (v, &g) in xr.iter_mut().zip(w) {
                *v *= scale * g;
            }
        }
    }
}

#[inline(always)]
fn rms_scale(x: &[f32], eps: f32) -> f32 {
    1.0 / (dot(x, x) / x.len() as f32 + eps).sqrt()
}

/// How rotary embedding pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// Dimensions (2i, 2i+1): llama's GGUF layout.
    Adjacent,
    /// Dimensions (i, i + n_rot/2): GPT-NeoX style, used by Qwen and Gemma.
    Halves,
}

/// Inverse frequencies for `n_rot` rotated dimensions: `scale * base^(-2i/n_rot) / factor_i`.
pub(crate) fn inv_freqs(n_rot: usize, base: f32, scale: f32, factors: Option<&[f32]>) -> Vec<f32> {
    (0..n_rot / 2)
        .map(|i| {
            let f = scale * base.powf(-((2 * i) as f32) / n_rot as f32);
            match factors {
                Some(fs) => f / fs[i],
                None => f,
            }
        })
        .collect()
}

/// Fill `cos` and `sin` (`positions.len() x freqs.len()`) for the positions in use only.
pub(crate) fn rope_table(
    positions: std::ops::Range<usize>,
    freqs: &[f32],
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let half = freqs.len();
    for (t, p) in positions.enumerate() {
        for (i, &f) in freqs.iter().enumerate() {
            let (s, c) = (p as f32 * f).sin_cos();
            cos[t * half + i] = c;
            sin[t * half + i] = s;
        }
    }
}

avx2_dispatch! {
    /// Rotate each head of one token's `x` (`n_heads x head_dim`) by that token's table row.
    pub(crate) fn rope(x: &mut [f32], head_dim: usize, style: RopeStyle, cos: &[f32], sin: &[f32]) {
        let half = cos.len();
        for head in x.chunks_exact_mut(head_dim) {
            match style {
                RopeStyle::Adjacent => {
                    for i in 0..half {
                        let (a, b) = (head[2 * i], head[2 * i + 1]);
                        head[2 * i] = a * cos[i] - b * sin[i];
                        head[2 * i + 1] = a * sin[i] + b * cos[i];
                    }
                }
                RopeStyle::Halves => {
                    for i in 0..half {
                        let (a, b) = (head[i], head[i + half]);
                        head[i] = a * cos[i] - b * sin[i];
                        head[i + half] = a * sin[i] + b * cos[i];
                    }
                }
            }
        }
    }
}

/// The gate activation of the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    /// SiLU (SwiGLU): llama, Qwen.
    Silu,
    /// GELU, tanh approximation (GeGLU): Gemma.
    GeluTanh,
}

avx2_dispatch! {
    /// `gate = act(gate) * up`, in place. Both activations are written through [`exp`], so
    /// the loops vectorise (a libm `tanhf` or `expf` per value was an eighth of Gemma's prefill).
    pub(crate) fn gated(gate: &mut [f32], up: &[f32], act: Activation) {
        match act {
            Activation::Silu => {
                for (g, &u) in gate.iter_mut().zip(up) {
                    *g = *g / (1.0 + exp(-*g)) * u;
                }
            }
            Activation::GeluTanh => {
                // 0.5 x (1 + tanh(z)) = x / (1 + e^(-2z)).
                const TWO_SQRT_2_OVER_PI: f32 = 2.0 * 0.797_884_6;
                for (g, &u) in gate.iter_mut().zip(up) {
                    let x = *g;
                    let z2 = TWO_SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x);
                    *g = x / (1.0 + exp(-z2)) * u;
                }
            }
        }
    }
}

avx2_dispatch! {
    /// `x = softmax(x)` in place, through [`exp`] so the loop vectorises.
    pub(crate) fn softmax(x: &mut [f32]) {
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        x.iter_mut().for_each(|v| *v = exp(*v - max));
        // Eight running sums: one would chain every add and keep the loop scalar.
        let mut acc = [0.0f32; 8];
        let mut chunks = x.chunks_exact(8);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        let sum = acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
        let inv = 1.0 / sum;
        x.iter_mut().for_each(|v| *v *= inv);
    }
}

/// `e^x` in f32 (relative error below 5e-7, as the test checks), with no branch or call so loops of it vectorise:
/// `x = n ln 2 + r`, `e^r` by its Taylor polynomial on `|r| <= ln 2 / 2`, `2^n` from the bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and taking away 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n as i32 + 127) << 23) as u32) * p
}

avx2_dispatch! {
    /// `x += y`.
    pub(crate) fn add(x: &mut [f32], y: &[f32]) {
        for (a, &b) in x.iter_mut().zip(y) {
            *a += b;
        }
    }
}

avx2_dispatch! {
    /// Dot product, written so the compiler vectorises it (eight running sums).
    #[inline]
    pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let chunks = a.len() / 8;
        for c in 0..chunks {
            for l in 0..8 {
                acc[l] += a[c * 8 + l] * b[c * 8 + l];
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for i in chunks * 8..a.len() {
            sum += a[i] * b[i];
        }
        sum
    }
}

avx2_dispatch! {
    /// `out += w * v`.
    #[inline]
    pub(crate) fn axpy(out: &mut [f32], w: f32, v: &[f32]) {
        for (o, &x) in out.iter_mut().zip(v) {
            *o += w * x;
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn exp_is_close_to_the_exact_one_everywhere() {
        let mut worst = 0.0f64;
        for i in -87_000..=87_900 {
            let x = i as f32 / 1000.0 + 0.000_37;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64 - want) / want).abs());
        }
        assert!(worst < 5e-7, "relative error {worst}");
        // Beyond f32's range it saturates instead of giving NaN.
        assert_eq!(exp(-1e30), exp(-87.0));
        assert!(exp(1e30).is_finite());
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn activations_match_their_definitions() {
        let gate: Vec<f32> = (0..2000).map(|i| (i as f32 - 1000.0) / 97.0).collect();
        let up: Vec<f32> = (0..2000).map(|i| 1.0 + (i % 7) as f32 / 3.0).collect();
        for act in [Activation::Silu, Activation::GeluTanh] {
            let mut got = gate.clone();
            gated(&mut got, &up, act);
            for ((&g, &u), &o) in gate.iter().zip(&up).zip(&got) {
                let x = g as f64;
                let want = match act {
                    Activation::Silu => x / (1.0 + (-x).exp()),
                    Activation::GeluTanh => {
                        let z = 0.797_884_560_8 * x * (1.0 + 0.044_715 * x * x);
                        0.5 * x * (1.0 + z.tanh())
                    }
                } * u as f64;
                assert!(
                    (o as f64 - want).abs() <= 2e-6 * (1.0 + want.abs()),
                    "{act:?}({g}): {o} vs {want}"
                );
            }
        }
    }

    use super::*;

    #[test]
    fn softmax_matches_its_definition_for_every_length_around_the_lanes() {
        for n in [1, 7, 8, 9, 23, 300] {
            let x: Vec<f32> = (0..n).map(|i| ((i * 37) % 19) as f32 * 0.7 - 5.0).collect();
            let mut got = x.clone();
            softmax(&mut got);
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let z: f64 = x.iter().map(|&v| (v as f64 - max).exp()).sum();
            for (g, &v) in got.iter().zip(&x) {
                let want = (v as f64 - max).exp() / z;
                assert!(
                    (*g as f64 - want).abs() < 1e-6 * want.max(1e-3),
                    "n={n}: {g} vs {want}"
                );
            }
        }
    }

    #[test]
    fn rms_norm_gives_unit_rms() {
        let x = [3.0, -4.0, 0.0, 0.0];
        let mut out = [0.0; 4];
        rms_norm(&x, &[1.0; 4], 0.0, &mut out);
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
        assert!((out[0] - 1.2).abs() < 1e-6);
    }

    #[test]
    fn rope_at_position_zero_is_identity_and_preserves_norm() {
        let freqs = inv_freqs(4, 10000.0, 1.0, None);
        let (mut cos, mut sin) = (vec![0.0; 4], vec![0.0; 4]);
        rope_table(0..2, &freqs, &mut cos, &mut sin);
        for style in [RopeStyle::Adjacent, RopeStyle::Halves] {
            let mut x = [1.0, 2.0, 3.0, 4.0];
            rope(&mut x, 4, style, &cos[..2], &sin[..2]);
            assert_eq!(x, [1.0, 2.0, 3.0, 4.0]);
            rope(&mut x, 4, style, &cos[2..], &sin[2..]);
            let norm: f32 = x.iter().map(|v| v * v).sum();
            assert!((norm - 30.0).abs() < 1e-4);
        }
        // Position 1, first pair rotates by exactly 1 radian.
        let mut x = [1.0, 0.0, 0.0, 0.0];
        rope(&mut x, 4, RopeStyle::Adjacent, &cos[2..], &sin[2..]);
        assert!((x[0] - 1f32.cos()).abs() < 1e-6 && (x[1] - 1f32.sin()).abs() < 1e-6);
        let mut x = [1.0, 0.0, 0.0, 0.0];
        rope(&mut x, 4, RopeStyle::Halves, &cos[2..], &sin[2..]);
        assert!((x[0] - 1f32.cos()).abs() < 1e-6 && (x[2] - 1f32.sin()).abs() < 1e-6);
    }

    #[test]
    fn dot_matches_a_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..19).map(|i| (i * i) as f32).sum::<f32>());
    }
}
