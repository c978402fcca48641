//! Row-wise loops of the CPU paths, each fused into one pass over a row so that the activations are
//! read once: bias (+ ReLU / ELU), residual + bias + LayerNorm, softmax. Every value depends only on
//! its own row, so results do not depend on how rows are batched.

/// PyTorch's LayerNorm eps.
const EPS: f32 = 1e-5;

/// `row += bias` for every row of `x` (rows of `bias.len()` values).
pub(crate) fn add_bias(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `row = relu(row + bias)`.
pub(crate) fn bias_relu(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
}

/// `row = elu(row + bias)` (alpha 1).
pub(crate) fn bias_elu(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let y = *v + b;
            *v = if y > 0.0 { y } else { y.exp_m1() };
        }
    }
}

/// Post-norm residual: `x = LayerNorm(x + y + bias)` per row (rows of `bias.len()` values).
pub(crate) fn residual_layer_norm(
    x: &mut [f32],
    y: &[f32],
    bias: &[f32],
    weight: &[f32],
    shift: &[f32],
) {
    let d = bias.len();
    for (row, add) in x.chunks_exact_mut(d).zip(y.chunks_exact(d)) {
        let mut sum = 0.0f32;
        for ((v, a), b) in row.iter_mut().zip(add).zip(bias) {
            *v += a + b;
            sum += *v;
        }
        let mean = sum / d as f32;
        let mut var = 0.0f32;
        for v in row.iter_mut() {
            *v -= mean;
            var += *v * *v;
        }
        let inv = 1.0 / (var / d as f32 + EPS).sqrt();
        for ((v, w), s) in row.iter_mut().zip(weight).zip(shift) {
            *v = *v * inv * w + s;
        }
    }
}

/// Softmax of every row of `x` (rows of `width` values).
pub(crate) fn softmax_rows(x: &mut [f32], width: usize) {
    for row in x.chunks_exact_mut(width) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
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
    fn activations() {
        let mut x = vec![-1.0, 2.0];
        bias_relu(&mut x, &[0.5, 0.5]);
        assert_eq!(x, [0.0, 2.5]);
        let mut x = vec![-1.0, 2.0];
        bias_elu(&mut x, &[0.0, 1.0]);
        assert_eq!(x[1], 3.0);
        assert!((x[0] - ((-1.0f32).exp() - 1.0)).abs() < 1e-7);
    }
}
