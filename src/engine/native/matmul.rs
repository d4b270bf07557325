//! Quantized matrix products straight from the mapped GGUF blocks: activations are quantized
//! once per call (shared by the fused Q/K/V or gate/up products), then each thread takes
//! groups of weight rows and runs the format's kernel (`quants/`) on them.

use std::sync::Arc;

use candle_core::quantized::GgmlDType;

use super::gemm;
use super::pool::{chunk_for, for_each_chunk, SharedMut};
use super::quants::panel::{self, Kind, Unpacked};
use super::quants::{quantize_q8, quantize_q8k, Act, ActKind, Format, Isa, Q8K, QK_K};

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
    pub format: Format,
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
        let format = Format::of(dtype, Isa::current())
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
        let kquant = panel::kind_of(dtype).filter(|_| panel::fast());
        Ok(QMatrix {
            kquant,
            rows,
            cols,
            format,
            storage,
            offset,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        &(*self.storage).as_ref()[self.offset..self.offset + self.len]
    }

    /// Bytes of the quantized matrix in the file.
    pub(crate) fn byte_len(&self) -> usize {
        self.len
    }

    pub(crate) fn row_bytes(&self) -> usize {
        self.len / self.rows
    }

    /// Dequantize row `r` (an embedding lookup) into `out`.
    pub(crate) fn row_to_f32(&self, r: usize, out: &mut [f32]) {
        let rb = self.row_bytes();
        self.format
            .dequantize(&self.bytes()[r * rb..(r + 1) * rb], &mut out[..self.cols]);
    }
}

/// Reusable buffers for quantized activations, one per activation form, so the Q, K and V
/// products (or gate and up) quantize their shared input once.
#[derive(Default)]
pub(crate) struct ActBuffers {
    q8: Vec<i8>,
    ds: Vec<f32>,
    q8k: Vec<Q8K>,
    /// Candle's activation blocks, for the formats without kernels of our own.
    raw: Vec<u64>,
    /// Per-thread panels of dequantized weight rows for the prefill product.
    panels: Vec<f32>,
    panel_len: usize,
    /// Per-thread panels of unpacked K-quant rows.
    unpacked: Vec<Unpacked>,
    unpacked_len: usize,
}

impl ActBuffers {
    /// Room for each thread's panel of `PANEL_ROWS x max_cols` weights and the panel
    /// product's scratch; sized once per request.
    pub(crate) fn reserve_panels(&mut self, max_cols: usize) {
        self.panel_len = panel_floats(max_cols);
        let want = super::pool::n_threads() * self.panel_len;
        if self.panels.len() < want {
            self.panels = vec![0.0; want];
        }
        self.unpacked_len = PANEL_ROWS * max_cols.div_ceil(QK_K);
        let want = super::pool::n_threads() * self.unpacked_len;
        if self.unpacked.len() < want {
            self.unpacked = vec![Unpacked::default(); want];
        }
    }
}

fn grow<T: Clone + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
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

/// Floats of one thread's panel buffer for rows of `k`: the dequantized rows, then the
/// product's scratch.
fn panel_floats(k: usize) -> usize {
    PANEL_ROWS * k + gemm::scratch_len(PANEL_ROWS, k)
}

/// Multiply the `m x k` activations `x` by each weight, in one parallel pass.
pub(crate) fn matmul(x: &[f32], m: usize, products: &mut [Product<'_>], bufs: &mut ActBuffers) {
    let k = products[0].w.cols;
    debug_assert!(products.iter().all(|p| p.w.cols == k));
    debug_assert_eq!(x.len(), m * k);
    if m >= PANEL_MIN_TOKENS && bufs.panel_len >= panel_floats(k) {
        return panel_matmul(x, m, k, products, bufs);
    }
    // Candle's formats each take their own activation type: at most one per call.
    let candle: Vec<GgmlDType> = products
        .iter()
        .filter_map(|p| match p.w.format.act {
            ActKind::Candle { dtype, .. } => Some(dtype),
            _ => None,
        })
        .collect();
    if candle.windows(2).any(|w| w[0] != w[1]) {
        for p in products.iter_mut() {
            matmul(x, m, std::slice::from_mut(p), bufs);
        }
        return;
    }
    let act = quantize(x, m, k, products, bufs);
    let groups = RowGroups::new(products, 16);
    let total = groups.total();
    let jobs: [Option<(&QMatrix, SharedMut<f32>)>; 3] = std::array::from_fn(|i| {
        products
            .get(i)
            .map(|p| (p.w, SharedMut(p.out.as_ptr() as *mut f32)))
    });
    for_each_chunk(total, chunk_for(total, 4), |_, items| {
        for item in items {
            let (j, r0, n) = groups.locate(item);
            let (w, out) = jobs[j].expect("job exists");
            // SAFETY: the format's kernels were chosen for an instruction set this CPU runs;
            // each item owns rows r0..r0+n of its product's output, for every token.
            unsafe { w.format.gemv(w.bytes(), r0..r0 + n, &act, out, w.rows) };
        }
    });
}

/// Quantize the `m x k` input once into every form the products need.
fn quantize<'b>(
    x: &[f32],
    m: usize,
    k: usize,
    products: &[Product<'_>],
    bufs: &'b mut ActBuffers,
) -> Act<'b> {
    let (mut q8, mut q8k, mut candle) = (false, false, None);
    for p in products {
        match p.w.format.act {
            ActKind::Q8 => q8 = true,
            ActKind::Q8K => q8k = true,
            ActKind::Candle {
                row_bytes,
                quantize,
                ..
            } => candle = Some((row_bytes(k), quantize)),
        }
    }
    let rows = |f: &(dyn Fn(usize) + Sync)| match m < 4 {
        true => (0..m).for_each(f),
        false => for_each_chunk(m, chunk_for(m, 2), |_, ts| ts.for_each(f)),
    };
    if q8 {
        grow(&mut bufs.q8, m * k);
        grow(&mut bufs.ds, m * k / 16);
        let (qs, ds) = (
            SharedMut(bufs.q8.as_mut_ptr()),
            SharedMut(bufs.ds.as_mut_ptr()),
        );
        rows(&|t| {
            // SAFETY: each token's part of the buffers is written by the one call that owns it.
            let (qs, ds) = unsafe { (qs.slice(t * k, k), ds.slice(t * k / 16, k / 16)) };
            quantize_q8(&x[t * k..(t + 1) * k], qs, ds);
        });
    }
    if q8k {
        let kb = k / QK_K;
        grow(&mut bufs.q8k, m * kb);
        let out = SharedMut(bufs.q8k.as_mut_ptr());
        rows(&|t| {
            // SAFETY: as above.
            quantize_q8k(&x[t * k..(t + 1) * k], unsafe { out.slice(t * kb, kb) });
        });
    }
    let mut raw_row = 0;
    if let Some((row_bytes, quantize)) = candle {
        raw_row = row_bytes;
        grow(&mut bufs.raw, (m * row_bytes).div_ceil(8));
        let out = SharedMut(bufs.raw.as_mut_ptr() as *mut u8);
        rows(&|t| {
            // SAFETY: as above; the u64 buffer holds at least m * row_bytes bytes.
            quantize(&x[t * k..(t + 1) * k], unsafe {
                out.slice(t * row_bytes, row_bytes)
            });
        });
    }
    let raw = &bufs.raw[..(m * raw_row).div_ceil(8)];
    Act {
        m,
        k,
        q8: &bufs.q8[..if q8 { m * k } else { 0 }],
        ds: &bufs.ds[..if q8 { m * k / 16 } else { 0 }],
        q8k: &bufs.q8k[..if q8k { m * (k / QK_K) } else { 0 }],
        // SAFETY: a u64 buffer viewed as the bytes it holds.
        raw: unsafe { std::slice::from_raw_parts(raw.as_ptr() as *const u8, m * raw_row) },
        raw_row,
    }
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
    let kb = k / QK_K;
    let int_path = k.is_multiple_of(QK_K) && products.iter().any(|p| p.w.kquant.is_some());
    if int_path {
        grow(&mut bufs.q8k, m * kb);
        let q8k = SharedMut(bufs.q8k.as_mut_ptr());
        for_each_chunk(m, chunk_for(m, 2), |_, rows| {
            for t in rows {
                // SAFETY: each token's blocks are written by the one item that owns it.
                quantize_q8k(&x[t * k..(t + 1) * k], unsafe { q8k.slice(t * kb, kb) });
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
            let (rows, scratch) = panel.split_at_mut(PANEL_ROWS * k);
            for r in 0..n {
                w.row_to_f32(r0 + r, &mut rows[r * k..(r + 1) * k]);
            }
            // out[t, r0 + c] = sum_i x[t, i] * rows[c, i]. SAFETY: the item owns output
            // columns r0..r0+n of every token row, which hold `w.rows` values.
            unsafe {
                let out = SharedMut(out.0.add(r0));
                gemm::panel_product(x, m, k, rows, n, scratch, out, w.rows);
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
    let kb = k / QK_K;
    let (rb, bb) = (w.row_bytes(), kind.block_bytes());
    let bytes = w.bytes();
    for r in 0..n {
        let row = &bytes[(r0 + r) * rb..(r0 + r + 1) * rb];
        for b in 0..kb {
            panel::unpack(kind, &row[b * bb..(b + 1) * bb], &mut upanel[r * kb + b]);
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
            panel::dot_x4(&upanel[r * kb..(r + 1) * kb], xs, nt, &mut dots);
            for (i, &d) in dots[..nt].iter().enumerate() {
                // SAFETY: the item owns output columns r0..r0+n of every token row.
                unsafe { *out.0.add((t + i) * w.rows + r0 + r) = d };
            }
        }
        t += nt;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::k_quants::{BlockQ4K, BlockQ4_1, BlockQ5_0, BlockQ6K, BlockQ8_0};
    use candle_core::quantized::GgmlType;

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
