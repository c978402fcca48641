//! Activation buffers that go back to a pool when dropped, for the next step.
//!
//! Why: a step allocates and frees a few hundred MB of activations. Freed to the allocator, they
//! go back to the OS, and the next step faults every page in again and the kernel zeroes it: a
//! third of a step's time before the pool. Reused, a buffer costs one pass of zeroes at most.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// Buffers kept for reuse (the largest step's working set is a few dozen of them).
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
/// At most this many buffers wait in the pool.
const KEEP: usize = 256;
/// Smaller buffers are left to the allocator.
const MIN_LEN: usize = 1 << 12;

/// An f32 buffer from the pool.
#[derive(Default)]
pub(crate) struct Buf(Vec<f32>);

impl Buf {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let mut v = take(len);
        v.resize(len, 0.0);
        Self(v)
    }

    /// A copy of `x`.
    pub fn copy(x: &[f32]) -> Self {
        let mut v = take(x.len());
        v.extend_from_slice(x);
        Self(v)
    }
}

/// An empty vector with room for `len` values: the smallest pooled one that fits.
fn take(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        if let Ok(mut pool) = POOL.lock() {
            let best = pool
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .map(|(i, _)| i);
            if let Some(i) = best {
                let mut v = pool.swap_remove(i);
                v.clear();
                return v;
            }
        }
    }
    Vec::with_capacity(len)
}

impl Drop for Buf {
    fn drop(&mut self) {
        if self.0.capacity() < MIN_LEN {
            return;
        }
        if let Ok(mut pool) = POOL.lock() {
            if pool.len() < KEEP {
                pool.push(std::mem::take(&mut self.0));
            }
        }
    }
}

impl Clone for Buf {
    fn clone(&self) -> Self {
        Self::copy(self)
    }
}

impl Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}
