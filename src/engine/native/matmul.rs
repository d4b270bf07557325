//! Quantized matrix products straight from the mapped GGUF blocks: activations are quantized
//! once per weight family, then each thread takes groups of weight rows.

use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8_0,
};
use candle_core::quantized::{GgmlDType, GgmlType};
use std::sync::Arc;

use half::{bf16, f16};

use super::kquant::{self, Kind, Unpacked, Q8K};
use super::pool::{chunk_for, for_each_chunk, SharedMut};

/// The kernels for one weight type, chosen once when the tensor is mapped.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// Type the activations are quantized to for this weight's dot products.
    pub act_dtype: GgmlDType,
    /// Bytes of one quantized activation row of `k` values is `act_row_bytes(k)`.
    act_block: usize,
    act_type_size: usize,
    rows: RowsFn,
    dequant: DequantFn,
    quantize: QuantizeFn,
}

/// `out[t * out_stride + r] = dot(w row r, x row t)` for rows `r0..r0 + n`, tokens `0..m`.
type RowsFn = unsafe fn(
    w: &[u8],
    k: usize,
    r0: usize,
    n: usize,
    x: &[u8],
    m: usize,
    out: SharedMut<f32>,
    out_stride: usize,
);
type DequantFn = fn(row: &[u8], out: &mut [f32]);
type QuantizeFn = fn(x: &[f32], out: &mut [u8]);

impl Kernels {
    /// The kernels for `dtype`, or `None` if it has no CPU dot product here.
    pub(crate) fn for_dtype(dtype: GgmlDType) -> Option<Kernels> {
        Some(match dtype {
            GgmlDType::F32 => kernels::<f32>(),
            GgmlDType::F16 => kernels::<f16>(),
            GgmlDType::BF16 => kernels::<bf16>(),
            GgmlDType::Q4_0 => kernels::<BlockQ4_0>(),
            GgmlDType::Q4_1 => kernels::<BlockQ4_1>(),
            GgmlDType::Q5_0 => kernels::<BlockQ5_0>(),
            GgmlDType::Q5_1 => kernels::<BlockQ5_1>(),
            GgmlDType::Q8_0 => kernels::<BlockQ8_0>(),
            GgmlDType::Q2K => kernels::<BlockQ2K>(),
            GgmlDType::Q3K => kernels::<BlockQ3K>(),
            GgmlDType::Q4K => kernels::<BlockQ4K>(),
            GgmlDType::Q5K => kernels::<BlockQ5K>(),
            GgmlDType::Q6K => kernels::<BlockQ6K>(),
            GgmlDType::Q8_1 | GgmlDType::Q8K => return None,
        })
    }

    /// Bytes of one row of `k` activations once quantized.
    pub(crate) fn act_row_bytes(&self, k: usize) -> usize {
        k / self.act_block * self.act_type_size
    }

    /// Dequantize one stored row.
    pub(crate) fn dequantize(&self, row: &[u8], out: &mut [f32]) {
        (self.dequant)(row, out)
    }
}

fn kernels<T: GgmlType>() -> Kernels {
    Kernels {
        act_dtype: T::VecDotType::DTYPE,
        act_block: T::VecDotType::BLCK_SIZE,
        act_type_size: std::mem::size_of::<T::VecDotType>(),
        rows: rows_kernel::<T>,
        dequant: dequant_row::<T>,
        quantize: quantize_row::<T::VecDotType>,
    }
}

/// View bytes as blocks. The mapped tensors are checked for alignment when loaded, and the
/// activation buffers are `u64`-backed.
fn blocks<T>(bytes: &[u8]) -> &[T] {
    debug_assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
    debug_assert_eq!(bytes.len() % std::mem::size_of::<T>(), 0);
    // SAFETY: alignment and length checked above (and at load); block types are plain data.
    unsafe {
        std::slice::from_raw_parts(
            bytes.as_ptr() as *const T,
            bytes.len() / std::mem::size_of::<T>(),
        )
    }
}

fn blocks_mut<T>(bytes: &mut [u8]) -> &mut [T] {
    debug_assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<T>(), 0);
    // SAFETY: as for `blocks`; the buffer is exclusively borrowed.
    unsafe {
        std::slice::from_raw_parts_mut(
            bytes.as_mut_ptr() as *mut T,
            bytes.len() / std::mem::size_of::<T>(),
        )
    }
}

fn dequant_row<T: GgmlType>(row: &[u8], out: &mut [f32]) {
    T::to_float(blocks::<T>(row), out)
}

fn quantize_row<V: GgmlType>(x: &[f32], out: &mut [u8]) {
    V::from_float(x, blocks_mut::<V>(out))
}

#[allow(clippy::too_many_arguments)]
unsafe fn rows_kernel<T: GgmlType>(
    w: &[u8],
    k: usize,
    r0: usize,
    n: usize,
    x: &[u8],
    m: usize,
    out: SharedMut<f32>,
    out_stride: usize,
) {
    let kb = k / T::BLCK_SIZE;
    let w: &[T] = blocks(w);
    let x: &[T::VecDotType] = blocks(x);
    let row = |r: usize| &w[r * kb..(r + 1) * kb];
    let mut r = r0;
    let end = r0 + n;
    while r + 4 <= end {
        for t in 0..m {
            let xt = &x[t * kb..(t + 1) * kb];
            let (a, b, c, d) = T::vec_dot_4(k, row(r), row(r + 1), row(r + 2), row(r + 3), xt);
            let o = out.slice(t * out_stride + r, 4);
            o[0] = a;
            o[1] = b;
            o[2] = c;
            o[3] = d;
        }
        r += 4;
    }
    while r < end {
        for t in 0..m {
            let xt = &x[t * kb..(t + 1) * kb];
            *out.slice(t * out_stride + r, 1).as_mut_ptr() = T::vec_dot(k, row(r), xt);
        }
        r += 1;
    }
}

/// The bytes matrices view: the mapped file, or an owned buffer (tests, tools). Shared, so a
/// matrix can never outlive the memory it reads.
pub(crate) type Storage = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// An owned, 8-byte-aligned buffer to hold quantized blocks outside a mapped file.
pub(crate) struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// A copy of `bytes`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn copy_of(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        // SAFETY: `words` holds at least `bytes.len()` bytes; u64 has no invalid bit patterns.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                words.as_mut_ptr() as *mut u8,
                bytes.len(),
            )
        };
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }
}

impl AsRef<[u8]> for AlignedBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the words, which were all initialised.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) }
    }
}

/// A weight matrix of `rows` outputs by `cols` inputs, stored row-major in GGUF blocks.
#[derive(Clone)]
pub(crate) struct QMatrix {
    /// Set for K-quants that have the integer prefill path.
    kquant: Option<Kind>,
    pub rows: usize,
    pub cols: usize,
    pub kernels: Kernels,
    storage: Storage,
    offset: usize,
    len: usize,
}

impl QMatrix {
    /// A view of `len` bytes at `offset` of `storage` as a `rows x cols` matrix of `dtype`;
    /// errors say what does not fit.
    pub(crate) fn new(
        dtype: GgmlDType,
        rows: usize,
        cols: usize,
        storage: Storage,
        offset: usize,
        len: usize,
    ) -> Result<QMatrix, String> {
        let kernels = Kernels::for_dtype(dtype)
            .ok_or_else(|| format!("has type {dtype:?}, which has no CPU kernel"))?;
        if !cols.is_multiple_of(dtype.block_size()) {
            return Err(format!(
                "has {cols} columns, not a multiple of the {dtype:?} block size {}",
                dtype.block_size()
            ));
        }
        let expected = rows
            .checked_mul(cols / dtype.block_size())
            .and_then(|blocks| blocks.checked_mul(dtype.type_size()))
            .ok_or_else(|| format!("of {rows}x{cols} is too large"))?;
        if len != expected {
            return Err(format!(
                "holds {len} bytes, expected {expected} for {rows}x{cols} {dtype:?}"
            ));
        }
        let whole = (*storage).as_ref();
        let Some(bytes) = offset
            .checked_add(len)
            .and_then(|end| whole.get(offset..end))
        else {
            return Err(
                "runs past the end of the file (truncated download? run `summarise models pull`)"
                    .into(),
            );
        };
        if !(bytes.as_ptr() as usize).is_multiple_of(4) {
            return Err("data is not 4-byte aligned in the file".into());
        }
        let kquant = match dtype {
            GgmlDType::Q4K if kquant::FAST => Some(Kind::Q4K),
            GgmlDType::Q6K if kquant::FAST => Some(Kind::Q6K),
            _ => None,
        };
        Ok(QMatrix {
            kquant,
            rows,
            cols,
            kernels,
            storage,
            offset,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        &(*self.storage).as_ref()[self.offset..self.offset + self.len]
    }

    fn row_bytes(&self) -> usize {
        self.len / self.rows
    }

    /// Dequantize row `r` (an embedding lookup) into `out`.
    pub(crate) fn row_to_f32(&self, r: usize, out: &mut [f32]) {
        let rb = self.row_bytes();
        self.kernels
            .dequantize(&self.bytes()[r * rb..(r + 1) * rb], &mut out[..self.cols]);
    }
}

/// Reusable buffers for quantized activations: one slot per activation type in use, so the
/// Q, K and V products (or gate and up) quantize their shared input once.
#[derive(Default)]
pub(crate) struct ActBuffers {
    slots: Vec<(GgmlDType, Vec<u64>)>,
    /// Per-thread panels of dequantized weight rows for the prefill product.
    panels: Vec<f32>,
    panel_len: usize,
    /// Per-thread panels of unpacked K-quant rows, and the Q8_K activations they multiply.
    unpacked: Vec<Unpacked>,
    unpacked_len: usize,
    q8k: Vec<Q8K>,
}

impl ActBuffers {
    /// Room for each thread's panel of `PANEL_ROWS x max_cols` weights; sized once per request.
    pub(crate) fn reserve_panels(&mut self, max_cols: usize) {
        self.panel_len = PANEL_ROWS * max_cols;
        let want = super::pool::n_threads() * self.panel_len;
        if self.panels.len() < want {
            self.panels = vec![0.0; want];
        }
        self.unpacked_len = PANEL_ROWS * max_cols.div_ceil(kquant::QK);
        let want = super::pool::n_threads() * self.unpacked_len;
        if self.unpacked.len() < want {
            self.unpacked = vec![Unpacked::default(); want];
        }
    }

    fn slot(&mut self, dtype: GgmlDType, bytes: usize) -> &mut [u8] {
        let i = match self.slots.iter().position(|(d, _)| *d == dtype) {
            Some(i) => i,
            None => {
                self.slots.push((dtype, Vec::new()));
                self.slots.len() - 1
            }
        };
        let buf = &mut self.slots[i].1;
        let words = bytes.div_ceil(8);
        if buf.len() < words {
            buf.resize(words, 0);
        }
        // SAFETY: a u64 buffer viewed as bytes, within its length.
        unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut u8, bytes) }
    }
}

/// One matrix product of a fused call: `out` is `m x w.rows`.
pub(crate) struct Product<'a> {
    pub w: &'a QMatrix,
    pub out: &'a mut [f32],
}

/// The work items of a fused call: groups of `group` weight rows, numbered through the
/// products in order.
struct RowGroups {
    group: usize,
    rows: [usize; 3],
    /// First item of each product, and the total at the end.
    starts: [usize; 4],
    products: usize,
}

impl RowGroups {
    fn new(products: &[Product<'_>], group: usize) -> RowGroups {
        assert!(products.len() <= 3, "fuse at most three products");
        let (mut rows, mut starts) = ([0; 3], [0; 4]);
        for (i, p) in products.iter().enumerate() {
            rows[i] = p.w.rows;
            starts[i + 1] = starts[i] + p.w.rows.div_ceil(group);
        }
        RowGroups {
            group,
            rows,
            starts,
            products: products.len(),
        }
    }

    fn total(&self) -> usize {
        self.starts[self.products]
    }

    /// Item `item`'s product, first row and number of rows.
    fn locate(&self, item: usize) -> (usize, usize, usize) {
        let j = (0..self.products)
            .rfind(|&j| self.starts[j] <= item)
            .unwrap_or(0);
        let r0 = (item - self.starts[j]) * self.group;
        (j, r0, self.group.min(self.rows[j] - r0))
    }
}

/// From this many tokens on, a product dequantizes weight panels once and multiplies them in
/// f32 for all tokens, instead of one quantized dot product per row and token.
const PANEL_MIN_TOKENS: usize = 8;
/// Weight rows per panel.
const PANEL_ROWS: usize = 32;

/// Multiply the `m x k` activations `x` by each weight, in one parallel pass.
pub(crate) fn matmul(x: &[f32], m: usize, products: &mut [Product<'_>], bufs: &mut ActBuffers) {
    let k = products[0].w.cols;
    debug_assert!(products.iter().all(|p| p.w.cols == k));
    debug_assert_eq!(x.len(), m * k);
    if m >= PANEL_MIN_TOKENS && bufs.panel_len >= PANEL_ROWS * k {
        return panel_matmul(x, m, k, products, bufs);
    }
    // Quantize the input once per activation type.
    let mut act: [Option<(GgmlDType, SharedMut<u8>, usize)>; 3] = [None, None, None];
    for p in products.iter() {
        let kern = p.w.kernels;
        if act.iter().flatten().any(|(d, _, _)| *d == kern.act_dtype) {
            continue;
        }
        let row_bytes = kern.act_row_bytes(k);
        let buf = bufs.slot(kern.act_dtype, m * row_bytes);
        quantize_rows(x, m, k, kern.quantize, buf, row_bytes);
        let free = act
            .iter()
            .position(|a| a.is_none())
            .expect("at most 3 activation types");
        act[free] = Some((kern.act_dtype, SharedMut(buf.as_mut_ptr()), row_bytes));
    }
    // Work items: groups of rows across all products.
    let groups = RowGroups::new(products, 16);
    let total = groups.total();
    /// A product's matrix, output, quantized input and input row bytes.
    type Job<'m> = (&'m QMatrix, SharedMut<f32>, SharedMut<u8>, usize);
    let jobs: [Option<Job<'_>>; 3] = std::array::from_fn(|i| {
        products.get(i).map(|p| {
            let (_, buf, row_bytes) = act
                .iter()
                .flatten()
                .find(|(d, _, _)| *d == p.w.kernels.act_dtype)
                .copied()
                .expect("quantized above");
            (p.w, SharedMut(p.out.as_ptr() as *mut f32), buf, row_bytes)
        })
    });
    for_each_chunk(total, chunk_for(total, 4), |_, items| {
        for item in items {
            let (j, r0, n) = groups.locate(item);
            let (w, out, xq, row_bytes) = jobs[j].expect("job exists");
            // SAFETY: each item owns rows r0..r0+n of its product's output, for every token.
            unsafe {
                let xq = std::slice::from_raw_parts(xq.0, m * row_bytes);
                (w.kernels.rows)(w.bytes(), k, r0, n, xq, m, out, w.rows);
            }
        }
    });
}

/// The prefill product: each work item dequantizes `PANEL_ROWS` weight rows into its thread's
/// panel and multiplies the f32 activations by it with an f32 GEMM.
fn panel_matmul(
    x: &[f32],
    m: usize,
    k: usize,
    products: &mut [Product<'_>],
    bufs: &mut ActBuffers,
) {
    let groups = RowGroups::new(products, PANEL_ROWS);
    let jobs: [Option<(&QMatrix, SharedMut<f32>)>; 3] = std::array::from_fn(|i| {
        products
            .get(i)
            .map(|p| (p.w, SharedMut(p.out.as_ptr() as *mut f32)))
    });
    let kb = k / kquant::QK;
    let int_path = k.is_multiple_of(kquant::QK) && products.iter().any(|p| p.w.kquant.is_some());
    if int_path {
        if bufs.q8k.len() < m * kb {
            bufs.q8k.resize(m * kb, Q8K::default());
        }
        let q8k = SharedMut(bufs.q8k.as_mut_ptr());
        for_each_chunk(m, chunk_for(m, 2), |_, rows| {
            for t in rows {
                // SAFETY: each token's blocks are written by the one item that owns it.
                kquant::quantize_q8k(&x[t * k..(t + 1) * k], unsafe { q8k.slice(t * kb, kb) });
            }
        });
    }
    let q8k: &[Q8K] = &bufs.q8k;
    let panels = SharedMut(bufs.panels.as_mut_ptr());
    let panel_len = bufs.panel_len;
    let unpacked = SharedMut(bufs.unpacked.as_mut_ptr());
    let unpacked_len = bufs.unpacked_len;
    for_each_chunk(groups.total(), 1, |thread, items| {
        // SAFETY: each thread has its own panels.
        let panel = unsafe { panels.slice(thread * panel_len, panel_len) };
        let upanel = unsafe { unpacked.slice(thread * unpacked_len, unpacked_len) };
        for item in items {
            let (j, r0, n) = groups.locate(item);
            let (w, out) = jobs[j].expect("job exists");
            if let (Some(kind), true) = (w.kquant, int_path) {
                int_panel(w, kind, r0, n, k, m, &q8k[..m * kb], upanel, out);
                continue;
            }
            for r in 0..n {
                w.row_to_f32(r0 + r, &mut panel[r * k..(r + 1) * k]);
            }
            // out[t, r0 + c] = sum_i x[t, i] * panel[c, i]. SAFETY: the item owns output
            // columns r0..r0+n of every token row; all pointers stay within their buffers.
            unsafe {
                super::ops::gemm(
                    (m, n, k),
                    out.0.add(r0),
                    w.rows,
                    x.as_ptr(),
                    k,
                    panel.as_ptr(),
                    1,
                    k,
                );
            }
        }
    });
}

/// One item of the integer prefill path: unpack rows `r0..r0+n` of K-quant `w`, then take
/// their dot products with every token's Q8_K activations, four tokens at a time.
#[allow(clippy::too_many_arguments)]
fn int_panel(
    w: &QMatrix,
    kind: Kind,
    r0: usize,
    n: usize,
    k: usize,
    m: usize,
    q8k: &[Q8K],
    upanel: &mut [Unpacked],
    out: SharedMut<f32>,
) {
    let kb = k / kquant::QK;
    let (rb, bb) = (w.row_bytes(), kind.block_bytes());
    let bytes = w.bytes();
    for r in 0..n {
        let row = &bytes[(r0 + r) * rb..(r0 + r + 1) * rb];
        for b in 0..kb {
            kquant::unpack(kind, &row[b * bb..(b + 1) * bb], &mut upanel[r * kb + b]);
        }
    }
    let mut t = 0;
    while t < m {
        let nt = 4.min(m - t);
        let tok = |i: usize| {
            let i = t + i.min(nt - 1);
            &q8k[i * kb..(i + 1) * kb]
        };
        let xs = [tok(0), tok(1), tok(2), tok(3)];
        let mut dots = [0.0f32; 4];
        for r in 0..n {
            kquant::dot_x4(&upanel[r * kb..(r + 1) * kb], xs, nt, &mut dots);
            for (i, &d) in dots[..nt].iter().enumerate() {
                // SAFETY: the item owns output columns r0..r0+n of every token row.
                unsafe { *out.0.add((t + i) * w.rows + r0 + r) = d };
            }
        }
        t += nt;
    }
}

fn quantize_rows(x: &[f32], m: usize, k: usize, f: QuantizeFn, buf: &mut [u8], row_bytes: usize) {
    if m < 4 {
        for t in 0..m {
            f(
                &x[t * k..(t + 1) * k],
                &mut buf[t * row_bytes..(t + 1) * row_bytes],
            );
        }
        return;
    }
    let out = SharedMut(buf.as_mut_ptr());
    for_each_chunk(m, chunk_for(m, 2), |_, rows| {
        for t in rows {
            // SAFETY: each row of the buffer is written by the one item that owns it.
            let dst = unsafe { out.slice(t * row_bytes, row_bytes) };
            f(&x[t * k..(t + 1) * k], dst);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(w: &[f32], x: &[f32], rows: usize, k: usize, m: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * rows];
        for t in 0..m {
            for r in 0..rows {
                out[t * rows + r] = (0..k).map(|i| w[r * k + i] * x[t * k + i]).sum();
            }
        }
        out
    }

    fn quantized_bytes<T: GgmlType>(w: &[f32]) -> Vec<u8> {
        let mut blocks = vec![T::zeros(); w.len() / T::BLCK_SIZE];
        T::from_float(w, &mut blocks);
        let bytes = unsafe {
            std::slice::from_raw_parts(
                blocks.as_ptr() as *const u8,
                blocks.len() * std::mem::size_of::<T>(),
            )
        };
        bytes.to_vec()
    }

    fn check<T: GgmlType>(dtype: GgmlDType, tolerance: f32) {
        let (rows, k, m) = (37, 512, 5);
        let w: Vec<f32> = (0..rows * k)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 104729) % 89) as f32 / 89.0 - 0.5)
            .collect();
        // Keep the bytes 8-aligned like a mapped tensor.
        let bytes = quantized_bytes::<T>(&w);
        let len = bytes.len();
        let q = QMatrix::new(
            dtype,
            rows,
            k,
            Arc::new(AlignedBytes::copy_of(&bytes)),
            0,
            len,
        )
        .unwrap();
        let mut out = vec![0.0; m * rows];
        let mut bufs = ActBuffers::default();
        matmul(
            &x,
            m,
            &mut [Product {
                w: &q,
                out: &mut out,
            }],
            &mut bufs,
        );
        let want = naive(&w, &x, rows, k, m);
        for (a, b) in out.iter().zip(&want) {
            assert!((a - b).abs() < tolerance, "{dtype:?}: {a} vs {b}");
        }
        // Dequantized rows round-trip.
        let mut row = vec![0.0; k];
        q.row_to_f32(3, &mut row);
        for (a, b) in row.iter().zip(&w[3 * k..4 * k]) {
            assert!((a - b).abs() < 0.1, "{dtype:?} row: {a} vs {b}");
        }
    }

    #[test]
    fn quantized_products_match_a_naive_product() {
        check::<f32>(GgmlDType::F32, 1e-3);
        check::<BlockQ8_0>(GgmlDType::Q8_0, 0.3);
        check::<BlockQ4_1>(GgmlDType::Q4_1, 1.5);
        check::<BlockQ5_0>(GgmlDType::Q5_0, 1.0);
        check::<BlockQ4K>(GgmlDType::Q4K, 1.5);
        check::<BlockQ6K>(GgmlDType::Q6K, 0.5);
    }

    #[test]
    fn a_wrong_size_is_refused() {
        let bytes: Storage = Arc::new(AlignedBytes::copy_of(&[0u8; 100]));
        let err = QMatrix::new(GgmlDType::Q8_0, 2, 32, bytes.clone(), 0, 10)
            .err()
            .unwrap();
        assert!(err.contains("expected 68"), "{err}");
        let err = QMatrix::new(GgmlDType::Q8_0, 2, 33, bytes.clone(), 0, 10)
            .err()
            .unwrap();
        assert!(err.contains("multiple"), "{err}");
        let err = QMatrix::new(GgmlDType::Q8_0, 2, 32, bytes, 40, 68)
            .err()
            .unwrap();
        assert!(err.contains("past the end"), "{err}");
    }
}
