//! Every format against candle's dequantization (the layout), its scalar dot product against
//! the dequantized values (the arithmetic), and every SIMD path this CPU runs against the
//! scalar one, on odd shapes: rows not a multiple of the tile, 1 to 9 activation rows.

use candle_core::quantized::k_quants::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0,
};
use candle_core::quantized::{GgmlDType, GgmlType};

use super::act::{quantize_q8, quantize_q8k, Act, Q8K, QK_K};
use super::{ActKind, Format, Isa};
use crate::engine::native::pool::SharedMut;

/// Deterministic values in [-1, 1).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Weights quantized by candle, as the bytes a GGUF file holds, and candle's dequantization.
fn quantized<T: GgmlType>(w: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let mut blocks = vec![T::zeros(); w.len() / T::BLCK_SIZE];
    T::from_float(w, &mut blocks);
    let mut exact = vec![0.0; w.len()];
    T::to_float(&blocks, &mut exact);
    let n = blocks.len() * std::mem::size_of::<T>();
    // SAFETY: the blocks are plain data; reading them as bytes is what a file holds.
    let bytes = unsafe { std::slice::from_raw_parts(blocks.as_ptr() as *const u8, n) }.to_vec();
    (bytes, exact)
}

/// Activations for `fmt`, quantized for `m` rows of `k`, and their dequantized values.
struct Acts {
    q8: Vec<i8>,
    ds: Vec<f32>,
    q8k: Vec<Q8K>,
    values: Vec<f32>,
}

fn acts(fmt: &Format, m: usize, k: usize) -> Acts {
    let x = noise(m * k, 99 + m as u64);
    let (mut q8, mut ds) = (vec![0i8; m * k], vec![0f32; m * k / 16]);
    let mut q8k = vec![Q8K::default(); m * k / QK_K];
    let mut values = vec![0.0; m * k];
    for t in 0..m {
        let row = &x[t * k..(t + 1) * k];
        match fmt.act {
            ActKind::Q8 => {
                let (qs, d) = (
                    &mut q8[t * k..(t + 1) * k],
                    &mut ds[t * k / 16..(t + 1) * k / 16],
                );
                quantize_q8(row, qs, d);
                for i in 0..k {
                    values[t * k + i] = qs[i] as f32 * d[2 * (i / 32)];
                }
            }
            ActKind::Q8K => {
                let blocks = &mut q8k[t * k / QK_K..(t + 1) * k / QK_K];
                quantize_q8k(row, blocks);
                for i in 0..k {
                    let b = &blocks[i / QK_K];
                    values[t * k + i] = b.qs[i % QK_K] as f32 * b.d;
                }
            }
            ActKind::Candle { .. } => unreachable!("not one of ours"),
        }
    }
    Acts {
        q8,
        ds,
        q8k,
        values,
    }
}

fn run(fmt: &Format, w: &[u8], rows: usize, k: usize, m: usize, a: &Acts) -> Vec<f32> {
    let act = Act {
        m,
        k,
        q8: &a.q8,
        ds: &a.ds,
        q8k: &a.q8k,
        raw: &[],
        raw_row: 0,
    };
    let mut out = vec![f32::NAN; m * rows];
    // Two calls over split row ranges, as the thread pool makes them.
    let split = rows / 3;
    // SAFETY: `fmt` was made for an instruction set this CPU runs; `out` holds m x rows.
    unsafe {
        fmt.gemv(w, 0..split, &act, SharedMut(out.as_mut_ptr()), rows);
        fmt.gemv(w, split..rows, &act, SharedMut(out.as_mut_ptr()), rows);
    }
    out
}

fn check<T: GgmlType>(dtype: GgmlDType, ks: &[usize]) {
    let rows = 37;
    for &k in ks {
        let w = noise(rows * k, k as u64);
        let (bytes, exact) = quantized::<T>(&w);
        let scalar = Format::of(dtype, Isa::Scalar).unwrap();
        // The layout: our dequantization is candle's.
        let mut ours = vec![0.0; rows * k];
        let rb = bytes.len() / rows;
        for r in 0..rows {
            scalar.dequantize(&bytes[r * rb..(r + 1) * rb], &mut ours[r * k..(r + 1) * k]);
        }
        for (i, (a, b)) in ours.iter().zip(&exact).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                "{dtype:?} k={k} value {i}: {a} vs candle {b}"
            );
        }
        // Every path dequantizes exactly as the scalar one (prefill multiplies these values).
        for isa in Isa::available() {
            let fmt = Format::of(dtype, isa).unwrap();
            let mut got = vec![0.0; rows * k];
            for r in 0..rows {
                fmt.dequantize(&bytes[r * rb..(r + 1) * rb], &mut got[r * k..(r + 1) * k]);
            }
            assert!(
                got == ours,
                "{dtype:?} {} k={k}: dequantization differs",
                isa.name()
            );
        }
        for m in 1..=9 {
            let a = acts(&scalar, m, k);
            let reference = run(&scalar, &bytes, rows, k, m, &a);
            // The arithmetic: the scalar kernel is the dot product of the dequantized values.
            for t in 0..m {
                for r in 0..rows {
                    let want: f32 = (0..k).map(|i| exact[r * k + i] * a.values[t * k + i]).sum();
                    let got = reference[t * rows + r];
                    assert!(
                        (got - want).abs() <= 1e-3 * (1.0 + want.abs()),
                        "{dtype:?} k={k} m={m} scalar ({t},{r}): {got} vs {want}"
                    );
                }
            }
            for isa in Isa::available() {
                let fmt = Format::of(dtype, isa).unwrap();
                let got = run(&fmt, &bytes, rows, k, m, &a);
                for (i, (g, s)) in got.iter().zip(&reference).enumerate() {
                    assert!(
                        (g - s).abs() <= 1e-4 * (1.0 + s.abs()),
                        "{dtype:?} {} k={k} m={m} out {i}: {g} vs scalar {s}",
                        fmt.isa.name()
                    );
                }
            }
        }
    }
}

#[test]
fn block32_formats_match_candle_and_every_path_matches_scalar() {
    let ks = [32, 96, 416, 896];
    check::<BlockQ4_0>(GgmlDType::Q4_0, &ks);
    check::<BlockQ4_1>(GgmlDType::Q4_1, &ks);
    check::<BlockQ5_0>(GgmlDType::Q5_0, &ks);
    check::<BlockQ5_1>(GgmlDType::Q5_1, &ks);
    check::<BlockQ8_0>(GgmlDType::Q8_0, &ks);
}

#[test]
fn k_formats_match_candle_and_every_path_matches_scalar() {
    let ks = [256, 768, 1536];
    check::<BlockQ4K>(GgmlDType::Q4K, &ks);
    check::<BlockQ5K>(GgmlDType::Q5K, &ks);
    check::<BlockQ6K>(GgmlDType::Q6K, &ks);
}

#[test]
fn extreme_quants_do_not_overflow_the_integer_sums() {
    // Every quant at its largest magnitude, activations at +-127: the 16- and 32-bit partial
    // sums of every path must hold them.
    for (dtype, k) in [
        (GgmlDType::Q5_0, 64),
        (GgmlDType::Q8_0, 64),
        (GgmlDType::Q6K, 256),
    ] {
        let w: Vec<f32> = (0..2 * k)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let bytes = match dtype {
            GgmlDType::Q5_0 => quantized::<BlockQ5_0>(&w).0,
            GgmlDType::Q8_0 => quantized::<BlockQ8_0>(&w).0,
            _ => quantized::<BlockQ6K>(&w).0,
        };
        let scalar = Format::of(dtype, Isa::Scalar).unwrap();
        let mut a = acts(&scalar, 1, k);
        a.q8.iter_mut().for_each(|q| *q = 127);
        a.ds.chunks_exact_mut(2).for_each(|p| {
            p[0] = 1.0;
            p[1] = 127.0 * 32.0;
        });
        for b in a.q8k.iter_mut() {
            b.qs = [-127; QK_K];
            b.bsums = [-127 * 16; 16];
            b.d = 1.0;
        }
        let reference = run(&scalar, &bytes, 2, k, 1, &a);
        for isa in Isa::available() {
            let got = run(&Format::of(dtype, isa).unwrap(), &bytes, 2, k, 1, &a);
            for (g, s) in got.iter().zip(&reference) {
                assert!(
                    (g - s).abs() <= 1e-4 * (1.0 + s.abs()),
                    "{dtype:?} {}: {g} vs {s}",
                    isa.name()
                );
            }
        }
    }
}

#[test]
fn f16_conversion_matches_half_for_every_bit_pattern() {
    for h in 0..=u16::MAX {
        let (got, want) = (super::f16_to_f32(h), half::f16::from_bits(h).to_f32());
        match want.is_nan() {
            true => assert!(got.is_nan(), "{h:#06x}: {got}"),
            false => assert_eq!(got.to_bits(), want.to_bits(), "{h:#06x}: {got} vs {want}"),
        }
    }
}
