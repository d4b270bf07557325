//! Q5_K: Q4_K with a fifth bit per quant: `w = d * sc * q - dmin * m`, `q` 5 bits. Layout (176
//! bytes): d, dmin (f16), 12 bytes of scales and minimums packed as Q4_K's, 32 bytes of high
//! bits (bit `j` of byte `l` belongs to value `32 j + l`), 128 bytes of nibbles as Q4_K's.

use super::act::Q8K;
use super::SuperBlock;

/// The Q5_K format.
pub(crate) struct Q5K;

impl Q5K {
    #[inline(always)]
    fn quant(b: &[u8], i: usize) -> i32 {
        let (pair, l, high) = (i / 64, i % 32, (i / 32) % 2);
        let nib = (b[48 + 32 * pair + l] >> (4 * high)) & 0xF;
        let hb = (b[16 + l] >> (i / 32)) & 1;
        (nib | (hb << 4)) as i32
    }
}

impl SuperBlock for Q5K {
    const BYTES: usize = 176;

    fn dequantize(b: &[u8], out: &mut [f32]) {
        super::q4_k::dequantize_with(b, out, Self::quant)
    }

    fn dot(b: &[u8], a: &Q8K) -> f32 {
        super::q4_k::dot_with(b, a, Self::quant)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn dot_avx2<const V: u8, const T: usize>(
        b: *const u8,
        a: &[&Q8K; T],
        acc: &mut [std::arch::x86_64::__m256; T],
    ) {
        use crate::engine::native::quants::x86::loadu;
        use std::arch::x86_64::*;
        let (low, one) = (_mm256_set1_epi8(0xF), _mm256_set1_epi8(1));
        let qh = loadu(b.add(16) as *const __m256i);
        super::q4_k::dot_avx2_with::<V, T>(b, a, acc, |p| {
            let q = loadu(b.add(48 + 32 * p) as *const __m256i);
            // Bits 2p and 2p+1 of each high-bit byte, as bit 4.
            let h = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * p as i32));
            let h_lo = _mm256_slli_epi16::<4>(_mm256_and_si256(h, one));
            let h_hi = _mm256_slli_epi16::<4>(_mm256_and_si256(_mm256_srli_epi16::<1>(h), one));
            (
                _mm256_or_si256(_mm256_and_si256(q, low), h_lo),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16::<4>(q), low), h_hi),
            )
        })
    }
}
