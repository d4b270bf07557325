//! One quantized product set up for timing on its own: pseudo-random weights quantized into a
//! format, activations quantized once, and the kernel of one instruction set over all rows on
//! the calling thread. For `benches/kernels.rs` and `summarise bench --kernels`.

use candle_core::quantized::k_quants::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0,
};
use candle_core::quantized::{GgmlDType, GgmlType};

use super::act::{quantize_q8, quantize_q8k, Act, Q8K, QK_K};
use super::{ActKind, Format, Isa};
use crate::engine::native::pool::SharedMut;

/// The formats with kernels of our own, as GGUF names them.
pub const FORMATS: &[GgmlDType] = &[
    GgmlDType::Q4_0,
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
    GgmlDType::Q4K,
    GgmlDType::Q5K,
    GgmlDType::Q6K,
];

/// A `rows x k` weight matrix times `m` activation rows.
pub struct KernelBench {
    format: Format,
    rows: usize,
    k: usize,
    m: usize,
    weights: Vec<u8>,
    q8: Vec<i8>,
    ds: Vec<f32>,
    q8k: Vec<Q8K>,
    out: Vec<f32>,
}

fn quantized<T: GgmlType>(w: &[f32]) -> Vec<u8> {
    let mut blocks = vec![T::zeros(); w.len() / T::BLCK_SIZE];
    T::from_float(w, &mut blocks);
    let n = blocks.len() * std::mem::size_of::<T>();
    // SAFETY: the blocks are plain data; their bytes are what a GGUF file holds.
    unsafe { std::slice::from_raw_parts(blocks.as_ptr() as *const u8, n) }.to_vec()
}

impl KernelBench {
    /// The product for `dtype` on `isa`; `None` when the format is not one of ours, the CPU
    /// cannot run `isa`, or `k` is not a whole number of blocks.
    pub fn new(dtype: GgmlDType, isa: Isa, rows: usize, k: usize, m: usize) -> Option<Self> {
        if !FORMATS.contains(&dtype) || !isa.runs_here() || !k.is_multiple_of(dtype.block_size()) {
            return None;
        }
        let format = Format::of(dtype, isa)?;
        let w: Vec<f32> = (0..rows * k)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 2001) as f32 / 1000.0 - 1.0)
            .collect();
        let weights = match dtype {
            GgmlDType::Q4_0 => quantized::<BlockQ4_0>(&w),
            GgmlDType::Q4_1 => quantized::<BlockQ4_1>(&w),
            GgmlDType::Q5_0 => quantized::<BlockQ5_0>(&w),
            GgmlDType::Q5_1 => quantized::<BlockQ5_1>(&w),
            GgmlDType::Q8_0 => quantized::<BlockQ8_0>(&w),
            GgmlDType::Q4K => quantized::<BlockQ4K>(&w),
            GgmlDType::Q5K => quantized::<BlockQ5K>(&w),
            _ => quantized::<BlockQ6K>(&w),
        };
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 997) as f32 / 500.0 - 1.0)
            .collect();
        let (mut q8, mut ds, mut q8k) = (Vec::new(), Vec::new(), Vec::new());
        match format.act {
            ActKind::Q8 => {
                q8 = vec![0; m * k];
                ds = vec![0.0; m * k / 16];
                for t in 0..m {
                    quantize_q8(
                        &x[t * k..(t + 1) * k],
                        &mut q8[t * k..(t + 1) * k],
                        &mut ds[t * k / 16..(t + 1) * k / 16],
                    );
                }
            }
            _ => {
                q8k = vec![Q8K::default(); m * k / QK_K];
                for t in 0..m {
                    let kb = k / QK_K;
                    quantize_q8k(&x[t * k..(t + 1) * k], &mut q8k[t * kb..(t + 1) * kb]);
                }
            }
        }
        Some(KernelBench {
            format,
            rows,
            k,
            m,
            weights,
            q8,
            ds,
            q8k,
            out: vec![0.0; m * rows],
        })
    }

    /// Bytes of the weight matrix (read once per run).
    pub fn weight_bytes(&self) -> usize {
        self.weights.len()
    }

    /// Multiply-adds per run, times two: the floating-point operations of an f32 product.
    pub fn flops(&self) -> usize {
        2 * self.rows * self.k * self.m
    }

    /// The instruction set the kernel really uses (the scalar code where a format has no
    /// SIMD kernel for the one asked for).
    pub fn isa(&self) -> Isa {
        self.format.isa
    }

    /// One product over every row; returns one output so the work cannot be optimised away.
    pub fn run(&mut self) -> f32 {
        let act = Act {
            m: self.m,
            k: self.k,
            q8: &self.q8,
            ds: &self.ds,
            q8k: &self.q8k,
            raw: &[],
            raw_row: 0,
        };
        // SAFETY: `new` checked that this CPU runs the format's instruction set; `out` holds
        // m x rows and only this thread writes it.
        unsafe {
            self.format.gemv(
                &self.weights,
                0..self.rows,
                &act,
                SharedMut(self.out.as_mut_ptr()),
                self.rows,
            )
        };
        self.out[self.out.len() / 2]
    }
}
