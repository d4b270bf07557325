//! Work splitting over the persistent thread pool: items handed out in chunks from a shared
//! cursor, so a thread slowed by the machine's other load does not hold up the rest.

use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::utils::barrier_pool;

/// Threads that take part in a parallel call (pool workers plus the caller).
pub(crate) fn n_threads() -> usize {
    barrier_pool().n_workers() + 1
}

/// Run `f(thread, range)` over `0..n_items` in chunks of `chunk` items. `thread` is in
/// `0..n_threads()` and is unique among threads running at the same time, so it can index
/// per-thread scratch. Allocates nothing.
pub(crate) fn for_each_chunk<F>(n_items: usize, chunk: usize, f: F)
where
    F: Fn(usize, std::ops::Range<usize>) + Sync,
{
    if n_items == 0 {
        return;
    }
    let chunk = chunk.max(1);
    if n_items <= chunk || n_threads() == 1 {
        f(0, 0..n_items);
        return;
    }
    let cursor = AtomicUsize::new(0);
    barrier_pool().execute(|thread| loop {
        let start = cursor.fetch_add(chunk, Ordering::Relaxed);
        if start >= n_items {
            break;
        }
        f(thread, start..(start + chunk).min(n_items));
    });
}

/// A chunk size that gives each thread about `per_thread` grabs of `n_items`.
pub(crate) fn chunk_for(n_items: usize, per_thread: usize) -> usize {
    n_items.div_ceil(n_threads() * per_thread).max(1)
}

/// A raw pointer that parallel workers may share; each worker writes a disjoint part.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<T>(pub *mut T);

// SAFETY: used only to let pool workers write disjoint elements of one buffer that outlives
// the parallel call; the call sites document why the parts are disjoint.
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The mutable slice `[start, start + len)`.
    ///
    /// # Safety
    /// The range must be in bounds and written by no other thread during the call.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }
}
