//! What the 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) share: each block stores an
//! f16 scale `d`, for some an f16 minimum `m`, and 32 quants `q` of 4, 5 or 8 bits, and its
//! values are `w = d * q + m` (unsigned `q`; the formats without a minimum subtract a fixed
//! offset instead, `m = -offset * d`) or `w = d * q` (signed 8-bit `q`). A format is its
//! constants; the code here reads every one of them.
//!
//! The dot product of a block with a Q8 activation block (`x = d_a * a`, `s_a = d_a * sum(a)`)
//! is `d * d_a * sum(q * a) + m * s_a`: an integer dot product of the quants, then two scalars.

use super::f16_at;

/// A 32-value block format, described by its layout.
pub(crate) trait Block32: Sync + 'static {
    /// Bits per quant: 4, 5 or 8 (8 is signed).
    const BITS: u32;
    /// Whether the block stores a minimum after `d`.
    const HAS_MIN: bool;
    /// For formats without a minimum, the quants are stored plus this offset.
    const OFFSET: f32;
    /// Bytes of one block.
    const BYTES: usize = 2
        + if Self::HAS_MIN { 2 } else { 0 }
        + if Self::BITS == 5 { 4 } else { 0 }
        + if Self::BITS == 8 { 32 } else { 16 };
    /// Where the high bits (5-bit formats) start.
    const QH_AT: usize = if Self::HAS_MIN { 4 } else { 2 };
    /// Where the quants start.
    const QS_AT: usize = Self::QH_AT + if Self::BITS == 5 { 4 } else { 0 };
}

/// `(d, m)` of a block, with `m = -offset * d` for the formats without a minimum.
#[inline(always)]
pub(crate) fn scales<F: Block32>(b: &[u8]) -> (f32, f32) {
    let d = f16_at(b, 0);
    match F::HAS_MIN {
        true => (d, f16_at(b, 2)),
        false => (d, -F::OFFSET * d),
    }
}

/// The 32 quants of a block as integers: unsigned for 4 and 5 bits, signed for 8.
#[inline(always)]
pub(crate) fn quants<F: Block32>(b: &[u8], q: &mut [i32; 32]) {
    let qs = &b[F::QS_AT..];
    if F::BITS == 8 {
        for (q, &v) in q.iter_mut().zip(&qs[..32]) {
            *q = v as i8 as i32;
        }
        return;
    }
    let qh = match F::BITS {
        5 => u32::from_le_bytes([
            b[F::QH_AT],
            b[F::QH_AT + 1],
            b[F::QH_AT + 2],
            b[F::QH_AT + 3],
        ]),
        _ => 0,
    };
    for j in 0..16 {
        let hi = |bit: usize| ((qh >> bit) & 1) as i32 * 16;
        q[j] = (qs[j] & 0xF) as i32 + hi(j);
        q[j + 16] = (qs[j] >> 4) as i32 + hi(j + 16);
    }
}

/// Dequantize whole blocks `row` into `out`.
pub(crate) fn dequantize<F: Block32>(row: &[u8], out: &mut [f32]) {
    let mut q = [0i32; 32];
    for (b, out) in row.chunks_exact(F::BYTES).zip(out.chunks_exact_mut(32)) {
        let (d, m) = scales::<F>(b);
        quants::<F>(b, &mut q);
        for (o, &q) in out.iter_mut().zip(&q) {
            *o = d * q as f32 + m;
        }
    }
}

/// The scalar reference: the dot product of a row with a Q8 activation row (`qs`, and per
/// block `(d_a, s_a)` in `ds`).
pub(crate) fn dot<F: Block32>(row: &[u8], qs: &[i8], ds: &[f32]) -> f32 {
    let mut q = [0i32; 32];
    let mut sum = 0.0f32;
    for (i, b) in row.chunks_exact(F::BYTES).enumerate() {
        let (d, m) = scales::<F>(b);
        quants::<F>(b, &mut q);
        let isum: i32 = q
            .iter()
            .zip(&qs[32 * i..32 * (i + 1)])
            .map(|(&q, &a)| q * a as i32)
            .sum();
        sum += d * ds[2 * i] * isum as f32 + m * ds[2 * i + 1];
    }
    sum
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    //! Loading a block into AVX2 registers.
    use super::Block32;
    use crate::engine::native::quants::x86::loadu;
    use std::arch::x86_64::*;

    /// The 32 quants as bytes in value order: unsigned (4 and 5 bits) or signed (8 bits).
    ///
    /// # Safety
    /// `b` points at a whole block; the caller has AVX2.
    #[inline(always)]
    pub(crate) unsafe fn quants<F: Block32>(b: *const u8) -> __m256i {
        let qs = b.add(F::QS_AT);
        if F::BITS == 8 {
            return loadu(qs as *const __m256i);
        }
        let x = _mm_loadu_si128(qs as *const __m128i);
        let low = _mm_set1_epi8(0xF);
        let v = _mm256_set_m128i(
            _mm_and_si128(_mm_srli_epi16::<4>(x), low),
            _mm_and_si128(x, low),
        );
        if F::BITS != 5 {
            return v;
        }
        // Bit j of qh is bit 4 of value j: spread the 32 bits over 32 bytes.
        let qh = std::ptr::read_unaligned(b.add(F::QH_AT) as *const i32);
        let spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(qh),
            _mm256_set_epi64x(
                0x0303_0303_0303_0303,
                0x0202_0202_0202_0202,
                0x0101_0101_0101_0101,
                0,
            ),
        );
        let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(0x10)))
    }

    /// Dequantize whole blocks `row` into `out`, as [`super::dequantize`] does and with the
    /// same rounding (a product, then a sum: no fused multiply-add).
    ///
    /// # Safety
    /// The caller has AVX2 and F16C.
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn dequantize<F: Block32>(row: &[u8], out: &mut [f32]) {
        let blocks = (row.len() / F::BYTES).min(out.len() / 32);
        for i in 0..blocks {
            let b = row.as_ptr().add(i * F::BYTES);
            let q = quants::<F>(b);
            let sc = scales::<F>(b);
            let d = _mm256_broadcastss_ps(sc);
            let m = _mm256_set1_ps(match F::HAS_MIN {
                true => _mm_cvtss_f32(_mm_movehdup_ps(sc)),
                false => -F::OFFSET * _mm_cvtss_f32(sc),
            });
            let (lo, hi) = (_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
            let eighths = [lo, _mm_srli_si128::<8>(lo), hi, _mm_srli_si128::<8>(hi)];
            for (j, &e) in eighths.iter().enumerate() {
                // 4- and 5-bit quants are below 32, so sign-extending them is exact too.
                let v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e));
                let w = _mm256_add_ps(_mm256_mul_ps(d, v), m);
                _mm256_storeu_ps(out.as_mut_ptr().add(32 * i + 8 * j), w);
            }
        }
    }

    /// `[d, m, ..]` for formats with a minimum, `[d, d, d, d]` for the others.
    ///
    /// # Safety
    /// `b` points at a whole block; the caller has F16C.
    #[inline(always)]
    pub(crate) unsafe fn scales<F: Block32>(b: *const u8) -> __m128 {
        match F::HAS_MIN {
            true => _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(b as *const i32))),
            false => _mm_cvtph_ps(_mm_set1_epi16(std::ptr::read_unaligned(b as *const i16))),
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon {
    //! Loading a block into NEON registers.
    use super::Block32;
    use std::arch::aarch64::*;

    /// The 32 quants as two vectors of 16 signed bytes in value order (4- and 5-bit quants are
    /// below 32, so they are valid as signed bytes too).
    ///
    /// # Safety
    /// `b` points at a whole block.
    #[inline(always)]
    pub(crate) unsafe fn quants<F: Block32>(b: *const u8) -> (int8x16_t, int8x16_t) {
        let qs = b.add(F::QS_AT);
        if F::BITS == 8 {
            return (vld1q_s8(qs as *const i8), vld1q_s8(qs.add(16) as *const i8));
        }
        let x = vld1q_u8(qs);
        let mut lo = vandq_u8(x, vdupq_n_u8(0xF));
        let mut hi = vshrq_n_u8::<4>(x);
        if F::BITS == 5 {
            let qh = std::ptr::read_unaligned(b.add(F::QH_AT) as *const u32);
            let mut bits = [0u8; 32];
            for (j, v) in bits.iter_mut().enumerate() {
                *v = (((qh >> j) & 1) as u8) << 4;
            }
            lo = vorrq_u8(lo, vld1q_u8(bits.as_ptr()));
            hi = vorrq_u8(hi, vld1q_u8(bits.as_ptr().add(16)));
        }
        (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
    }
}
