//! The aarch64 kernels: NEON widening byte products for the 32-value formats. (The K-quants
//! run the scalar code there, which the compiler vectorises for NEON.)

use std::arch::aarch64::*;
use std::ops::Range;

use super::act::Act;
use super::block32::{self, Block32};
use crate::engine::native::pool::SharedMut;

/// Sum of the products of 32 quants (two vectors) with the 32 activations at `a`.
#[inline(always)]
unsafe fn dot32(w: (int8x16_t, int8x16_t), a: *const i8) -> i32 {
    let (a0, a1) = (vld1q_s8(a), vld1q_s8(a.add(16)));
    let s = vpaddlq_s16(vmull_s8(vget_low_s8(w.0), vget_low_s8(a0)));
    let s = vpadalq_s16(s, vmull_high_s8(w.0, a0));
    let s = vpadalq_s16(s, vmull_s8(vget_low_s8(w.1), vget_low_s8(a1)));
    let s = vpadalq_s16(s, vmull_high_s8(w.1, a1));
    vaddvq_s32(s)
}

/// Rows `rows` of a 32-value block matrix times every activation row, with NEON; each weight
/// block is loaded once for up to 8 activation rows.
///
/// # Safety
/// `w` holds the rows and `act` rows of the matrix's width; `out` has room for `act.m` rows of
/// `stride`, and no other thread writes columns `rows`.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn gemv32_neon<F: Block32>(
    w: &[u8],
    rows: Range<usize>,
    act: &Act<'_>,
    out: SharedMut<f32>,
    stride: usize,
) {
    let kb = act.k / 32;
    let rb = kb * F::BYTES;
    for r in rows {
        let row = &w[r * rb..(r + 1) * rb];
        let mut t0 = 0;
        while t0 < act.m {
            let n = (act.m - t0).min(8);
            let mut sums = [0.0f32; 8];
            for b in 0..kb {
                let blk = &row[b * F::BYTES..(b + 1) * F::BYTES];
                let (d, m) = block32::scales::<F>(blk);
                let q = block32::neon::quants::<F>(blk.as_ptr());
                for (t, sum) in sums[..n].iter_mut().enumerate() {
                    let (qs, ds) = act.q8_row(t0 + t);
                    let isum = dot32(q, qs.as_ptr().add(32 * b));
                    *sum += d * ds[2 * b] * isum as f32 + m * ds[2 * b + 1];
                }
            }
            for (t, &sum) in sums[..n].iter().enumerate() {
                *out.0.add((t0 + t) * stride + r) = sum;
            }
            t0 += n;
        }
    }
}
