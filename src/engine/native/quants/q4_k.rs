//! Q4_K: super-blocks of 256 values in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit
//! minimum under the f16 super-scales `d` and `dmin`: `w = d * sc * q - dmin * m`, `q` 4 bits.
//! Layout (144 bytes): d, dmin (f16), 12 bytes of packed scales and minimums, 128 bytes of
//! nibbles (each 32 bytes hold two sub-blocks: low nibbles the first, high the second).

use super::act::Q8K;
use super::{f16_at, SuperBlock};

/// The Q4_K format.
pub(crate) struct Q4K;

/// The 6-bit scales and minimums of the 8 sub-blocks, packed into 12 bytes (shared with Q5_K).
#[inline(always)]
pub(crate) fn scales_mins(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (sc, mn) = scales_mins_packed(s);
    (sc.to_le_bytes(), mn.to_le_bytes())
}

/// [`scales_mins`] as two little-endian words of eight bytes, computed four bytes at a time
/// in registers: the SIMD kernels move them into vectors without a trip through memory (eight
/// byte stores read back as one wide load stall store forwarding, 10% of the Q4_K decode
/// kernel's samples).
#[inline(always)]
pub(crate) fn scales_mins_packed(s: &[u8]) -> (u64, u64) {
    let word = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let (w0, w1, w2) = (word(0), word(4), word(8));
    // Sub-blocks 0..4 keep six bits of bytes 0..8; 4..8 take a nibble of bytes 8..12 and
    // the two bits left over at the top of bytes 0..8.
    let sc_hi = (w2 & 0x0f0f_0f0f) | ((w0 >> 6) & 0x0303_0303) << 4;
    let mn_hi = ((w2 >> 4) & 0x0f0f_0f0f) | ((w1 >> 6) & 0x0303_0303) << 4;
    let sc = (w0 & 0x3f3f_3f3f) as u64 | (sc_hi as u64) << 32;
    let mn = (w1 & 0x3f3f_3f3f) as u64 | (mn_hi as u64) << 32;
    (sc, mn)
}

impl Q4K {
    /// Quant `i` (0..256) of the block.
    #[inline(always)]
    fn quant(b: &[u8], i: usize) -> i32 {
        let (pair, l, high) = (i / 64, i % 32, (i / 32) % 2);
        ((b[16 + 32 * pair + l] >> (4 * high)) & 0xF) as i32
    }
}

impl SuperBlock for Q4K {
    const BYTES: usize = 144;

    fn dequantize(b: &[u8], out: &mut [f32]) {
        dequantize_with(b, out, Self::quant)
    }

    fn dot(b: &[u8], a: &Q8K) -> f32 {
        dot_with(b, a, Self::quant)
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
        let low = _mm256_set1_epi8(0xF);
        dot_avx2_with::<V, T>(b, a, acc, |p| {
            let q = loadu(b.add(16 + 32 * p) as *const __m256i);
            (
                _mm256_and_si256(q, low),
                _mm256_and_si256(_mm256_srli_epi16::<4>(q), low),
            )
        })
    }
}

/// The AVX2 dot product of a Q4_K-style block at `b` with `T` Q8_K blocks, added to `acc`:
/// `quants(p)` gives the block's values `64p..64p+32` and `64p+32..64p+64`, one per byte.
/// Shared by Q4_K and Q5_K, which differ only in how their quants are stored. With VNNI (`V`)
/// a pair of sub-blocks takes [`scaled_pair`](crate::engine::native::quants::x86::scaled_pair):
/// the same integer sums with three multiplies instead of four.
///
/// # Safety
/// `b` points at a whole block; the caller has AVX2, FMA and F16C, and the VNNI set `V` names.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn dot_avx2_with<const V: u8, const T: usize>(
    b: *const u8,
    a: &[&Q8K; T],
    acc: &mut [std::arch::x86_64::__m256; T],
    quants: impl Fn(usize) -> (std::arch::x86_64::__m256i, std::arch::x86_64::__m256i),
) {
    use crate::engine::native::quants::x86::{byte_pair_scales, scaled_pair, MADD};
    use std::arch::x86_64::*;
    let head = std::slice::from_raw_parts(b, 16);
    let (d, dmin) = crate::engine::native::quants::x86::f16_pair(b);
    let (sc, mn) = scales_mins_packed(&head[4..16]);
    // Each sub-block's minimum twice (the bsums are per 16 values), as 16-bit lanes.
    let mn = _mm_cvtsi64_si128(mn as i64);
    let m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn, mn));
    let sc_bytes = _mm256_set1_epi64x(sc as i64);
    let sc = sc.to_le_bytes();
    let mut sumi = [_mm256_setzero_si256(); T];
    for p in 0..4 {
        let (lo, hi) = quants(p);
        if V != MADD {
            let s = byte_pair_scales(sc_bytes, 2 * p, 2 * p + 1);
            for t in 0..T {
                let aq = a[t].qs.as_ptr().add(64 * p);
                let x_lo = _mm256_load_si256(aq as *const __m256i);
                let x_hi = _mm256_load_si256(aq.add(32) as *const __m256i);
                sumi[t] = _mm256_add_epi32(sumi[t], scaled_pair::<V>(lo, x_lo, hi, x_hi, s));
            }
            continue;
        }
        let (s_lo, s_hi) = (
            _mm256_set1_epi16(sc[2 * p] as i16),
            _mm256_set1_epi16(sc[2 * p + 1] as i16),
        );
        for t in 0..T {
            // Q8K is 32-byte aligned, and so is every 32-byte run of its quants and sums:
            // aligned loads fold into the multiplies, where `loadu`'s asm takes a register
            // each and made the 4-token tile spill (Q4_K 8960 x 1536, m = 4: 2.31 -> 1.43 ms,
            // one thread, Zen 3).
            let aq = a[t].qs.as_ptr().add(64 * p);
            let x_lo = _mm256_load_si256(aq as *const __m256i);
            let x_hi = _mm256_load_si256(aq.add(32) as *const __m256i);
            let p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x_lo), s_lo);
            let p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x_hi), s_hi);
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(p_lo, p_hi));
        }
    }
    for t in 0..T {
        let bs = _mm256_load_si256(a[t].bsums.as_ptr() as *const __m256i);
        let summ = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, m16));
        acc[t] = _mm256_fmadd_ps(
            _mm256_set1_ps(d * a[t].d),
            _mm256_cvtepi32_ps(sumi[t]),
            acc[t],
        );
        acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * a[t].d), summ, acc[t]);
    }
}

/// The scalar dequantization of a Q4_K-style block (`d`, `dmin`, 6-bit scales and mins at
/// bytes 0..16) whose quant `i` is `quant(b, i)`: shared by Q4_K and Q5_K.
pub(crate) fn dequantize_with(b: &[u8], out: &mut [f32], quant: fn(&[u8], usize) -> i32) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, mn) = scales_mins(&b[4..16]);
    for (i, o) in out[..256].iter_mut().enumerate() {
        let j = i / 32;
        *o = d * sc[j] as f32 * quant(b, i) as f32 - dmin * mn[j] as f32;
    }
}

/// The scalar reference dot product of such a block with a Q8_K block.
pub(crate) fn dot_with(b: &[u8], a: &Q8K, quant: fn(&[u8], usize) -> i32) -> f32 {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, mn) = scales_mins(&b[4..16]);
    let (mut sumi, mut summ) = (0i32, 0i32);
    for j in 0..8 {
        let dot: i32 = (32 * j..32 * (j + 1))
            .map(|i| quant(b, i) * a.qs[i] as i32)
            .sum();
        sumi += sc[j] as i32 * dot;
        summ += mn[j] as i32 * (a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32);
    }
    a.d * (d * sumi as f32 - dmin * summ as f32)
}
