//! Formats without kernels of our own (F32, F16, BF16, Q2_K, Q3_K: none of the registry's
//! models uses them) go through candle's dot products, with activations in candle's matching
//! block type.

use std::ops::Range;

use candle_core::quantized::GgmlType;

use super::act::Act;
use crate::engine::native::pool::SharedMut;

/// View bytes as blocks of `T`.
fn blocks<T>(bytes: &[u8]) -> &[T] {
    assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
    assert_eq!(bytes.len() % std::mem::size_of::<T>(), 0);
    // SAFETY: alignment and length checked above; the block types are plain data, valid for
    // any bit pattern.
    unsafe {
        std::slice::from_raw_parts(
            bytes.as_ptr() as *const T,
            bytes.len() / std::mem::size_of::<T>(),
        )
    }
}

fn blocks_mut<T>(bytes: &mut [u8]) -> &mut [T] {
    assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
    // SAFETY: as for `blocks`; the buffer is exclusively borrowed.
    unsafe {
        std::slice::from_raw_parts_mut(
            bytes.as_mut_ptr() as *mut T,
            bytes.len() / std::mem::size_of::<T>(),
        )
    }
}

/// Dequantize whole blocks of `T`.
pub(crate) fn dequantize<T: GgmlType>(row: &[u8], out: &mut [f32]) {
    T::to_float(blocks::<T>(row), out)
}

/// Quantize one activation row into `T`'s dot-product type.
pub(crate) fn quantize<T: GgmlType>(x: &[f32], out: &mut [u8]) {
    T::VecDotType::from_float(x, blocks_mut::<T::VecDotType>(out))
}

/// Bytes of one activation row of `k` values in `T`'s dot-product type.
pub(crate) fn act_row_bytes<T: GgmlType>(k: usize) -> usize {
    k / T::VecDotType::BLCK_SIZE * std::mem::size_of::<T::VecDotType>()
}

/// Rows `rows` of a `T` matrix times every activation row (in `act.raw`).
///
/// # Safety
/// `out` has room for `act.m` rows of `stride`, and no other thread writes columns `rows`.
pub(crate) unsafe fn gemv<T: GgmlType>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let kb = act.k / T::BLCK_SIZE;
    let w: &[T] = blocks(w);
    for r in rows {
        let row = &w[r * kb..(r + 1) * kb];
        for t in 0..act.m {
            let x: &[T::VecDotType] = blocks(&act.raw[t * act.raw_row..(t + 1) * act.raw_row]);
            *out.0.add(t * stride + r) = T::vec_dot(act.k, row, x);
        }
    }
}
