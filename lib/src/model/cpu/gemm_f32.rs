//! Safe f32 matrix multiply over slices, for the hand-written CPU paths (`cpu::structure`).
//!
//! The `gemm` crate (candle's own CPU matmul) takes raw pointers and strides; this is the one place
//! that calls it. Every call is single-threaded (callers parallelise across windows) and never reads
//! the destination, so a result depends only on the operands and the call's shape.
//!
//! Determinism: gemm sums each output element over k in a fixed order (FMA chains in blocks of `kc`).
//! `kc` depends on k (and the CPU's caches), not on m, except for calls with m ≤ 64 and n ≤ 64; tiny
//! calls (m·n ≤ 256, or one row or column) take gemv/"horizontal" kernels with another order.
//! [`matmul`] refuses those shapes, so a row's values never depend on how many rows share the call.
#![allow(unsafe_code)] // the gemm crate's API is unsafe; the checks below make each call sound

use gemm::{gemm, Parallelism};

/// A read-only matrix of `rows × cols` inside `data`: element (i, j) is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major `rows × cols` with row stride `rs` (≥ cols), starting at `data[0]`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Rows `start..start + len` of this view (no copy).
    pub fn rows(self, start: usize, len: usize) -> Self {
        Self {
            data: &self.data[(start * self.rs).min(self.data.len())..],
            rows: len,
            ..self
        }
    }

    pub fn row_count(&self) -> usize {
        self.rows
    }

    pub fn col_count(&self) -> usize {
        self.cols
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Smallest m·n for which gemm takes its general (blocked) kernels, whatever the shape.
const MIN_ELEMENTS: usize = 16 * 16 + 1;

/// Fewest rows [`matmul`] takes: above 64 rows gemm's kernels do not depend on the row count, so
/// callers pad smaller calls with zero rows to this.
pub(crate) const MIN_ROWS: usize = 65;

/// `dst = a · b`, with `dst` row-major (row stride `dst_rs`, rows of `b.cols` values).
///
/// Panics when a matrix does not fit its slice, the shapes disagree, or the call is one of the
/// small shapes that gemm computes in another summation order (see the module docs).
pub(crate) fn matmul(dst: &mut [f32], dst_rs: usize, a: Mat, b: Mat) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        m >= MIN_ROWS && n > 1 && k > 2 && m * n >= MIN_ELEMENTS,
        "shape {m}×{k}×{n} takes a shape-dependent gemm kernel"
    );
    product(dst, dst_rs, a, b, false);
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`) for any shape: the summation order depends
/// on the call's shape, so callers that need reproducible values keep their shapes fixed (the
/// training engine cuts its products into blocks that do not depend on the thread count).
///
/// Panics when a matrix does not fit its slice or the shapes disagree.
pub(crate) fn product(dst: &mut [f32], dst_rs: usize, a: Mat, b: Mat, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions differ");
    assert!(a.fits() && b.fits(), "operand outside its slice");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "destination too small"
    );
    // SAFETY: the asserts keep every element gemm reads (a, b: (i, j) at i·rs + j·cs) and writes
    // (dst: (i, j) at i·dst_rs + j) inside its slice; `dst` is a unique borrow, so it aliases
    // neither operand; read_dst (`accumulate`) reads its old contents only inside the
    // same slice; Parallelism::None runs on this thread only.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn multiplies_strided_views() {
        let (m, k, n) = (100, 37, 20);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let want = naive(&a, &b, m, k, n);
        // b given transposed ([n, k] row-major) and read through a transposed view
        let mut bt = vec![0.0; n * k];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = b[p * n + j];
            }
        }
        let mut dst = vec![0.0; m * (n + 3)];
        matmul(
            &mut dst,
            n + 3,
            Mat::new(&a, m, k, k),
            Mat::new(&bt, n, k, k).t(),
        );
        for i in 0..m {
            for j in 0..n {
                assert!((dst[i * (n + 3) + j] - want[i * n + j]).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_row_count() {
        let (k, n) = (222, 111);
        let a = values(800 * k, 3);
        let b = values(k * n, 4);
        let mut all = vec![0.0; 800 * n];
        matmul(&mut all, n, Mat::new(&a, 800, k, k), Mat::new(&b, k, n, n));
        for (start, rows) in [(0, 100), (300, 100), (100, 500), (700, 100)] {
            let mut part = vec![0.0; rows * n];
            let a = &a[start * k..(start + rows) * k];
            matmul(&mut part, n, Mat::new(a, rows, k, k), Mat::new(&b, k, n, n));
            let same = part
                .iter()
                .zip(&all[start * n..])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "rows {start}..{} differ", start + rows);
        }
    }

    #[test]
    #[should_panic(expected = "shape-dependent")]
    fn refuses_single_rows() {
        let a = [1.0; 4];
        let mut dst = [0.0; 4];
        matmul(
            &mut dst,
            4,
            Mat::new(&a, 1, 4, 4),
            Mat::new(&[1.0; 16], 4, 4, 4),
        );
    }
}
