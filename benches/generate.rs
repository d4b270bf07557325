//! Criterion benchmarks of the inference loop's parts: sampling over a full vocabulary, and,
//! for each engine, one decode step and one 512-token prefill of a cached model, and for the
//! native engine a speculative check of 1, 2, 4 and 7 tokens in one pass and a batched step of
//! 1, 2, 4 and 7 sequences (`SUMMARISE_BENCH_MODEL`, default smollm2-135m-instruct; skipped when it is not cached).

use criterion::{criterion_group, criterion_main, Criterion};

use summarise::engine::{self, device, EngineKind};
use summarise::generate::{Sampler, SamplerConfig};
use summarise::models::{registry, Cache, Registry};

fn sampling(c: &mut Criterion) {
    let vocab = 151_936;
    let logits: Vec<f32> = (0..vocab)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
        .collect();
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
    let id = std::env::var("SUMMARISE_BENCH_MODEL").unwrap_or("smollm2-135m-instruct".into());
    let registry = Registry::load().unwrap();
    let entry = registry.require(&id).unwrap();
    let cache = Cache::from_env().unwrap();
    let Ok(Some(path)) = cache.checked_path(entry, entry.weights()) else {
        eprintln!("skipping model benchmarks: run `summarise models pull {id}` first");
        return;
    };
    let device = device::open(device::DeviceChoice::Cpu).unwrap();
    let prompt: Vec<u32> = (0..512).map(|i| 100 + (i * 37) % 20_000).collect();
    for kind in [EngineKind::Native, EngineKind::Candle] {
        let Ok(mut model) = engine::load_gguf(&path, None, &device, kind) else {
            eprintln!("skipping the {kind:?} engine: it cannot load {id}");
            continue;
        };
        let lm = &mut model.lm;
        lm.reserve(1024).unwrap();
        c.bench_function(&format!("{id}/{kind:?}/prefill_512"), |b| {
            b.iter(|| {
                lm.reset();
                lm.forward(&prompt, 0).unwrap()[0]
            })
        });
        // One step after a 128-token prompt; restart before the cache fills.
        lm.reset();
        lm.forward(&prompt[..128], 0).unwrap();
        let mut pos = 128;
        c.bench_function(&format!("{id}/{kind:?}/decode_step"), |b| {
            b.iter(|| {
                if pos >= 1000 {
                    lm.reset();
                    lm.forward(&prompt[..128], 0).unwrap();
                    pos = 128;
                }
                let first = lm.forward(&[42], pos).unwrap()[0];
                pos += 1;
                first
            })
        });
        // A speculative check of n tokens at one position (rewritten each time): its cost
        // against `decode_step`'s says how many kept draft tokens a check must bring to pay.
        if lm.max_verify() > 1 {
            lm.reset();
            lm.forward(&prompt[..128], 0).unwrap();
            let mut picks = Vec::new();
            for n in [1, 2, 4, lm.max_verify()] {
                c.bench_function(&format!("{id}/{kind:?}/check_{n}_tokens"), |b| {
                    b.iter(|| {
                        lm.forward_argmax_each(&prompt[128..128 + n], 128, &mut picks)
                            .unwrap();
                        picks[0]
                    })
                });
            }
        }
        // One step of n sequences, each in its own cache slot after its own 128-token prompt
        // (rewritten each time): against `decode_step` it gives batched decoding's gain.
        if let Some(most) = lm.batch().map(|b| b.max_batch()) {
            lm.reset();
            for slot in 0..most {
                lm.forward(&prompt[slot..slot + 128], 0).unwrap();
                lm.batch().unwrap().adopt(slot, 128).unwrap();
            }
            let batch = lm.batch().unwrap();
            for n in [1, 2, 4, most] {
                let slots: Vec<usize> = (0..n).collect();
                let at = vec![128; n];
                c.bench_function(&format!("{id}/{kind:?}/batch_{n}_sequences"), |b| {
                    b.iter(|| batch.forward(&slots, &prompt[200..200 + n], &at).unwrap()[0])
                });
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = sampling, model_steps
}
criterion_main!(benches);
