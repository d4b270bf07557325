//! Activations quantized once per matrix product, in the two forms the weight formats take:
//! blocks of 32 with a scale and the scaled sum (for the 32-value formats), and llama.cpp's
//! Q8_K super-blocks of 256 with sums per 16 (for the K-quants).

/// Values per super-block of the K-quants.
pub(crate) const QK_K: usize = 256;

use crate::engine::native::dispatch::avx2_dispatch;

avx2_dispatch! {
    /// Quantize one row `x` (a multiple of 32 long) into `qs` and, per block, `(d, d * sum(q))`
    /// in `ds`: the value of largest magnitude maps to +-127, the others round to nearest (half away
    /// from zero), as llama.cpp's Q8_0 and Q8_1 reference quantizers do.
    pub(crate) fn quantize_q8(x: &[f32], qs: &mut [i8], ds: &mut [f32]) {
        for ((xs, q), ds) in x
            .chunks_exact(32)
            .zip(qs.chunks_exact_mut(32))
            .zip(ds.chunks_exact_mut(2))
        {
            let amax = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, &v) in q.iter_mut().zip(xs) {
                let r = (v * id).round() as i32;
                *q = r as i8;
                sum += r;
            }
            ds[0] = d;
            ds[1] = d * sum as f32;
        }
    }
}

/// Activations of one super-block: `x = d * qs`, with the sum of each 16 quants.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q8K {
    pub(crate) qs: [i8; QK_K],
    pub(crate) bsums: [i16; 16],
    pub(crate) d: f32,
}

impl Default for Q8K {
    fn default() -> Self {
        Q8K {
            qs: [0; QK_K],
            bsums: [0; 16],
            d: 0.0,
        }
    }
}

avx2_dispatch! {
    /// Quantize `x` (a multiple of 256 long) as llama.cpp's Q8_K does: the value of largest
    /// magnitude maps to -127, others round to nearest (half to even).
    pub(crate) fn quantize_q8k(x: &[f32], out: &mut [Q8K]) {
        for (xs, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
            let (mut max, mut amax) = (0.0f32, 0.0f32);
            for &v in xs {
                if v.abs() > amax {
                    amax = v.abs();
                    max = v;
                }
            }
            if amax == 0.0 {
                *b = Q8K::default();
                continue;
            }
            let iscale = -127.0 / max;
            for (q, &v) in b.qs.iter_mut().zip(xs) {
                *q = (iscale * v).round_ties_even().min(127.0) as i8;
            }
            for (j, s) in b.bsums.iter_mut().enumerate() {
                *s = b.qs[j * 16..(j + 1) * 16].iter().map(|&q| q as i16).sum();
            }
            b.d = 1.0 / iscale;
        }
    }
}

/// The quantized activations of `m` rows of `k` values, as the kernels read them.
#[derive(Clone, Copy)]
pub(crate) struct Act<'a> {
    /// Rows.
    pub(crate) m: usize,
    /// Values per row.
    pub(crate) k: usize,
    /// 32-blocks: `m x k` quants, and `m x k/32` pairs `(d, d * sum)`.
    pub(crate) q8: &'a [i8],
    pub(crate) ds: &'a [f32],
    /// Super-blocks: `m x k/256`.
    pub(crate) q8k: &'a [Q8K],
    /// Other formats (candle's kernels): `m` rows of `raw_row` bytes.
    pub(crate) raw: &'a [u8],
    pub(crate) raw_row: usize,
}

impl<'a> Act<'a> {
    /// Row `t`'s quants and block scales, 32-block form.
    #[inline]
    pub(crate) fn q8_row(&self, t: usize) -> (&'a [i8], &'a [f32]) {
        let kb = self.k / 32;
        (
            &self.q8[t * self.k..(t + 1) * self.k],
            &self.ds[t * 2 * kb..(t + 1) * 2 * kb],
        )
    }

    /// Row `t`'s super-blocks.
    #[inline]
    pub(crate) fn q8k_row(&self, t: usize) -> &'a [Q8K] {
        let kb = self.k / QK_K;
        &self.q8k[t * kb..(t + 1) * kb]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_blocks_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let (mut qs, mut ds) = (vec![0i8; 64], vec![0f32; 4]);
        quantize_q8(&x, &mut qs, &mut ds);
        for b in 0..2 {
            let d = ds[2 * b];
            let sum: i32 = qs[b * 32..(b + 1) * 32].iter().map(|&q| q as i32).sum();
            assert!((ds[2 * b + 1] - d * sum as f32).abs() < 1e-4);
            for i in 0..32 {
                let v = x[b * 32 + i];
                assert!((qs[b * 32 + i] as f32 * d - v).abs() <= d / 2.0 + 1e-6);
            }
            assert!(qs[b * 32..(b + 1) * 32]
                .iter()
                .any(|&q| q.unsigned_abs() == 127));
        }
        // An all-zero block stays zero.
        quantize_q8(&[0.0; 32], &mut qs[..32], &mut ds[..2]);
        assert!(qs[..32].iter().all(|&q| q == 0) && ds[0] == 0.0);
    }

    #[test]
    fn q8k_sums_match_their_quants() {
        let x: Vec<f32> = (0..256).map(|i| (i as f32 * 0.11).cos() - 0.2).collect();
        let mut b = [Q8K::default()];
        quantize_q8k(&x, &mut b);
        for j in 0..16 {
            let s: i16 = b[0].qs[j * 16..(j + 1) * 16]
                .iter()
                .map(|&q| q as i16)
                .sum();
            assert_eq!(s, b[0].bsums[j]);
        }
        for (i, &v) in x.iter().enumerate() {
            assert!((b[0].qs[i] as f32 * b[0].d - v).abs() <= b[0].d.abs() / 2.0 + 1e-6);
        }
    }
}
