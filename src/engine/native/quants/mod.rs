//! Quantized weight formats and their matrix kernels. A format is one file here (its layout,
//! its scalar reference and, where it differs from the shared code, its SIMD loop) and one row
//! of [`Format::of`]; the kernels for every instruction set come from the shared drivers:
//! `scalar.rs` (the reference), `x86.rs` (AVX2, VNNI) and `neon.rs`, chosen at run time.
//!
//! Activations are quantized once per product (`act.rs`): to blocks of 32 for the 32-value
//! formats, to llama.cpp's Q8_K super-blocks for the K-quants.

mod act;
mod bench;
mod block32;
mod candle;
mod isa;
#[cfg(target_arch = "aarch64")]
mod neon;
pub(crate) mod panel;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_0;
mod q5_1;
mod q5_k;
mod q6_k;
mod q8_0;
mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use std::ops::Range;

use candle_core::quantized::k_quants::{BlockQ2K, BlockQ3K};
use candle_core::quantized::{GgmlDType, GgmlType};
use half::{bf16, f16};

pub(crate) use act::{quantize_q8, quantize_q8k, Act, Q8K, QK_K};
pub use bench::{KernelBench, FORMATS};
pub use isa::Isa;

use super::pool::SharedMut;
use block32::Block32;

/// The f16 at byte `at` of `b`.
#[inline(always)]
pub(crate) fn f16_at(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// An f16's value, in plain integer and float steps: `half` asks at run time whether the CPU
/// has F16C before every conversion unless the build targets it, a check and a call in every
/// block of a portable build's kernels. Normal numbers have their exponent rebased in the
/// integer bits. A subnormal (K-quant super-block scales often are: Qwen2.5 1.5B's Q6_K `d`)
/// is the difference of two normal floats, never an operation on an f32 subnormal, which
/// costs a microcode assist of about a hundred cycles on x86 (it made the Q6_K decode kernel
/// 2.3x slower, 37% of its samples on one multiply). Infinities and NaNs keep their all-ones
/// exponent.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    const REBASE: u32 = (127 - 15) << 23;
    let h = h as u32;
    let bits = (h & 0x7fff) << 13;
    let magnitude = match h & 0x7c00 {
        0x7c00 => bits | 0x7f80_0000,
        // m * 2^-24 as (2^-14 + m * 2^-24) - 2^-14: both operands normal, the result exact.
        0 => (f32::from_bits(bits + REBASE + (1 << 23)) - f32::from_bits(REBASE + (1 << 23)))
            .to_bits(),
        _ => bits + REBASE,
    };
    f32::from_bits(magnitude | (h & 0x8000) << 16)
}

/// A K-quant format: super-blocks of 256 values with sub-block scales.
pub(crate) trait SuperBlock: Sync + 'static {
    /// Bytes of one super-block.
    const BYTES: usize;
    /// Dequantize one super-block into 256 values.
    fn dequantize(b: &[u8], out: &mut [f32]);
    /// The scalar reference: one super-block times one Q8_K block, in integer arithmetic.
    fn dot(b: &[u8], a: &Q8K) -> f32;
    /// Add one super-block times each of `T` Q8_K blocks to `acc[t]` (lanes summed later),
    /// with the byte products `V` names (`x86::MADD`, `VNNI512` or `AVX_VNNI`).
    ///
    /// # Safety
    /// `b` points at a whole super-block; the caller has AVX2, FMA and F16C, and the VNNI
    /// set `V` names.
    #[cfg(target_arch = "x86_64")]
    unsafe fn dot_avx2<const V: u8, const T: usize>(
        b: *const u8,
        a: &[&Q8K; T],
        acc: &mut [std::arch::x86_64::__m256; T],
    );
}

/// What a format's activations are quantized to.
#[derive(Clone, Copy)]
pub(crate) enum ActKind {
    /// Blocks of 32 with `(d, d * sum)`.
    Q8,
    /// Q8_K super-blocks.
    Q8K,
    /// Candle's block type `dtype`, `row_bytes(k)` bytes a row.
    Candle {
        dtype: GgmlDType,
        row_bytes: fn(usize) -> usize,
        quantize: fn(&[f32], &mut [u8]),
    },
}

/// `out[t * stride + r] = (row r of w) . (activation row t)` for rows `rows`, every token.
///
/// # Safety
/// The CPU runs the kernel's instruction set; `w` holds the rows and `act` rows of the
/// matrix's width; `out` has room for `act.m` rows of `stride`, and no other thread writes
/// columns `rows` of them during the call.
pub(crate) type GemvFn =
    unsafe fn(w: &[u8], rows: Range<usize>, act: &Act<'_>, out: SharedMut<f32>, stride: usize);

/// A weight format with the kernels chosen for one instruction set.
#[derive(Clone, Copy)]
pub(crate) struct Format {
    pub(crate) act: ActKind,
    /// The instruction set of `gemv`.
    pub(crate) isa: Isa,
    gemv: GemvFn,
    dequant: fn(&[u8], &mut [f32]),
}

impl Format {
    /// `dtype`'s kernels for `isa` (which must run here), or `None` if it has none.
    pub(crate) fn of(dtype: GgmlDType, isa: Isa) -> Option<Format> {
        use GgmlDType as D;
        // A set this CPU lacks would make the kernels fault: fall back rather than trust.
        let isa = match isa.runs_here() {
            true => isa,
            false => Isa::Scalar,
        };
        Some(match dtype {
            D::Q4_0 => block32_format::<q4_0::Q4_0>(isa),
            D::Q4_1 => block32_format::<q4_1::Q4_1>(isa),
            D::Q5_0 => block32_format::<q5_0::Q5_0>(isa),
            D::Q5_1 => block32_format::<q5_1::Q5_1>(isa),
            D::Q8_0 => block32_format::<q8_0::Q8_0>(isa),
            D::Q4K => superblock_format::<q4_k::Q4K>(isa),
            D::Q5K => superblock_format::<q5_k::Q5K>(isa),
            D::Q6K => superblock_format::<q6_k::Q6K>(isa),
            D::F32 => candle_format::<f32>(),
            D::F16 => candle_format::<f16>(),
            D::BF16 => candle_format::<bf16>(),
            D::Q2K => candle_format::<BlockQ2K>(),
            D::Q3K => candle_format::<BlockQ3K>(),
            D::Q8_1 | D::Q8K => return None,
        })
    }

    /// Dequantize whole blocks `row` into `out`.
    pub(crate) fn dequantize(&self, row: &[u8], out: &mut [f32]) {
        (self.dequant)(row, out)
    }

    /// Rows `rows` of `w` times every row of `act`, into `out` (see [`GemvFn`]).
    ///
    /// # Safety
    /// As for [`GemvFn`]; `isa` was chosen by [`Format::of`] for a set this CPU runs.
    pub(crate) unsafe fn gemv(
        &self,
        w: &[u8],
        rows: Range<usize>,
        act: &Act<'_>,
        out: SharedMut<f32>,
        stride: usize,
    ) {
        (self.gemv)(w, rows, act, out, stride)
    }
}

fn block32_format<F: Block32>(isa: Isa) -> Format {
    let (isa, gemv): (Isa, GemvFn) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Vnni if Isa::vnni512() => (isa, x86::gemv32_vnni512::<F>),
        #[cfg(target_arch = "x86_64")]
        Isa::Vnni => (isa, x86::gemv32_avxvnni::<F>),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (isa, x86::gemv32_avx2::<F>),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => (isa, neon::gemv32_neon::<F>),
        _ => (Isa::Scalar, scalar::gemv32::<F>),
    };
    #[cfg(target_arch = "x86_64")]
    fn dequant_avx2<F: Block32>(row: &[u8], out: &mut [f32]) {
        // SAFETY: only chosen below for an x86 set that runs here, and those all have AVX2
        // and F16C.
        unsafe { block32::x86::dequantize::<F>(row, out) }
    }
    let dequant: fn(&[u8], &mut [f32]) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Vnni => dequant_avx2::<F>,
        _ => block32::dequantize::<F>,
    };
    Format {
        act: ActKind::Q8,
        isa,
        gemv,
        dequant,
    }
}

fn superblock_format<F: SuperBlock>(isa: Isa) -> Format {
    let (isa, gemv): (Isa, GemvFn) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Vnni if Isa::vnni512() => (isa, x86::gemv_k_vnni512::<F>),
        #[cfg(target_arch = "x86_64")]
        Isa::Vnni => (isa, x86::gemv_k_avxvnni::<F>),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (isa, x86::gemv_k_avx2::<F>),
        _ => (Isa::Scalar, scalar::gemv_k::<F>),
    };
    fn dequant<F: SuperBlock>(row: &[u8], out: &mut [f32]) {
        for (b, out) in row.chunks_exact(F::BYTES).zip(out.chunks_exact_mut(QK_K)) {
            F::dequantize(b, out);
        }
    }
    Format {
        act: ActKind::Q8K,
        isa,
        gemv,
        dequant: dequant::<F>,
    }
}

fn candle_format<T: GgmlType>() -> Format {
    Format {
        act: ActKind::Candle {
            dtype: T::VecDotType::DTYPE,
            row_bytes: candle::act_row_bytes::<T>,
            quantize: candle::quantize::<T>,
        },
        isa: Isa::Scalar,
        gemv: candle::gemv::<T>,
        dequant: candle::dequantize::<T>,
    }
}

#[cfg(test)]
mod tests;
