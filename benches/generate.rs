//! Criterion benchmarks of the inference loop's parts: sampling over a full vocabulary, and
//! (when SmolLM2-135M is in the model cache) one decode step and a 128-token prefill.

use criterion::{criterion_group, criterion_main, Criterion};

use candle_core::{Device, Tensor};
use summarise::engine::{self, device};
use summarise::generate::{Sampler, SamplerConfig};
use summarise::models::{registry, Cache, Registry};

fn sampling(c: &mut Criterion) {
    let vocab = 151_936;
    let values: Vec<f32> = (0..vocab)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
        .collect();
    let logits = Tensor::new(values.as_slice(), &Device::Cpu).unwrap();
    let mut greedy = Sampler::new(SamplerConfig {
        params: registry::Sampling::default(),
        seed: 1,
    });
    c.bench_function("sample_greedy_151936", |b| {
        b.iter(|| greedy.sample(&logits, &[]).unwrap())
    });
    let mut topk = Sampler::new(SamplerConfig {
        params: registry::Sampling {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repeat_penalty: 1.1,
            ..Default::default()
        },
        seed: 1,
    });
    let history: Vec<u32> = (0..64).collect();
    c.bench_function("sample_topk_topp_penalty_151936", |b| {
        b.iter(|| topk.sample(&logits, &history).unwrap())
    });
}

fn model_steps(c: &mut Criterion) {
    let id = "smollm2-135m-instruct";
    let registry = Registry::load().unwrap();
    let entry = registry.require(id).unwrap();
    let cache = Cache::from_env().unwrap();
    let Ok(Some(path)) = cache.checked_path(entry, entry.weights()) else {
        eprintln!("skipping model benchmarks: run `summarise models pull {id}` first");
        return;
    };
    let device = device::open(device::DeviceChoice::Cpu).unwrap();
    let mut model = engine::load_gguf(&path, None, &device).unwrap();
    let prompt: Vec<u32> = (0..128).map(|i| 100 + i).collect();
    c.bench_function("smollm2_prefill_128", |b| {
        b.iter(|| {
            model.lm.reset();
            model.lm.forward(&prompt, 0).unwrap()
        })
    });
    model.lm.reset();
    model.lm.forward(&prompt, 0).unwrap();
    let mut pos = prompt.len();
    c.bench_function("smollm2_decode_step", |b| {
        b.iter(|| {
            // Stay well inside the context: restart after 256 cached positions.
            if pos >= 384 {
                model.lm.reset();
                model.lm.forward(&prompt, 0).unwrap();
                pos = prompt.len();
            }
            let out = model.lm.forward(&[42], pos).unwrap();
            pos += 1;
            out
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = sampling, model_steps
}
criterion_main!(benches);
