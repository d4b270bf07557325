//! A decoded token allocates nothing: the engine's buffers are sized when the request is
//! reserved, and the sampler reuses its own. Counted with a global allocator that counts every
//! allocation; this file holds one test so no other test allocates while it counts.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use summarise::engine::native::Decoder;
use summarise::generate::{Sampler, SamplerConfig};
use summarise::models::registry;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations during 48 decode steps with sampling, after a prompt and one warm-up step.
fn allocations_per_decode(id: &str) -> Option<usize> {
    let path = common::model_file(id)?;
    let mut decoder = Decoder::open(&path).unwrap();
    let prompt: Vec<u32> = (0..40).map(|i| 300 + i * 7).collect();
    let steps = 48;
    decoder.reserve(prompt.len() + steps + 1);
    let mut sampler = Sampler::new(SamplerConfig {
        params: registry::Sampling {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
        },
        seed: 5,
    });
    let mut generated = Vec::with_capacity(steps + 1);
    let mut next = sampler
        .sample(decoder.forward(&prompt, 0).unwrap(), &generated)
        .unwrap();
    generated.push(next);
    next = sampler
        .sample(decoder.forward(&[next], prompt.len()).unwrap(), &generated)
        .unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for step in 0..steps {
        generated.push(next);
        let pos = prompt.len() + 1 + step;
        next = sampler
            .sample(decoder.forward(&[next], pos).unwrap(), &generated)
            .unwrap();
    }
    Some(ALLOCATIONS.load(Ordering::Relaxed) - before)
}

#[test]
fn decoding_a_token_allocates_nothing() {
    // SmolLM2 (llama, plain cache) and Gemma 3 (sliding-window ring layers).
    for id in ["smollm2-135m-instruct", "gemma-3-270m"] {
        if let Some(n) = allocations_per_decode(id) {
            eprintln!("{id}: {n} allocations in 48 decoded tokens");
            assert_eq!(n, 0, "{id}: decoding allocated {n} times");
        }
    }
}
