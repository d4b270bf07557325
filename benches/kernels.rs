//! Criterion benchmarks of the quantized kernels, one thread: every format with kernels of our
//! own, on every instruction set this CPU runs, as a decode step sees them (one activation
//! row; throughput in weight bytes per second) and as a prefill chunk or a batch does (64 and
//! 4 rows; throughput in multiply-add pairs, i.e. f32-equivalent FLOP per second).
//!
//! `cargo bench --bench kernels` (add `-- Q8_0` to pick). The shape is the 1.5B model's
//! feed-forward input, 8960 x 1536, a 13.8M-weight matrix; `KERNEL_SHAPE=ROWSxK` picks
//! another (Gemma's output matrix, the largest a decode step reads: `KERNEL_SHAPE=262144x640`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use summarise::engine::native::quants::{Isa, KernelBench, FORMATS};

fn kernels(c: &mut Criterion) {
    let (rows, k) = std::env::var("KERNEL_SHAPE")
        .ok()
        .and_then(|s| {
            let (r, k) = s.split_once('x')?;
            Some((r.trim().parse().ok()?, k.trim().parse().ok()?))
        })
        .unwrap_or((8960, 1536));
    for &dtype in FORMATS {
        for isa in Isa::available() {
            for m in [1, 4, 64] {
                let Some(mut bench) = KernelBench::new(dtype, isa, rows, k, m) else {
                    continue;
                };
                if bench.isa() != isa {
                    continue; // no kernel of its own for this set: the scalar one is timed.
                }
                let mut group = c.benchmark_group(format!("{dtype:?}/m{m}"));
                group.sample_size(10);
                group.throughput(match m {
                    1 => Throughput::Bytes(bench.weight_bytes() as u64),
                    _ => Throughput::Elements(bench.flops() as u64),
                });
                group.bench_function(BenchmarkId::from_parameter(isa.name()), |b| {
                    b.iter(|| bench.run())
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
