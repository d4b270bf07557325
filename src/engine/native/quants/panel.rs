//! Prefill products for K-quant weights (Q4_K, Q6_K) in integer arithmetic: each weight row is
//! unpacked once per panel into bytes and 16-wide scales, then multiplied by Q8_K activations
//! (one scale per 256 values, as llama.cpp quantizes them) with AVX2 byte dot products, four
//! tokens per pass over the row.

use half::f16;

/// Values per super-block.
pub(crate) const QK: usize = 256;

/// One super-block of a weight row, unpacked: `w = d * scale[i/16] * q[i] - dm * mn[i/16]`.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Unpacked {
    q: [u8; QK],
    /// `scale` laid out per 32-value chunk as the kernel uses it: eight copies of the chunk's
    /// first-half scale, then eight of its second-half scale.
    wide: [[i16; 16]; 8],
    scale: [i16; 16],
    mn: [i16; 16],
    d: f32,
    dm: f32,
}

impl Default for Unpacked {
    fn default() -> Self {
        Unpacked {
            q: [0; QK],
            wide: [[0; 16]; 8],
            scale: [0; 16],
            mn: [0; 16],
            d: 0.0,
            dm: 0.0,
        }
    }
}

/// Activations of one super-block: `x = d * qs`, with sums of each 16 quants.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Q8K {
    qs: [i8; QK],
    bsums: [i16; 16],
    d: f32,
}

impl Default for Q8K {
    fn default() -> Self {
        Q8K {
            qs: [0; QK],
            bsums: [0; 16],
            d: 0.0,
        }
    }
}

/// Quantize `x` (a multiple of 256 long) as llama.cpp's Q8_K does: the value of largest
/// magnitude maps to -127, others round to nearest.
pub(crate) fn quantize_q8k(x: &[f32], out: &mut [Q8K]) {
    for (xs, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
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

/// Which K-quant a row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Q4K,
    Q6K,
}

impl Kind {
    /// Bytes of one packed super-block.
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Kind::Q4K => 144,
            Kind::Q6K => 210,
        }
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Unpack one packed super-block (GGUF layout) of `kind`.
pub(crate) fn unpack(kind: Kind, b: &[u8], out: &mut Unpacked) {
    unpack_values(kind, b, out);
    for c in 0..8 {
        out.wide[c][..8].fill(out.scale[2 * c]);
        out.wide[c][8..].fill(out.scale[2 * c + 1]);
    }
}

fn unpack_values(kind: Kind, b: &[u8], out: &mut Unpacked) {
    match kind {
        Kind::Q4K => {
            // d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of nibbles.
            let (d, dmin, sc, qs) = (f16_at(b, 0), f16_at(b, 2), &b[4..16], &b[16..144]);
            for j in 0..8 {
                let (s, m) = if j < 4 {
                    (sc[j] & 63, sc[j + 4] & 63)
                } else {
                    (
                        (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4),
                        (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4),
                    )
                };
                out.scale[2 * j] = s as i16;
                out.scale[2 * j + 1] = s as i16;
                out.mn[2 * j] = m as i16;
                out.mn[2 * j + 1] = m as i16;
            }
            for g in 0..4 {
                for l in 0..32 {
                    let byte = qs[32 * g + l];
                    out.q[64 * g + l] = byte & 0xF;
                    out.q[64 * g + 32 + l] = byte >> 4;
                }
            }
            out.d = d;
            out.dm = dmin;
        }
        Kind::Q6K => {
            // 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 i8 scales, d (f16).
            let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
            let d = f16_at(b, 208);
            for half in 0..2 {
                let (ql, qh) = (&ql[64 * half..], &qh[32 * half..]);
                let q = &mut out.q[128 * half..];
                for l in 0..32 {
                    q[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                    q[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                    q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
            for (i, &byte) in sc.iter().enumerate() {
                let s = byte as i8 as i16;
                out.scale[i] = s;
                out.mn[i] = 32 * s;
            }
            out.d = d;
            out.dm = d;
        }
    }
}

/// Dot products of one unpacked row with up to four token rows: `out[t] = row . x[t]`.
pub(crate) fn dot_x4(row: &[Unpacked], x: [&[Q8K]; 4], n: usize, out: &mut [f32; 4]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        // SAFETY: AVX2 is enabled at compile time for this build.
        unsafe { avx2::dot_x4(row, x, n, out) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
    {
        for t in 0..n {
            out[t] = dot_scalar(row, x[t]);
        }
    }
}

/// Whether the fast path is compiled in (otherwise the f32 panel path is the better choice).
pub(crate) const FAST: bool = cfg!(all(target_arch = "x86_64", target_feature = "avx2"));

#[allow(dead_code)]
fn dot_scalar(row: &[Unpacked], x: &[Q8K]) -> f32 {
    let mut sum = 0.0f32;
    for (w, a) in row.iter().zip(x) {
        let mut isum = 0i32;
        let mut bias = 0i32;
        for i in 0..16 {
            let dot: i32 = (0..16)
                .map(|e| w.q[16 * i + e] as i32 * a.qs[16 * i + e] as i32)
                .sum();
            isum += dot * w.scale[i] as i32;
            bias += w.mn[i] as i32 * a.bsums[i] as i32;
        }
        sum += a.d * (w.d * isum as f32 - w.dm * bias as f32);
    }
    sum
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod avx2 {
    use super::{Unpacked, Q8K};
    use std::arch::x86_64::*;

    #[inline]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_x4(row: &[Unpacked], x: [&[Q8K]; 4], n: usize, out: &mut [f32; 4]) {
        // Always four tokens (the caller repeats one when it has fewer), so every loop below
        // has a constant bound and the accumulators stay in registers.
        let (x0, x1, x2, x3) = (x[0], x[1], x[2], x[3]);
        let nb = row
            .len()
            .min(x0.len())
            .min(x1.len())
            .min(x2.len())
            .min(x3.len());
        let (mut a0, mut a1, mut a2, mut a3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let (mut m0, mut m1, mut m2, mut m3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for b in 0..nb {
            let w = &row[b];
            let (b0, b1, b2, b3) = (&x0[b], &x1[b], &x2[b], &x3[b]);
            let (mut i0, mut i1, mut i2, mut i3) = (
                _mm256_setzero_si256(),
                _mm256_setzero_si256(),
                _mm256_setzero_si256(),
                _mm256_setzero_si256(),
            );
            for c in 0..8 {
                let q = _mm256_load_si256(w.q.as_ptr().add(32 * c) as *const __m256i);
                let s = _mm256_load_si256(w.wide[c].as_ptr() as *const __m256i);
                let ld =
                    |blk: &Q8K| _mm256_load_si256(blk.qs.as_ptr().add(32 * c) as *const __m256i);
                i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld(b0)), s));
                i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld(b1)), s));
                i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld(b2)), s));
                i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld(b3)), s));
            }
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_set1_ps(w.d * b0.d), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_set1_ps(w.d * b1.d), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i2), _mm256_set1_ps(w.d * b2.d), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i3), _mm256_set1_ps(w.d * b3.d), a3);
            // Min terms: dm * d * sum(mn * bsums), summed across lanes at the end.
            let mn = _mm256_load_si256(w.mn.as_ptr() as *const __m256i);
            let mt = |blk: &Q8K| {
                let bs = _mm256_load_si256(blk.bsums.as_ptr() as *const __m256i);
                _mm256_cvtepi32_ps(_mm256_madd_epi16(mn, bs))
            };
            m0 = _mm256_fmadd_ps(mt(b0), _mm256_set1_ps(w.dm * b0.d), m0);
            m1 = _mm256_fmadd_ps(mt(b1), _mm256_set1_ps(w.dm * b1.d), m1);
            m2 = _mm256_fmadd_ps(mt(b2), _mm256_set1_ps(w.dm * b2.d), m2);
            m3 = _mm256_fmadd_ps(mt(b3), _mm256_set1_ps(w.dm * b3.d), m3);
        }
        let bias_out = [hsum(m0), hsum(m1), hsum(m2), hsum(m3)];
        let sums = [hsum(a0), hsum(a1), hsum(a2), hsum(a3)];
        for t in 0..n.min(4) {
            out[t] = sums[t] - bias_out[t];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::k_quants::{BlockQ4K, BlockQ6K};
    use candle_core::quantized::GgmlType;

    fn packed<T: GgmlType>(w: &[f32]) -> Vec<u8> {
        let mut blocks = vec![T::zeros(); w.len() / T::BLCK_SIZE];
        T::from_float(w, &mut blocks);
        let n = blocks.len() * std::mem::size_of::<T>();
        unsafe { std::slice::from_raw_parts(blocks.as_ptr() as *const u8, n) }.to_vec()
    }

    fn check<T: GgmlType>(kind: Kind) {
        let k = 512;
        let w: Vec<f32> = (0..k)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.4)
            .collect();
        let bytes = packed::<T>(&w);
        // Dequantize with candle to get the exact stored weights.
        let mut exact = vec![0.0; k];
        let blocks =
            unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, k / T::BLCK_SIZE) };
        T::to_float(blocks, &mut exact);
        let mut row = vec![Unpacked::default(); k / QK];
        for (i, u) in row.iter_mut().enumerate() {
            unpack(kind, &bytes[i * kind.block_bytes()..], u);
        }
        let xs: Vec<Vec<f32>> = (0..3)
            .map(|t| {
                (0..k)
                    .map(|i| (((i + t * 31) * 104729) % 89) as f32 / 89.0 - 0.5)
                    .collect()
            })
            .collect();
        let qx: Vec<Vec<Q8K>> = xs
            .iter()
            .map(|x| {
                let mut q = vec![Q8K::default(); k / QK];
                quantize_q8k(x, &mut q);
                q
            })
            .collect();
        let mut out = [0.0; 4];
        dot_x4(&row, [&qx[0], &qx[1], &qx[2], &qx[0]], 3, &mut out);
        for t in 0..3 {
            let want: f32 = exact.iter().zip(&xs[t]).map(|(a, b)| a * b).sum();
            let scalar = dot_scalar(&row, &qx[t]);
            assert!(
                (out[t] - scalar).abs() < 1e-3 * (1.0 + scalar.abs()),
                "{kind:?} simd {} scalar {scalar}",
                out[t]
            );
            assert!(
                (out[t] - want).abs() < 0.05 * (1.0 + want.abs()),
                "{kind:?} {} vs {want}",
                out[t]
            );
        }
    }

    #[test]
    fn unpacked_k_quant_dots_match_the_dequantized_weights() {
        check::<BlockQ4K>(Kind::Q4K);
        check::<BlockQ6K>(Kind::Q6K);
    }
}
