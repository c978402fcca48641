//! Row-wise loops of the CPU paths, each fused into one pass over a row so that the activations are
//! read once: bias (+ ReLU / ELU, + BatchNorm), residual + bias + LayerNorm, softmax, dot products.
//! Every value depends only on its own row, so results do not depend on how rows are batched.
//!
//! The loops are written to vectorise (fixed partial sums in [`LANES`] lanes, branch-free exp), and
//! each runs compiled for AVX-512 or AVX2 where the CPU has them ([`wide`]): the same operations in
//! the same order on wider registers, so every CPU gets the same bits.

#[macro_use]
mod wide;

/// PyTorch's LayerNorm eps.
const EPS: f32 = 1e-5;

/// `row += bias` for every row of `x` (rows of `bias.len()` values).
pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
    run_wide!(add_bias_loop(x, bias))
}

#[inline(always)]
fn add_bias_loop(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// What follows a product, per output row: nothing, `+ bias`, or `relu(· + bias)`. The bf16
/// products apply it to a few rows of output at a time, while they are in the cache
/// (`gemm_bf16::matmul_then`), the f32 path in one pass after the product; each value gets the
/// same operations either way, so the bits do not depend on where it runs.
#[derive(Clone, Copy)]
pub(crate) enum Then<'a> {
    Store,
    Bias(&'a [f32]),
    BiasRelu(&'a [f32]),
}

impl Then<'_> {
    /// Applies to `rows` rows of `dst` (row stride `rs`) that hold the output's columns
    /// `first .. first + cols`, in one pass.
    pub fn apply(self, dst: &mut [f32], rs: usize, rows: usize, first: usize, cols: usize) {
        match self {
            Then::Store => {}
            Then::Bias(bias) => run_wide!(strided(dst, rs, rows, bias, first, cols, add_bias_loop)),
            Then::BiasRelu(bias) => {
                run_wide!(strided(dst, rs, rows, bias, first, cols, bias_relu_loop))
            }
        }
    }
}

/// `row_loop` on each of `rows` rows of `dst` (row stride `rs`) with the bias' columns
/// `first .. first + cols` (a fn item: inlined into the caller's wide copy).
#[inline(always)]
fn strided(
    dst: &mut [f32],
    rs: usize,
    rows: usize,
    bias: &[f32],
    first: usize,
    cols: usize,
    row_loop: impl Fn(&mut [f32], &[f32]),
) {
    let bias = &bias[first..][..cols];
    for row in dst.chunks_mut(rs).take(rows) {
        row_loop(&mut row[..cols], bias);
    }
}

#[inline(always)]
fn bias_relu_loop(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

/// `row = elu(row + bias)` (alpha 1), vectorised: ELU as `exp(y) − 1` (candle's formula) with
/// [`exp_nonpositive`] instead of a libm `expm1` call per value.
pub(crate) fn bias_elu(x: &mut [f32], bias: &[f32]) {
    run_wide!(bias_elu_loop(x, bias))
}

#[inline(always)]
fn bias_elu_loop(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = elu(*v + b);
        }
    }
}

/// `row = elu(row + bias)·scale + shift`: ELU as in [`bias_elu`], then an eval-mode BatchNorm
/// (the MLP heads of MFE and Classifier).
pub(crate) fn bias_elu_norm(x: &mut [f32], bias: &[f32], scale: &[f32], shift: &[f32]) {
    run_wide!(bias_elu_norm_loop(x, bias, scale, shift))
}

#[inline(always)]
fn bias_elu_norm_loop(x: &mut [f32], bias: &[f32], scale: &[f32], shift: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (((v, b), s), h) in row.iter_mut().zip(bias).zip(scale).zip(shift) {
            *v = elu(*v + b) * s + h;
        }
    }
}

/// ELU (alpha 1), branch-free: both sides are computed and one selected (NaN stays NaN).
#[inline(always)]
pub(crate) fn elu(y: f32) -> f32 {
    let below = exp_nonpositive(y.min(0.0)) - 1.0;
    if y <= 0.0 {
        below
    } else {
        y
    }
}

/// Partial sums per lane: a fixed summation order that the compiler can vectorise.
const LANES: usize = 8;

/// Sum of `x` in [`LANES`] interleaved partial sums.
#[inline(always)]
fn lane_sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    for (a, v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += v;
    }
    acc.iter().sum()
}

/// `Σ a·b` in [`LANES`] interleaved partial sums (a fixed order, like [`lane_sum`]).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    run_wide!(dot_loop(a, b))
}

#[inline(always)]
fn dot_loop(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, x), y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    for ((s, x), y) in acc.iter_mut().zip(ca.remainder()).zip(cb.remainder()) {
        *s += x * y;
    }
    acc.iter().sum()
}

/// Largest value of `x` (NaN ignored), in [`LANES`] interleaved partial maxima so that it
/// vectorises (a maximum does not depend on the order).
#[inline(always)]
fn lane_max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = if v > *a { v } else { *a };
    }
    acc.into_iter().fold(f32::NEG_INFINITY, f32::max)
}

/// Post-norm residual: `x = LayerNorm(x + y + bias)` per row (rows of `bias.len()` values).
pub(crate) fn residual_layer_norm(
    x: &mut [f32],
    y: &[f32],
    bias: &[f32],
    weight: &[f32],
    shift: &[f32],
) {
    run_wide!(residual_layer_norm_loop(x, y, bias, weight, shift))
}

#[inline(always)]
fn residual_layer_norm_loop(x: &mut [f32], y: &[f32], bias: &[f32], weight: &[f32], shift: &[f32]) {
    let d = bias.len();
    for (row, add) in x.chunks_exact_mut(d).zip(y.chunks_exact(d)) {
        for ((v, a), b) in row.iter_mut().zip(add).zip(bias) {
            *v += a + b;
        }
        let mean = lane_sum(row) / d as f32;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let mut acc = [0.0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v * v;
            }
        }
        for (a, v) in acc.iter_mut().zip(chunks.remainder()) {
            *a += v * v;
        }
        let var = acc.iter().sum::<f32>() / d as f32;
        let inv = 1.0 / (var + EPS).sqrt();
        for ((v, w), s) in row.iter_mut().zip(weight).zip(shift) {
            *v = *v * inv * w + s;
        }
    }
}

/// `exp(x)` for x ≤ 0 (Cephes' expf polynomial, ~1 ulp), branch-free so that loops vectorise.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    let x = x.max(-87.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32; // n as an integer
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    e * f32::from_bits(((k + 127) << 23) as u32)
}

/// Softmax of every row of `x` (rows of `width` values).
pub(crate) fn softmax_rows(x: &mut [f32], width: usize) {
    run_wide!(softmax_rows_loop(x, width))
}

#[inline(always)]
fn softmax_rows_loop(x: &mut [f32], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let max = lane_max(row);
        for v in row.iter_mut() {
            *v = exp_nonpositive(*v - max);
        }
        let inv = 1.0 / lane_sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        residual_layer_norm(&mut x, &[0.0; 4], &[0.0; 4], &[1.0; 4], &[0.5; 4]);
        let mean: f32 = x.iter().sum::<f32>() / 4.0;
        assert!((mean - 0.5).abs() < 1e-6);
        assert!((x[3] - x[0] - 2.0 * 1.5 / 1.25f32.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut x = vec![0.0, 1.0, 2.0, 1000.0, 1000.0, 1000.0];
        softmax_rows(&mut x, 3);
        assert!((x[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((x[3] - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn lane_max_is_the_maximum() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 17) % 23) as f32 - 5.0).collect();
        assert_eq!(lane_max(&x), 17.0);
        assert_eq!(lane_max(&[f32::NAN, -3.0]), -3.0);
        assert_eq!(lane_max(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn exp_is_close() {
        for i in 0..=1740 {
            let x = -(i as f32) * 0.05; // down to -87, where it clamps
            let (got, want) = (exp_nonpositive(x), x.exp());
            assert!(
                (got - want).abs() <= 2e-7 * want + 1e-38,
                "exp({x}): {got} vs {want}"
            );
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!((0.0..2e-38).contains(&exp_nonpositive(-1000.0)));
    }

    #[test]
    fn activations() {
        let mut x = vec![-1.0, 2.0, 9.0, -1.0, 2.0, 9.0];
        Then::BiasRelu(&[7.0, 0.5, 0.5]).apply(&mut x, 3, 2, 1, 2);
        assert_eq!(x, [0.0, 2.5, 9.0, 0.0, 2.5, 9.0]);
        Then::Bias(&[0.5, 0.5]).apply(&mut x, 3, 1, 0, 2);
        assert_eq!(x, [0.5, 3.0, 9.0, 0.0, 2.5, 9.0]);
        let mut x = vec![-1.0, 2.0, -3.0];
        bias_elu(&mut x, &[0.0, 1.0, 0.5]);
        assert_eq!(x[1], 3.0);
        assert!((x[0] - ((-1.0f32).exp() - 1.0)).abs() < 1e-7);
        assert!((x[2] - ((-2.5f32).exp() - 1.0)).abs() < 1e-7);
        assert!(elu(f32::NAN).is_nan() && elu(-200.0) == -1.0 && elu(0.0) == 0.0);
        let mut x = vec![-1.0, 2.0];
        bias_elu_norm(&mut x, &[0.0, 1.0], &[2.0, 0.5], &[1.0, -1.0]);
        assert_eq!(x[1], 0.5);
        assert!((x[0] - (2.0 * ((-1.0f32).exp() - 1.0) + 1.0)).abs() < 1e-6);
    }

    /// The loops compiled for each width this CPU has give the baseline's bits.
    #[test]
    fn every_width_gives_the_same_bits() {
        use wide::Width;
        let values = |n: usize, seed: u32| -> Vec<f32> {
            let mut s = seed;
            (0..n)
                .map(|_| {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 8) as f32 / (1u32 << 24) as f32 * 8.0 - 4.0
                })
                .collect()
        };
        let (rows, d) = (7, 111);
        let (x, y) = (values(rows * d, 1), values(rows * d, 2));
        let (bias, w, h) = (values(d, 3), values(d, 4), values(d, 5));
        let all = |width: Width| -> Vec<Vec<u32>> {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
            let mut out = Vec::new();
            // each loop called by name: through a fn pointer it would not be inlined into the
            // wide copy, and every width would run the baseline's code
            for which in 0..3 {
                let mut v = x.clone();
                run_wide!(width; match which {
                    0 => add_bias_loop(&mut v, &bias),
                    1 => bias_relu_loop(&mut v, &bias),
                    _ => bias_elu_loop(&mut v, &bias),
                });
                out.push(bits(&v));
            }
            let mut v = x.clone();
            run_wide!(width; bias_elu_norm_loop(&mut v, &bias, &w, &h));
            out.push(bits(&v));
            let mut v = x.clone();
            run_wide!(width; residual_layer_norm_loop(&mut v, &y, &bias, &w, &h));
            out.push(bits(&v));
            let mut v = x.clone();
            run_wide!(width; softmax_rows_loop(&mut v, d));
            out.push(bits(&v));
            out.push(bits(&[run_wide!(width; dot_loop(&x, &y))]));
            out
        };
        let base = all(Width::Base);
        for width in [Width::Avx2, Width::Avx512] {
            if width <= wide::width() {
                assert_eq!(all(width), base, "{width:?}");
            } else {
                eprintln!("SKIP: no {width:?} here (or MIRE2E_SIMD caps it)");
            }
        }
    }

    #[test]
    fn dot_sums_every_product() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b = vec![2.0; 19];
        assert_eq!(dot(&a, &b), 2.0 * 171.0);
        assert_eq!(dot(&[], &[]), 0.0);
    }
}
