//! Building blocks of the hand-written CPU paths, with their weights rearranged once at load:
//! `nn.Linear` as a GEMM operand, eval-mode BatchNorm folded to scale/shift, and
//! `BN(ReLU(·)) → Conv1d(k=3, p=1)` as one GEMM over im2col rows. With [`Precision::Bf16`] a layer
//! also keeps its GEMM operand packed in bf16 and multiplies with `gemm_bf16`.

use super::cpu_ops::add_bias;
use super::gemm_bf16::{self, PackedB};
use super::gemm_f32::{matmul, Mat};
use super::weights::Vb;
use super::Precision;
use crate::encode::WINDOW_LEN;

/// PyTorch's BatchNorm eps.
const EPS: f32 = 1e-5;

/// A weight tensor as a flat f32 vector.
pub(crate) fn values(vb: &Vb, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?.flatten_all()?.to_vec1::<f32>()
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
pub(crate) fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// `nn.Linear` as `[in, out]` (the GEMM's right operand) and its bias.
pub(crate) struct Dense {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub input: usize,
    /// `weight` packed for `gemm_bf16`, with [`Precision::Bf16`].
    bf16: Option<PackedB>,
}

impl Dense {
    /// From the weight as `[input, output]` row-major (f32 precision).
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, input: usize) -> Self {
        Self {
            weight,
            bias,
            input,
            bf16: None,
        }
    }

    pub fn load(vb: &Vb, input: usize, output: usize) -> candle_core::Result<Self> {
        let w = values(vb, &[output, input], "weight")?;
        Ok(Self::new(
            transpose(&w, output, input),
            values(vb, &[output], "bias")?,
            input,
        ))
    }

    pub fn output(&self) -> usize {
        self.bias.len()
    }

    /// Packs (or drops) the bf16 copy of the weight that [`Self::apply`] then uses.
    pub fn set_precision(&mut self, precision: Precision) {
        self.bf16 = packed(precision, &self.weight, self.input, self.output());
    }

    /// `out[rows, out] = x[rows, in] · W` (no bias: callers fuse it into the next loop).
    pub fn apply(&self, out: &mut [f32], x: &[f32], rows: usize) {
        let (i, o) = (self.input, self.output());
        match &self.bf16 {
            Some(w) => gemm_bf16::matmul(&mut out[..rows * o], o, x, i, rows, w),
            None => matmul(
                &mut out[..rows * o],
                o,
                Mat::new(x, rows, i, i),
                Mat::new(&self.weight, i, o, o),
            ),
        }
    }
}

/// The bf16 operand of a `[k, n]` weight, with [`Precision::Bf16`].
fn packed(precision: Precision, weight: &[f32], k: usize, n: usize) -> Option<PackedB> {
    match precision {
        Precision::F32 => None,
        Precision::Bf16 => Some(PackedB::new(weight, k, n, n)),
    }
}

/// Eval-mode BatchNorm folded to `x·scale + shift` (as `layers::BatchNorm`).
pub(crate) struct Norm {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl Norm {
    pub fn load(vb: &Vb, c: usize) -> candle_core::Result<Self> {
        let weight = values(vb, &[c], "weight")?;
        let bias = values(vb, &[c], "bias")?;
        let mean = values(vb, &[c], "running_mean")?;
        let var = values(vb, &[c], "running_var")?;
        let scale: Vec<f32> = var
            .iter()
            .zip(&weight)
            .map(|(v, w)| (v + EPS).sqrt().recip() * w)
            .collect();
        let shift = bias
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        Ok(Self { scale, shift })
    }
}

/// `BN(ReLU(x))` then `Conv1d(k=3, p=1)` as one GEMM over im2col rows.
pub(crate) struct NormConv {
    norm: Norm,
    /// `[3·cin, cout]`: row `k·cin + ci` holds `w[:, ci, k]`
    weight: Vec<f32>,
    bias: Vec<f32>,
    pub cin: usize,
    /// `weight` packed for `gemm_bf16`, with [`Precision::Bf16`].
    bf16: Option<PackedB>,
}

impl NormConv {
    pub fn load(norm: &Vb, conv: &Vb, cin: usize, cout: usize) -> candle_core::Result<Self> {
        let w = values(conv, &[cout, cin, 3], "weight")?;
        let mut weight = vec![0.0; 3 * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                for k in 0..3 {
                    weight[(k * cin + ci) * cout + co] = w[(co * cin + ci) * 3 + k];
                }
            }
        }
        Ok(Self {
            norm: Norm::load(norm, cin)?,
            weight,
            bias: values(conv, &[cout], "bias")?,
            cin,
            bf16: None,
        })
    }

    /// Packs (or drops) the bf16 copy of the weight that [`Self::apply`] then uses.
    pub fn set_precision(&mut self, precision: Precision) {
        let (k, n) = (3 * self.cin, self.bias.len());
        self.bf16 = packed(precision, &self.weight, k, n);
    }

    /// `out[rows, cout] = conv(BN(ReLU(x)))` with bias; `x` is `[rows, cin]`, `col` scratch.
    pub fn apply(&self, out: &mut [f32], x: &[f32], rows: usize, col: &mut [f32]) {
        let (cin, cout) = (self.cin, self.bias.len());
        let col = &mut col[..rows * 3 * cin];
        // the middle third of each im2col row is BN(ReLU(x(t)))
        for (c, xr) in col.chunks_exact_mut(3 * cin).zip(x.chunks_exact(cin)) {
            let mid = &mut c[cin..2 * cin];
            for (((m, v), s), h) in mid
                .iter_mut()
                .zip(xr)
                .zip(&self.norm.scale)
                .zip(&self.norm.shift)
            {
                *m = v.max(0.0) * s + h;
            }
        }
        // the neighbours (zero padding at each window's ends)
        for w in col.chunks_exact_mut(WINDOW_LEN * 3 * cin) {
            for t in 0..WINDOW_LEN {
                let row = t * 3 * cin;
                if t == 0 {
                    w[row..row + cin].fill(0.0);
                } else {
                    w.copy_within(row - 2 * cin..row - cin, row);
                }
                if t + 1 == WINDOW_LEN {
                    w[row + 2 * cin..row + 3 * cin].fill(0.0);
                } else {
                    w.copy_within(row + 4 * cin..row + 5 * cin, row + 2 * cin);
                }
            }
        }
        match &self.bf16 {
            Some(w) => gemm_bf16::matmul(&mut out[..rows * cout], cout, col, 3 * cin, rows, w),
            None => matmul(
                &mut out[..rows * cout],
                cout,
                Mat::new(col, rows, 3 * cin, 3 * cin),
                Mat::new(&self.weight, 3 * cin, cout, cout),
            ),
        }
        add_bias(&mut out[..rows * cout], &self.bias);
    }
}
