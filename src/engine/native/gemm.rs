//! f32 matrix products on the calling thread. Prefill's activations times a panel of
//! dequantized weight rows take our own AVX2+FMA kernel when the CPU has it, chosen at run
//! time so a portable build runs it too; attention's products and other CPUs take the `gemm`
//! crate.

use super::pool::SharedMut;

/// `dst = lhs * rhs` in f32 on the calling thread (callers split work over the pool): `lhs`
/// is `m x k` with rows `lhs_row` apart, `rhs` is `k x n` with element `(i, j)` at
/// `i * rhs_row + j * rhs_col`, and `dst` is `m x n` with rows `dst_row` apart.
///
/// # Safety
/// Every element addressed through these strides must lie inside its buffer, and no other
/// thread may touch the addressed part of `dst` during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    mnk: (usize, usize, usize),
    dst: *mut f32,
    dst_row: usize,
    lhs: *const f32,
    lhs_row: usize,
    rhs: *const f32,
    rhs_row: usize,
    rhs_col: usize,
) {
    gemm_into(
        mnk, dst, dst_row, false, lhs, lhs_row, rhs, rhs_row, rhs_col,
    )
}

/// [`gemm`], adding to `dst` instead of overwriting it when `accumulate`.
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_row: usize,
    accumulate: bool,
    lhs: *const f32,
    lhs_row: usize,
    rhs: *const f32,
    rhs_row: usize,
    rhs_col: usize,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_row as isize,
        accumulate,
        lhs,
        1,
        lhs_row as isize,
        rhs,
        rhs_col as isize,
        rhs_row as isize,
        if accumulate { 1.0 } else { 0.0 },
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}

/// Columns of a block of the repacked panel: two AVX vectors.
const BLOCK: usize = 16;

/// Floats of scratch [`panel_product`] needs for `n` rows of `k`: the repacked panel, and
/// room to align it.
pub(crate) fn scratch_len(n: usize, k: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK * k + 8
}

/// `out[t * stride + c] = dot(x row t, panel row c)` for `m` activation rows of `k` and `n`
/// weight rows, `panel` holding those rows one after another; `scratch` holds at least
/// [`scratch_len`]`(n, k)` floats.
///
/// With AVX2 and FMA the panel is first repacked into blocks of [`BLOCK`] columns, each value
/// `i` of the block's rows side by side, so the kernel broadcasts one activation and multiplies
/// it by sixteen weights with two aligned loads; six token rows share each pair of loads.
///
/// # Safety
/// `out` has room for `m` rows of `stride` with `n <= stride`, and no other thread writes the
/// addressed part during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn panel_product(
    x: &[f32],
    m: usize,
    k: usize,
    panel: &[f32],
    n: usize,
    scratch: &mut [f32],
    out: SharedMut<f32>,
    stride: usize,
) {
    debug_assert!(x.len() >= m * k && panel.len() >= n * k);
    #[cfg(target_arch = "x86_64")]
    if super::dispatch::avx2() {
        let skip = scratch.as_ptr().align_offset(32);
        let blocked = &mut scratch[skip..skip + scratch_len(n, k) - 8];
        repack(panel, n, k, blocked);
        // SAFETY: `dispatch::avx2` saw AVX2 and FMA; `blocked` is 32-byte aligned and holds
        // `n / BLOCK` rounded up blocks of `k x BLOCK`; the caller vouches for `out`.
        return x86::panel_product(x, m, k, blocked, n, out.0, stride);
    }
    gemm(
        (m, n, k),
        out.0,
        stride,
        x.as_ptr(),
        k,
        panel.as_ptr(),
        1,
        k,
    )
}

/// `blocked[(b * k + i) * BLOCK + j] = panel[(b * BLOCK + j) * k + i]`, zero past row `n`.
fn repack(panel: &[f32], n: usize, k: usize, blocked: &mut [f32]) {
    for (b, block) in blocked.chunks_exact_mut(k * BLOCK).enumerate() {
        let rows = n.saturating_sub(b * BLOCK).min(BLOCK);
        let src = &panel[b * BLOCK * k..(b * BLOCK + rows) * k];
        // Value by value, each write a whole line of the block: the sixteen rows' reads
        // stay in cache across the consecutive values.
        for (i, dst) in block.chunks_exact_mut(BLOCK).enumerate() {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = match j < rows {
                    true => src[j * k + i],
                    false => 0.0,
                };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The AVX2+FMA panel kernel: `T` token rows by one block of sixteen columns, twelve
    //! running sums in registers.
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// Token rows per tile.
    const T: usize = 6;

    /// [`super::panel_product`] over the repacked panel.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `blocked` is 32-byte aligned and holds the blocks of `n`
    /// rows; `x` holds `m` rows of `k`; `out` has room for `m` rows of `stride`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn panel_product(
        x: &[f32],
        m: usize,
        k: usize,
        blocked: &[f32],
        n: usize,
        out: *mut f32,
        stride: usize,
    ) {
        for b in 0..n.div_ceil(BLOCK) {
            let w = blocked.as_ptr().add(b * k * BLOCK);
            let cols = BLOCK.min(n - b * BLOCK);
            let mut t = 0;
            while t < m {
                let nt = T.min(m - t);
                let rows = x.as_ptr().add(t * k);
                let sums = match nt {
                    6 => tile::<6>(rows, k, w),
                    5 => tile::<5>(rows, k, w),
                    4 => tile::<4>(rows, k, w),
                    3 => tile::<3>(rows, k, w),
                    2 => tile::<2>(rows, k, w),
                    _ => tile::<1>(rows, k, w),
                };
                for (i, s) in sums.iter().enumerate().take(nt) {
                    let dst = out.add((t + i) * stride + b * BLOCK);
                    match cols {
                        BLOCK => {
                            _mm256_storeu_ps(dst, s[0]);
                            _mm256_storeu_ps(dst.add(8), s[1]);
                        }
                        _ => {
                            let mut v = [0.0f32; BLOCK];
                            _mm256_storeu_ps(v.as_mut_ptr(), s[0]);
                            _mm256_storeu_ps(v.as_mut_ptr().add(8), s[1]);
                            std::ptr::copy_nonoverlapping(v.as_ptr(), dst, cols);
                        }
                    }
                }
                t += nt;
            }
        }
    }

    /// The sums of `N <= T` token rows (from `x`, `k` apart) with one block `w`, as `T` pairs
    /// of vectors of which the first `N` are meant.
    #[inline(always)]
    unsafe fn tile<const N: usize>(x: *const f32, k: usize, w: *const f32) -> [[__m256; 2]; T] {
        let mut acc = [[_mm256_setzero_ps(); 2]; T];
        for i in 0..k {
            let w0 = _mm256_load_ps(w.add(i * BLOCK));
            let w1 = _mm256_load_ps(w.add(i * BLOCK + 8));
            for (t, acc) in acc.iter_mut().enumerate().take(N) {
                let a = _mm256_broadcast_ss(&*x.add(t * k + i));
                acc[0] = _mm256_fmadd_ps(a, w0, acc[0]);
                acc[1] = _mm256_fmadd_ps(a, w1, acc[1]);
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Every shape around the kernel's six-row tiles and sixteen-column blocks, written into
    /// a wider output, against a plain f64 loop: the kernel where the CPU runs it, and the
    /// crate's product (the path of every other CPU) always.
    #[test]
    fn panel_products_match_a_plain_loop_for_odd_shapes() {
        for m in [1, 2, 5, 6, 7, 13] {
            for n in [1, 3, 15, 16, 17, 32] {
                for k in [1, 8, 9, 40] {
                    let stride = n + 3;
                    let x = values(m * k, 1);
                    let panel = values(n * k, 2);
                    let want = |t: usize, c: usize| -> f64 {
                        (0..k)
                            .map(|i| x[t * k + i] as f64 * panel[c * k + i] as f64)
                            .sum()
                    };
                    for own in [true, false] {
                        let mut dst = vec![f32::NAN; m * stride];
                        let out = SharedMut(dst.as_mut_ptr());
                        let mut scratch = vec![f32::NAN; scratch_len(n, k)];
                        // SAFETY: `dst` holds m rows of `stride >= n`.
                        unsafe {
                            match own {
                                true => {
                                    panel_product(&x, m, k, &panel, n, &mut scratch, out, stride)
                                }
                                false => gemm(
                                    (m, n, k),
                                    out.0,
                                    stride,
                                    x.as_ptr(),
                                    k,
                                    panel.as_ptr(),
                                    1,
                                    k,
                                ),
                            }
                        }
                        for t in 0..m {
                            for c in 0..n {
                                let got = dst[t * stride + c];
                                assert!(
                                    (got as f64 - want(t, c)).abs() < 1e-5,
                                    "own={own} m={m} n={n} k={k} ({t},{c}): {got} vs {}",
                                    want(t, c)
                                );
                            }
                            assert!(dst[t * stride + n].is_nan(), "wrote past column {n}");
                        }
                    }
                }
            }
        }
    }
}
