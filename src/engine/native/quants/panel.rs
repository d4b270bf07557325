//! Prefill products for K-quant weights (Q4_K, Q5_K, Q6_K) in integer arithmetic: each weight
//! row is unpacked once per panel into bytes and 16-wide scales, then multiplied by Q8_K
//! activations with AVX2 byte dot products, four tokens per pass over the row; with VNNI, one
//! `vpdpbusd` per 32 values and one scale multiply per 64 instead of two multiplies per 32.
//! Unpacking once for a whole prompt chunk is what makes this faster than the decode kernels
//! there.

use super::act::{Q8K, QK_K as QK};
use super::{f16_at, Isa};

/// One super-block of a weight row, unpacked: `w = d * scale[i/16] * q[i] - dm * mn[i/16]`.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct Unpacked {
    q: [u8; QK],
    /// `scale` laid out per 32-value chunk as the kernel uses it: eight copies of the chunk's
    /// first-half scale, then eight of its second-half scale.
    wide: [[i16; 16]; 8],
    /// `scale` laid out per pair of 32-value chunks `(2k, 2k + 1)` as the VNNI kernel packs
    /// their 4-value sums: four copies each of chunk 2k's first-half scale, then chunk
    /// 2k + 1's, then the two second-half scales likewise.
    pairs: [[i16; 16]; 4],
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
            pairs: [[0; 16]; 4],
            scale: [0; 16],
            mn: [0; 16],
            d: 0.0,
            dm: 0.0,
        }
    }
}

/// Which K-quant a row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Q4K,
    Q5K,
    Q6K,
}

impl Kind {
    /// Bytes of one packed super-block.
    pub(crate) fn block_bytes(self) -> usize {
        match self {
            Kind::Q4K => 144,
            Kind::Q5K => 176,
            Kind::Q6K => 210,
        }
    }
}

/// Unpack one packed super-block (GGUF layout) of `kind`.
pub(crate) fn unpack(kind: Kind, b: &[u8], out: &mut Unpacked) {
    unpack_values(kind, b, out);
    for c in 0..8 {
        out.wide[c][..8].fill(out.scale[2 * c]);
        out.wide[c][8..].fill(out.scale[2 * c + 1]);
    }
    for k in 0..4 {
        let (a, b) = (2 * k, 2 * k + 1);
        let p = &mut out.pairs[k];
        p[0..4].fill(out.scale[2 * a]);
        p[4..8].fill(out.scale[2 * b]);
        p[8..12].fill(out.scale[2 * a + 1]);
        p[12..16].fill(out.scale[2 * b + 1]);
    }
}

fn unpack_values(kind: Kind, b: &[u8], out: &mut Unpacked) {
    match kind {
        Kind::Q4K | Kind::Q5K => {
            // d, dmin (f16), 12 bytes of 6-bit scales and mins, (Q5_K: 32 bytes of fifth
            // bits,) 128 bytes of nibbles.
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let (sc, mn) = super::q4_k::scales_mins(&b[4..16]);
            for j in 0..8 {
                out.scale[2 * j] = sc[j] as i16;
                out.scale[2 * j + 1] = sc[j] as i16;
                out.mn[2 * j] = mn[j] as i16;
                out.mn[2 * j + 1] = mn[j] as i16;
            }
            let (qh, qs) = match kind {
                Kind::Q5K => (Some(&b[16..48]), &b[48..176]),
                _ => (None, &b[16..144]),
            };
            for g in 0..4 {
                for l in 0..32 {
                    let byte = qs[32 * g + l];
                    let (h0, h1) = match qh {
                        Some(qh) => (
                            ((qh[l] >> (2 * g)) & 1) << 4,
                            ((qh[l] >> (2 * g + 1)) & 1) << 4,
                        ),
                        None => (0, 0),
                    };
                    out.q[64 * g + l] = (byte & 0xF) | h0;
                    out.q[64 * g + 32 + l] = (byte >> 4) | h1;
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
    #[cfg(target_arch = "x86_64")]
    match Isa::current() {
        // SAFETY: each arm runs only where the CPU has the sets its kernel is compiled for
        // (every x86 CPU with VNNI also has AVX2 and FMA).
        Isa::Vnni if Isa::vnni512() => {
            return unsafe { avx2::dot_x4_vnni512(row, x, n, out) };
        }
        Isa::Vnni => return unsafe { avx2::dot_x4_avxvnni(row, x, n, out) },
        Isa::Avx2 => return unsafe { avx2::dot_x4(row, x, n, out) },
        _ => {}
    }
    for t in 0..n {
        out[t] = dot_scalar(row, x[t]);
    }
}

/// Whether the SIMD path runs here (otherwise the f32 panel path is the better choice).
pub(crate) fn fast() -> bool {
    matches!(Isa::current(), Isa::Avx2 | Isa::Vnni)
}

/// Which K-quant `dtype` is, if it has this path.
pub(crate) fn kind_of(dtype: candle_core::quantized::GgmlDType) -> Option<Kind> {
    use candle_core::quantized::GgmlDType as D;
    match dtype {
        D::Q4K => Some(Kind::Q4K),
        D::Q5K => Some(Kind::Q5K),
        D::Q6K => Some(Kind::Q6K),
        _ => None,
    }
}

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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::x86::hsum;
    use super::{Unpacked, Q8K};
    use std::arch::x86_64::*;

    use super::super::x86::{scaled_pair, AVX_VNNI, MADD, VNNI512};

    /// [`dot_x4_with`] with AVX2 alone.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_x4(row: &[Unpacked], x: [&[Q8K]; 4], n: usize, out: &mut [f32; 4]) {
        dot_x4_with::<MADD>(row, x, n, out)
    }

    /// [`dot_x4_with`] with AVX512-VNNI's 256-bit `vpdpbusd`.
    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot_x4_vnni512(
        row: &[Unpacked],
        x: [&[Q8K]; 4],
        n: usize,
        out: &mut [f32; 4],
    ) {
        dot_x4_with::<VNNI512>(row, x, n, out)
    }

    /// [`dot_x4_with`] with AVX-VNNI's `vpdpbusd` (no AVX-512 needed).
    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub(super) unsafe fn dot_x4_avxvnni(
        row: &[Unpacked],
        x: [&[Q8K]; 4],
        n: usize,
        out: &mut [f32; 4],
    ) {
        dot_x4_with::<AVX_VNNI>(row, x, n, out)
    }

    /// The scaled integer sum of chunks `2k` and `2k + 1` of a super-block against one token:
    /// the two chunks' 4-value sums (at most 4 * 63 * 128, so they fit 16 bits exactly) packed
    /// into one register and multiplied by their scales once.
    #[inline(always)]
    unsafe fn pair<const V: u8>(
        w: &Unpacked,
        k: usize,
        qa: __m256i,
        qb: __m256i,
        blk: &Q8K,
    ) -> __m256i {
        let ld = |c: usize| _mm256_load_si256(blk.qs.as_ptr().add(32 * c) as *const __m256i);
        let s = _mm256_load_si256(w.pairs[k].as_ptr() as *const __m256i);
        scaled_pair::<V>(qa, ld(2 * k), qb, ld(2 * k + 1), s)
    }

    /// AVX2's two multiplies per 32 values: chunk `c` of `w` against four tokens' blocks.
    #[inline(always)]
    unsafe fn madd_chunk(w: &Unpacked, c: usize, blk: [&Q8K; 4], acc: [&mut __m256i; 4]) {
        let q = _mm256_load_si256(w.q.as_ptr().add(32 * c) as *const __m256i);
        let s = _mm256_load_si256(w.wide[c].as_ptr() as *const __m256i);
        for (b, i) in blk.into_iter().zip(acc) {
            let a = _mm256_load_si256(b.qs.as_ptr().add(32 * c) as *const __m256i);
            *i = _mm256_add_epi32(*i, _mm256_madd_epi16(_mm256_maddubs_epi16(q, a), s));
        }
    }

    /// One unpacked row times four token rows; the same integer sums whichever `V`.
    #[inline(always)]
    unsafe fn dot_x4_with<const V: u8>(
        row: &[Unpacked],
        x: [&[Q8K]; 4],
        n: usize,
        out: &mut [f32; 4],
    ) {
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
            if V == MADD {
                for c in 0..8 {
                    madd_chunk(w, c, [b0, b1, b2, b3], [&mut i0, &mut i1, &mut i2, &mut i3]);
                }
            } else {
                for k in 0..4 {
                    let q =
                        |c: usize| _mm256_load_si256(w.q.as_ptr().add(32 * c) as *const __m256i);
                    let (qa, qb) = (q(2 * k), q(2 * k + 1));
                    i0 = _mm256_add_epi32(i0, pair::<V>(w, k, qa, qb, b0));
                    i1 = _mm256_add_epi32(i1, pair::<V>(w, k, qa, qb, b1));
                    i2 = _mm256_add_epi32(i2, pair::<V>(w, k, qa, qb, b2));
                    i3 = _mm256_add_epi32(i3, pair::<V>(w, k, qa, qb, b3));
                }
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
    use super::super::act::quantize_q8k;
    use super::*;
    use candle_core::quantized::k_quants::{BlockQ4K, BlockQ5K, BlockQ6K};
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
        #[cfg(target_arch = "x86_64")]
        if Isa::Avx2.runs_here() {
            let mut simd = [0.0; 4];
            // SAFETY: AVX2 and FMA are present (checked above).
            unsafe { avx2::dot_x4(&row, [&qx[0], &qx[1], &qx[2], &qx[0]], 3, &mut simd) };
            for t in 0..3 {
                assert!(
                    (simd[t] - out[t]).abs() < 1e-3 * (1.0 + out[t].abs()),
                    "{kind:?}"
                );
            }
        }
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
        check::<BlockQ5K>(Kind::Q5K);
        check::<BlockQ6K>(Kind::Q6K);
    }
}
