//! The plain-Rust kernels: the reference every SIMD path is tested against, and the path on a
//! CPU with none of them.

use std::ops::Range;

use super::act::{Act, QK_K};
use super::block32::{self, Block32};
use super::SuperBlock;
use crate::engine::native::pool::SharedMut;

/// Rows `rows` of a 32-value block matrix times every activation row.
///
/// # Safety
/// `out` must have room for `act.m` rows of `stride`, and no other thread may write the
/// columns `rows` of them during the call.
pub(crate) unsafe fn gemv32<F: Block32>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let rb = act.k / 32 * F::BYTES;
    for r in rows {
        let row = &w[r * rb..(r + 1) * rb];
        for t in 0..act.m {
            let (qs, ds) = act.q8_row(t);
            *out.0.add(t * stride + r) = block32::dot::<F>(row, qs, ds);
        }
    }
}

/// Rows `rows` of a K-quant matrix times every activation row.
///
/// # Safety
/// As for [`gemv32`].
pub(crate) unsafe fn gemv_k<F: SuperBlock>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let rb = act.k / QK_K * F::BYTES;
    for r in rows {
        let row = &w[r * rb..(r + 1) * rb];
        for t in 0..act.m {
            let sum = row
                .chunks_exact(F::BYTES)
                .zip(act.q8k_row(t))
                .map(|(b, a)| F::dot(b, a))
                .sum();
            *out.0.add(t * stride + r) = sum;
        }
    }
}
