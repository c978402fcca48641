//! The engine's arithmetic: products cut into blocks that run in parallel, and the row loops of
//! the forward and backward passes.
//!
//! Reproducibility: a product's blocks are fixed by its shape, never by the thread count, and every
//! sum over rows (bias and norm gradients, batch statistics) runs in row order on one thread, so a
//! step gives the same bits at any `-t`.

use rayon::prelude::*;

use super::buf::Buf;
use crate::model::cpu::gemm_f32::{product, Mat};

/// Blocks per product: enough for the threads of a small machine, each big enough for the kernel.
const BLOCKS: usize = 8;

/// `dst[m, n] (+)= a · b`, `dst` row-major with rows of `n` values; `a`'s rows are cut into at most
/// [`BLOCKS`] blocks that run in parallel.
pub(crate) fn par_product(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) {
    let (m, n) = (a.row_count(), b.col_count());
    if m == 0 || n == 0 {
        return;
    }
    let block = m.div_ceil(BLOCKS).next_multiple_of(8);
    dst[..m * n]
        .par_chunks_mut(block * n)
        .enumerate()
        .for_each(|(i, d)| {
            let rows = d.len() / n;
            product(d, n, a.rows(i * block, rows), b, accumulate);
        });
}

/// `y[rows, out] = x[rows, in] · wᵀ + bias`, `w` as PyTorch keeps it (`[out, in]`).
pub(crate) fn linear(x: &[f32], w: &[f32], bias: &[f32], input: usize) -> Buf {
    let out = bias.len();
    let rows = x.len() / input;
    let mut y = Buf::zeros(rows * out);
    par_product(
        &mut y,
        Mat::new(x, rows, input, input),
        Mat::new(w, out, input, input).t(),
        false,
    );
    par_rows(&mut y, out, |row| {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    });
    y
}

/// The backward pass of [`linear`]: adds `dyᵀ·x` to `dw` and the column sums of `dy` to `db`, and
/// returns `dx = dy · w` when asked.
pub(crate) fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    want_dx: bool,
) -> Option<Buf> {
    let out = db.len();
    let rows = dy.len() / out;
    let input = x.len() / rows.max(1);
    par_product(
        dw,
        Mat::new(dy, rows, out, out).t(),
        Mat::new(x, rows, input, input),
        true,
    );
    column_sums(dy, db);
    want_dx.then(|| {
        let mut dx = Buf::zeros(rows * input);
        par_product(
            &mut dx,
            Mat::new(dy, rows, out, out),
            Mat::new(w, out, input, input),
            false,
        );
        dx
    })
}

/// `acc[j] += Σ_rows x[row, j]`, in row order.
pub(crate) fn column_sums(x: &[f32], acc: &mut [f32]) {
    for row in x.chunks_exact(acc.len()) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// Rows of `width` values per parallel task of [`par_rows`].
const ROW_CHUNK: usize = 256;

/// `f` on every row of `x` (rows of `width` values), in parallel: for loops where each row's
/// values depend on that row only.
pub(crate) fn par_rows(x: &mut [f32], width: usize, f: impl Fn(&mut [f32]) + Sync) {
    x.par_chunks_mut(ROW_CHUNK * width)
        .for_each(|chunk| chunk.chunks_exact_mut(width).for_each(&f));
}

/// `x ⊙= mask` (an inverted-dropout mask).
pub(crate) fn apply_mask(x: &mut [f32], mask: &[f32]) {
    x.par_chunks_mut(ROW_CHUNK * 64)
        .zip(mask.par_chunks(ROW_CHUNK * 64))
        .for_each(|(x, m)| x.iter_mut().zip(m).for_each(|(v, m)| *v *= m));
}

/// ELU (alpha 1) in place.
pub(crate) fn elu(x: &mut [f32]) {
    x.par_chunks_mut(ROW_CHUNK * 64).for_each(|c| {
        for v in c {
            if *v <= 0.0 {
                *v = v.exp_m1();
            }
        }
    });
}

/// `dy ⊙ elu'` from ELU's output `y`: 1 where y > 0, else y + 1 (= exp of the input).
pub(crate) fn elu_backward(dy: &mut [f32], y: &[f32]) {
    dy.par_chunks_mut(ROW_CHUNK * 64)
        .zip(y.par_chunks(ROW_CHUNK * 64))
        .for_each(|(d, y)| {
            for (d, &y) in d.iter_mut().zip(y) {
                if y <= 0.0 {
                    *d *= y + 1.0;
                }
            }
        });
}

/// `dy` zeroed where the ReLU's output (or input) `y` is not positive.
pub(crate) fn relu_backward(dy: &mut [f32], y: &[f32]) {
    dy.par_chunks_mut(ROW_CHUNK * 64)
        .zip(y.par_chunks(ROW_CHUNK * 64))
        .for_each(|(d, y)| {
            for (d, &y) in d.iter_mut().zip(y) {
                if y <= 0.0 {
                    *d = 0.0;
                }
            }
        });
}

/// Softmax's backward pass for one row: `dp` becomes `p ⊙ (dp − Σ dp·p)`.
pub(crate) fn softmax_backward(dp: &mut [f32], p: &[f32]) {
    let dot: f32 = dp.iter().zip(p).map(|(d, p)| d * p).sum();
    for (d, p) in dp.iter_mut().zip(p) {
        *d = p * (*d - dot);
    }
}

/// Each window's `[a, b]` matrix of `x` transposed to `[b, a]`: channels-first inputs to
/// time-major rows, a time-major conv map to its channel-major flatten (`view(B, -1)`), and back.
pub(crate) fn transpose_windows(x: &[f32], a: usize, b: usize) -> Buf {
    let mut y = Buf::zeros(x.len());
    y.par_chunks_mut(a * b)
        .zip(x.par_chunks(a * b))
        .for_each(|(y, x)| {
            for i in 0..a {
                for j in 0..b {
                    y[j * a + i] = x[i * b + j];
                }
            }
        });
    y
}
