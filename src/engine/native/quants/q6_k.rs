//! Q6_K: super-blocks of 256 values in 16 sub-blocks of 16, each with a signed 8-bit scale
//! under the f16 super-scale `d`: `w = d * sc * (q - 32)`, `q` 6 bits. Layout (210 bytes): 128
//! bytes of low nibbles, 64 bytes of high bit pairs, 16 scales (i8), d (f16).

use super::act::Q8K;
use super::{f16_at, SuperBlock};

/// The Q6_K format.
pub(crate) struct Q6K;

impl Q6K {
    /// Quant `i` (0..256), unsigned (0..64).
    #[inline(always)]
    fn quant(b: &[u8], i: usize) -> i32 {
        let (half, r) = (i / 128, i % 128);
        let (quarter, l) = (r / 32, r % 32);
        let ql = b[64 * half + l + 32 * (quarter % 2)];
        let nib = if quarter < 2 { ql & 0xF } else { ql >> 4 };
        let hb = (b[128 + 32 * half + l] >> (2 * quarter)) & 3;
        (nib | (hb << 4)) as i32
    }
}

impl SuperBlock for Q6K {
    const BYTES: usize = 210;

    fn dequantize(b: &[u8], out: &mut [f32]) {
        let d = f16_at(b, 208);
        for (i, o) in out[..256].iter_mut().enumerate() {
            let sc = b[192 + i / 16] as i8 as f32;
            *o = d * sc * (Self::quant(b, i) - 32) as f32;
        }
    }

    fn dot(b: &[u8], a: &Q8K) -> f32 {
        let d = f16_at(b, 208);
        let (mut sumi, mut bias) = (0i32, 0i32);
        for j in 0..16 {
            let sc = b[192 + j] as i8 as i32;
            let dot: i32 = (16 * j..16 * (j + 1))
                .map(|i| Self::quant(b, i) * a.qs[i] as i32)
                .sum();
            sumi += sc * dot;
            bias += sc * a.bsums[j] as i32;
        }
        a.d * d * (sumi - 32 * bias) as f32
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2<const V: u8, const T: usize>(
        b: *const u8,
        a: &[&Q8K; T],
        acc: &mut [std::arch::x86_64::__m256; T],
    ) {
        use crate::engine::native::quants::x86::{loadu, scaled_pair, word_pair_scales, MADD};
        use std::arch::x86_64::*;
        // `d` is the last two bytes: read as the pair ending there.
        let d = crate::engine::native::quants::x86::f16_pair(b.add(206)).1;
        let sc = std::slice::from_raw_parts(b.add(192) as *const i8, 16);
        let sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(192) as *const __m128i));
        let (low, three) = (_mm256_set1_epi8(0xF), _mm256_set1_epi8(3));
        let mut sumi = [_mm256_setzero_si256(); T];
        for half in 0..2 {
            let ql0 = loadu(b.add(64 * half) as *const __m256i);
            let ql1 = loadu(b.add(64 * half + 32) as *const __m256i);
            let qh = loadu(b.add(128 + 32 * half) as *const __m256i);
            // Two high bits, moved to bits 4 and 5.
            #[inline(always)]
            unsafe fn high(v: __m256i, three: __m256i) -> __m256i {
                _mm256_slli_epi16::<4>(_mm256_and_si256(v, three))
            }
            let qs = [
                _mm256_or_si256(_mm256_and_si256(ql0, low), high(qh, three)),
                _mm256_or_si256(
                    _mm256_and_si256(ql1, low),
                    high(_mm256_srli_epi16::<2>(qh), three),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), low),
                    high(_mm256_srli_epi16::<4>(qh), three),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), low),
                    high(_mm256_srli_epi16::<6>(qh), three),
                ),
            ];
            if V != MADD {
                // Chunks i and i + 1 together: one scale multiply per 64 values.
                // This half's eight scales as 16-bit lanes, in both 128-bit lanes.
                let words = _mm256_broadcastsi128_si256(match half {
                    0 => _mm256_castsi256_si128(sc16),
                    _ => _mm256_extracti128_si256::<1>(sc16),
                });
                for i in [0, 2] {
                    let s = word_pair_scales(words, 2 * i, 2 * i + 2);
                    for t in 0..T {
                        let x = |c: usize| {
                            _mm256_load_si256(
                                a[t].qs.as_ptr().add(128 * half + 32 * c) as *const __m256i
                            )
                        };
                        let p = scaled_pair::<V>(qs[i], x(i), qs[i + 1], x(i + 1), s);
                        sumi[t] = _mm256_add_epi32(sumi[t], p);
                    }
                }
                continue;
            }
            for (i, &q) in qs.iter().enumerate() {
                let j = 8 * half + 2 * i;
                let s = _mm256_set_m128i(
                    _mm_set1_epi16(sc[j + 1] as i16),
                    _mm_set1_epi16(sc[j] as i16),
                );
                for t in 0..T {
                    // Aligned, as in Q4_K's kernel (m = 4: 1.67 -> 1.38 ms).
                    let x = _mm256_load_si256(
                        a[t].qs.as_ptr().add(128 * half + 32 * i) as *const __m256i
                    );
                    sumi[t] =
                        _mm256_add_epi32(sumi[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), s));
                }
            }
        }
        for t in 0..T {
            let bs = _mm256_load_si256(a[t].bsums.as_ptr() as *const __m256i);
            let bias = _mm256_slli_epi32::<5>(_mm256_madd_epi16(bs, sc16));
            let total = _mm256_sub_epi32(sumi[t], bias);
            acc[t] = _mm256_fmadd_ps(
                _mm256_set1_ps(d * a[t].d),
                _mm256_cvtepi32_ps(total),
                acc[t],
            );
        }
    }
}
