//! Activation buffers that start on a cache line, and the row strides that keep every row there.
//!
//! Why: the AMX kernels store each output tile row as one 64-byte write. A row that straddles two
//! cache lines made `gemm_bf16` 1.2–1.6× slower on the Structure shapes (400 rows × 222 × 666 with
//! its bias, 400 × 222 × 888 with bias and ReLU; Intel Xeon with AMX, 1 thread), so the layers
//! write their widest outputs with a [`padded`] row stride into [`Aligned`] buffers.

use std::ops::{Deref, DerefMut};

/// f32 values per cache line.
const LINE: usize = 16;

/// A row stride of whole cache lines for rows of `width` values (columns past `width` are unused).
pub(crate) fn padded(width: usize) -> usize {
    width.next_multiple_of(LINE)
}

/// `len` zeroed f32 values whose first one starts a cache line.
pub(crate) struct Aligned {
    values: Vec<f32>,
    start: usize,
    len: usize,
}

impl Aligned {
    pub fn zeros(len: usize) -> Self {
        let values = vec![0.0; len + LINE - 1];
        // an offset the allocation cannot give (never, for f32) leaves the buffer unaligned: slower,
        // same values
        let start = Some(values.as_ptr().align_offset(LINE * 4)).filter(|&s| s < LINE);
        Self {
            values,
            start: start.unwrap_or(0),
            len,
        }
    }
}

impl Deref for Aligned {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.values[self.start..self.start + self.len]
    }
}

impl DerefMut for Aligned {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.values[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line() {
        for len in [1, 15, 16, 1000, 400 * 896] {
            let mut a = Aligned::zeros(len);
            assert_eq!(a.len(), len);
            assert_eq!(a.as_ptr() as usize % 64, 0);
            assert!(a.iter().all(|&v| v == 0.0));
            a[len - 1] = 1.0;
        }
        assert_eq!((padded(666), padded(888), padded(192)), (672, 896, 192));
    }
}
