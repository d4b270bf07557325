//! The x86-64 kernels: AVX2 byte dot products (`vpmaddubsw` then `vpmaddwd`), or one VNNI
//! `vpdpbusd` where the CPU has it, over tiles of weight rows by activation rows, so each
//! loaded weight block serves several tokens and each activation block several rows.

use std::arch::x86_64::*;
use std::ops::Range;

use super::act::{Act, QK_K};
use super::block32::{self, Block32};
use super::SuperBlock;
use crate::engine::native::pool::SharedMut;

/// Whether the kernels prefetch the next tile's weights.
const PREFETCH: bool = true;
/// How far ahead, at least, in bytes.
const PREFETCH_BYTES: usize = 3072;

/// How the byte dot products are computed.
pub(crate) const MADD: u8 = 0;
pub(crate) const VNNI512: u8 = 1;
pub(crate) const AVX_VNNI: u8 = 2;

/// The scaled sum of two 32-byte chunks of a K-quant block against their activations, with
/// VNNI (`V` is [`VNNI512`] or [`AVX_VNNI`]): each chunk's eight 4-value sums by one
/// `vpdpbusd` (at most 4 * 63 * 128, so they fit 16 bits exactly), packed into one register
/// and multiplied by the scales `s` once: one multiply per 32 values and one per 64, where
/// AVX2 takes two per 32. `s` holds, as 16-bit lanes, four copies each of the first-half
/// scales of chunk `a` then `b`, then of their second-half scales.
#[inline(always)]
pub(crate) unsafe fn scaled_pair<const V: u8>(
    qa: __m256i,
    xa: __m256i,
    qb: __m256i,
    xb: __m256i,
    s: __m256i,
) -> __m256i {
    let dot = |q, x| match V {
        VNNI512 => _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, x),
        _ => _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), q, x),
    };
    _mm256_madd_epi16(_mm256_packs_epi32(dot(qa, xa), dot(qb, xb)), s)
}

/// [`scaled_pair`]'s scales for two chunks with one scale each, bytes `a` and `b` of the
/// unsigned byte scales in every 64-bit lane of `bytes`: one shuffle, where building them
/// lane by lane made the Q4_K decode kernel 1.5x slower than AVX2's.
#[inline(always)]
pub(crate) unsafe fn byte_pair_scales(bytes: __m256i, a: usize, b: usize) -> __m256i {
    let (a, b, z) = (a as i8, b as i8, -128i8);
    _mm256_shuffle_epi8(
        bytes,
        _mm256_setr_epi8(
            a, z, a, z, a, z, a, z, b, z, b, z, b, z, b, z, a, z, a, z, a, z, a, z, b, z, b, z, b,
            z, b, z,
        ),
    )
}

/// [`scaled_pair`]'s scales for two chunks with a scale per half, from eight 16-bit scales in
/// both 128-bit lanes of `words`: chunk `a`'s halves have scales `a` and `a + 1`, chunk `b`'s
/// `b` and `b + 1` (`a + 1` and `b + 1` below 8). One shuffle.
#[inline(always)]
pub(crate) unsafe fn word_pair_scales(words: __m256i, a: usize, b: usize) -> __m256i {
    let lo = |w: usize| (2 * w) as i8;
    let hi = |w: usize| (2 * w + 1) as i8;
    let (a0, a1, b0, b1) = (a, a + 1, b, b + 1);
    _mm256_shuffle_epi8(
        words,
        _mm256_setr_epi8(
            lo(a0),
            hi(a0),
            lo(a0),
            hi(a0),
            lo(a0),
            hi(a0),
            lo(a0),
            hi(a0),
            lo(b0),
            hi(b0),
            lo(b0),
            hi(b0),
            lo(b0),
            hi(b0),
            lo(b0),
            hi(b0),
            lo(a1),
            hi(a1),
            lo(a1),
            hi(a1),
            lo(a1),
            hi(a1),
            lo(a1),
            hi(a1),
            lo(b1),
            hi(b1),
            lo(b1),
            hi(b1),
            lo(b1),
            hi(b1),
            lo(b1),
            hi(b1),
        ),
    )
}

/// An unaligned 256-bit load as one `vmovdqu`, whatever the build's tuning: for generic
/// x86-64 targets (a portable build) LLVM splits `_mm256_loadu_si256` into two 128-bit loads
/// and an insert, which cost the decode kernels 40% more time there (perf, SmolLM2, Zen 3).
///
/// # Safety
/// `p` points at 32 readable bytes; the caller has AVX.
#[inline]
#[target_feature(enable = "avx")]
pub(crate) unsafe fn loadu(p: *const __m256i) -> __m256i {
    let v: __m256i;
    // SAFETY: the caller vouches for the 32 bytes; the load touches nothing else.
    std::arch::asm!(
        "vmovdqu {v}, ymmword ptr [{p}]",
        p = in(reg) p,
        v = out(ymm_reg) v,
        options(pure, readonly, nostack, preserves_flags)
    );
    v
}

/// The two f16 at `p` and `p + 2` with F16C, in registers: the portable conversion's branch
/// between normal and subnormal scales mispredicts on K-quant blocks, whose scales are often
/// subnormal (Qwen2.5 1.5B decode 12.5 -> 13.9 tok/s with this, 1 thread, Zen 3).
///
/// # Safety
/// `p` points at 4 readable bytes; the caller has F16C.
#[inline(always)]
pub(crate) unsafe fn f16_pair(p: *const u8) -> (f32, f32) {
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(std::ptr::read_unaligned(p as *const i32)));
    (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
}

/// Sum of the eight lanes.
#[inline(always)]
pub(crate) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// Eight 32-bit sums of four products each of the bytes of `w` (unsigned, or signed when
/// `signed`) and `a` (signed).
#[inline(always)]
unsafe fn dot_bytes<const V: u8>(signed: bool, w: __m256i, a: __m256i) -> __m256i {
    // Signed weights: multiply |w| by a with w's sign, so the first operand is unsigned.
    let (w, a) = match signed {
        true => (_mm256_abs_epi8(w), _mm256_sign_epi8(a, w)),
        false => (w, a),
    };
    match V {
        VNNI512 => _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a),
        AVX_VNNI => _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), w, a),
        _ => _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1)),
    }
}

/// `R` weight rows (starting at `w`, `rb` bytes apart) times activation rows `t0..t0 + T`.
#[inline(always)]
unsafe fn tile32<F: Block32, const V: u8, const R: usize, const T: usize>(
    w: *const u8,
    rb: usize,
    act: &Act<'_>,
    t0: usize,
) -> [[f32; T]; R] {
    let kb = act.k / 32;
    let with_min = F::HAS_MIN || F::OFFSET != 0.0;
    let qs: [*const i8; T] = std::array::from_fn(|t| act.q8.as_ptr().add((t0 + t) * act.k));
    let ds: [*const f32; T] = std::array::from_fn(|t| act.ds.as_ptr().add((t0 + t) * 2 * kb));
    let mut acc = [[_mm256_setzero_ps(); T]; R];
    let mut macc = [[_mm_setzero_ps(); T]; R];
    for b in 0..kb {
        let mut wq = [_mm256_setzero_si256(); R];
        let mut sc = [_mm_setzero_ps(); R];
        for r in 0..R {
            let blk = w.add(r * rb + b * F::BYTES);
            if PREFETCH {
                // Further down the stream of rows: decode reads each weight once, straight
                // from memory, and the hardware prefetcher alone keeps too few lines in
                // flight for one core to reach its bandwidth (3.0 GiB/s without, 6.9 with,
                // Q8_0 262144 x 640 in 4-row tiles, Zen 3).
                _mm_prefetch::<_MM_HINT_T0>(blk.add(PREFETCH_BYTES.max(R * rb)) as *const i8);
            }
            wq[r] = block32::x86::quants::<F>(blk);
            sc[r] = block32::x86::scales::<F>(blk);
        }
        for t in 0..T {
            let a = loadu(qs[t].add(32 * b) as *const __m256i);
            // (d_a, s_a) of this block, one 8-byte load.
            let pair = std::ptr::read_unaligned(ds[t].add(2 * b) as *const u64);
            let ad = _mm_castsi128_ps(_mm_cvtsi64_si128(pair as i64));
            for r in 0..R {
                let isum = dot_bytes::<V>(F::BITS == 8, wq[r], a);
                // [d * d_a, m * s_a] (or d * s_a for the formats with an offset).
                let prod = _mm_mul_ps(sc[r], ad);
                acc[r][t] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(isum),
                    _mm256_broadcastss_ps(prod),
                    acc[r][t],
                );
                if with_min {
                    macc[r][t] = _mm_add_ps(macc[r][t], prod);
                }
            }
        }
    }
    let mut out = [[0.0f32; T]; R];
    for r in 0..R {
        for t in 0..T {
            let m = _mm_cvtss_f32(_mm_movehdup_ps(macc[r][t]));
            let m = match F::HAS_MIN {
                true => m,
                false => -F::OFFSET * m,
            };
            out[r][t] = hsum(acc[r][t]) + if with_min { m } else { 0.0 };
        }
    }
    out
}

/// Write a tile's results: `out[t * stride + r]`.
#[inline(always)]
unsafe fn put<const R: usize, const T: usize>(
    tile: [[f32; T]; R],
    out: SharedMut<f32>,
    stride: usize,
    r0: usize,
    t0: usize,
) {
    for (r, row) in tile.iter().enumerate() {
        for (t, &v) in row.iter().enumerate() {
            *out.0.add((t0 + t) * stride + r0 + r) = v;
        }
    }
}

#[inline(always)]
unsafe fn gemv32<F: Block32, const V: u8>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let rb = act.k / 32 * F::BYTES;
    debug_assert!(rows.end * rb <= w.len());
    let base = w.as_ptr();
    let mut r = rows.start;
    // A single token takes tiles of four rows for the 4-bit formats, whose blocks are
    // unpacked by more instructions per byte, and one row at a time for the others: a tile
    // walks several short streams at once (each row is under a kilobyte), which the hardware
    // prefetcher does not follow, where rows in order are one stream. Zen 3, 262144 x 640,
    // m = 1, four rows / one: Q8_0 6.8 / 11.7 GiB/s, Q5_0 5.9 / 6.5, Q4_1 9.3 / 7.2.
    if act.m == 1 && F::BITS == 4 {
        while r + 4 <= rows.end {
            let tile = tile32::<F, V, 4, 1>(base.add(r * rb), rb, act, 0);
            put(tile, out, stride, r, 0);
            r += 4;
        }
    }
    while r < rows.end {
        let row = base.add(r * rb);
        let mut t = 0;
        while t + 4 <= act.m {
            put(tile32::<F, V, 1, 4>(row, rb, act, t), out, stride, r, t);
            t += 4;
        }
        match act.m - t {
            3 => put(tile32::<F, V, 1, 3>(row, rb, act, t), out, stride, r, t),
            2 => put(tile32::<F, V, 1, 2>(row, rb, act, t), out, stride, r, t),
            1 => put(tile32::<F, V, 1, 1>(row, rb, act, t), out, stride, r, t),
            _ => {}
        }
        r += 1;
    }
}

/// A public entry point compiled for one instruction set: the matrix product `$inner` for
/// formats of `$format` with `$dot`'s byte dot products, under `$features`.
macro_rules! gemv_entry {
    ($(#[$doc:meta])* $name:ident, $features:literal, $dot:ident, $format:ident, $inner:ident) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        pub(crate) unsafe fn $name<F: $format>(
            w: &[u8],
            rows: Range<usize>,
            act: &Act<'_>,
            out: SharedMut<f32>,
            stride: usize,
        ) {
            $inner::<F, $dot>(w, rows, act, out, stride)
        }
    };
}

gemv_entry!(
    /// Rows `rows` of a 32-value block matrix times every activation row, with AVX2.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; `w` holds the rows and `act` rows of the matrix's
    /// width; `out` has room for `act.m` rows of `stride`, and no other thread writes columns
    /// `rows`.
    gemv32_avx2, "avx2,fma,f16c", MADD, Block32, gemv32
);
gemv_entry!(
    /// [`gemv32_avx2`] with AVX512-VNNI's 256-bit byte dot products.
    ///
    /// # Safety
    /// As for [`gemv32_avx2`], and the CPU has AVX512F, AVX512BW, AVX512VL and AVX512-VNNI.
    gemv32_vnni512, "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni", VNNI512, Block32, gemv32
);
gemv_entry!(
    /// [`gemv32_avx2`] with AVX-VNNI's byte dot products (no AVX-512 needed).
    ///
    /// # Safety
    /// As for [`gemv32_avx2`], and the CPU has AVX-VNNI.
    gemv32_avxvnni, "avx2,fma,f16c,avxvnni", AVX_VNNI, Block32, gemv32
);

/// One K-quant row times activation rows `t0..t0 + T`.
#[inline(always)]
unsafe fn tile_k<F: SuperBlock, const V: u8, const T: usize>(
    row: *const u8,
    act: &Act<'_>,
    t0: usize,
) -> [f32; T] {
    let kb = act.k / QK_K;
    let mut acc = [_mm256_setzero_ps(); T];
    for b in 0..kb {
        if PREFETCH {
            // As in `tile32`: every line of the block that far ahead.
            let ahead = row.add(b * F::BYTES + PREFETCH_BYTES);
            for line in (0..F::BYTES).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(ahead.add(line) as *const i8);
            }
        }
        let a = std::array::from_fn(|t| &act.q8k[(t0 + t) * kb + b]);
        F::dot_avx2::<V, T>(row.add(b * F::BYTES), &a, &mut acc);
    }
    std::array::from_fn(|t| hsum(acc[t]))
}

/// Rows `rows` of a K-quant matrix times every activation row, with `V`'s byte products.
#[inline(always)]
unsafe fn gemv_k<F: SuperBlock, const V: u8>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let rb = act.k / QK_K * F::BYTES;
    debug_assert!(rows.end * rb <= w.len());
    for r in rows {
        let row = w.as_ptr().add(r * rb);
        let mut t = 0;
        while t + 4 <= act.m {
            put([tile_k::<F, V, 4>(row, act, t)], out, stride, r, t);
            t += 4;
        }
        match act.m - t {
            3 => put([tile_k::<F, V, 3>(row, act, t)], out, stride, r, t),
            2 => put([tile_k::<F, V, 2>(row, act, t)], out, stride, r, t),
            1 => put([tile_k::<F, V, 1>(row, act, t)], out, stride, r, t),
            _ => {}
        }
    }
}

gemv_entry!(
    /// Rows `rows` of a K-quant matrix times every activation row, with AVX2.
    ///
    /// # Safety
    /// As for [`gemv32_avx2`].
    gemv_k_avx2, "avx2,fma,f16c", MADD, SuperBlock, gemv_k
);
gemv_entry!(
    /// [`gemv_k_avx2`] with AVX512-VNNI's 256-bit `vpdpbusd` and one scale multiply per 64
    /// values ([`scaled_pair`]).
    ///
    /// # Safety
    /// As for [`gemv32_vnni512`].
    gemv_k_vnni512, "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni", VNNI512, SuperBlock, gemv_k
);
gemv_entry!(
    /// [`gemv_k_vnni512`] with AVX-VNNI (no AVX-512 needed).
    ///
    /// # Safety
    /// As for [`gemv32_avxvnni`].
    gemv_k_avxvnni, "avx2,fma,f16c,avxvnni", AVX_VNNI, SuperBlock, gemv_k
);
