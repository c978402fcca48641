//! Building blocks of the hand-written CPU paths, with their weights rearranged once at load:
//! `nn.Linear` as a GEMM operand, eval-mode BatchNorm folded to scale/shift, and
//! `BN(ReLU(·)) → Conv1d(k=3, p=1)` as one GEMM over im2col rows. With [`Precision::Bf16`] a layer
//! also keeps its GEMM operand packed in bf16 and multiplies with `gemm_bf16`.

use super::aligned::padded;
use super::gemm_bf16::{self, PackedB};
use super::gemm_f32::{matmul, Mat};
use super::ops::Then;
use crate::model::nn::weights::Vb;
use crate::model::Precision;
use crate::window::WINDOW_LENGTH;

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
        self.strided(out, self.output(), x, self.input, rows, Then::Store);
    }

    /// `out = x · W`, then `then`, with rows `out_rs` values apart in `out` and `x_rs` in `x`.
    pub fn strided(
        &self,
        out: &mut [f32],
        out_rs: usize,
        x: &[f32],
        x_rs: usize,
        rows: usize,
        then: Then,
    ) {
        let (w, packed) = (&self.weight, self.bf16.as_ref());
        product(out, out_rs, x, x_rs, rows, self.input, w, packed, then);
    }
}

/// The bf16 operand of a `[k, n]` weight, with [`Precision::Bf16`].
fn packed(precision: Precision, weight: &[f32], k: usize, n: usize) -> Option<PackedB> {
    match precision {
        Precision::F32 => None,
        Precision::Bf16 => Some(PackedB::new(weight, k, n, n)),
    }
}

/// `out = a · weight`, then `then`: `a` is `rows` rows of `k` values, `a_rs` apart (under k they
/// overlap: im2col rows read in place), `weight` `[k, n]`, `out` rows `out_rs` apart. With `bf16`
/// (the weight [`packed`]) through `gemm_bf16`, which applies `then` while the output is in the
/// cache; else in f32, `then` in a pass after.
#[allow(clippy::too_many_arguments)]
fn product(
    out: &mut [f32],
    out_rs: usize,
    a: &[f32],
    a_rs: usize,
    rows: usize,
    k: usize,
    weight: &[f32],
    bf16: Option<&PackedB>,
    then: Then,
) {
    if rows == 0 {
        return;
    }
    let n = weight.len() / k;
    match bf16 {
        Some(w) => gemm_bf16::matmul_then(out, out_rs, a, a_rs, rows, w, then),
        None => {
            matmul(
                out,
                out_rs,
                Mat::new(a, rows, k, a_rs),
                Mat::new(weight, k, n, n),
            );
            then.apply(out, out_rs, rows, 0, n);
        }
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

/// A `Conv1d(k=3)` weight `[cout, cin, 3]` as the im2col GEMM operand `[3·cin, cout]`: row
/// `k·cin + ci` holds `w[:, ci, k]`.
fn conv_weight(conv: &Vb, cin: usize, cout: usize) -> candle_core::Result<Vec<f32>> {
    let w = values(conv, &[cout, cin, 3], "weight")?;
    let mut weight = vec![0.0; 3 * cin * cout];
    for co in 0..cout {
        for ci in 0..cin {
            for k in 0..3 {
                weight[(k * cin + ci) * cout + co] = w[(co * cin + ci) * 3 + k];
            }
        }
    }
    Ok(weight)
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
        Ok(Self {
            norm: Norm::load(norm, cin)?,
            weight: conv_weight(conv, cin, cout)?,
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
        for w in col.chunks_exact_mut(WINDOW_LENGTH * 3 * cin) {
            for t in 0..WINDOW_LENGTH {
                let row = t * 3 * cin;
                if t == 0 {
                    w[row..row + cin].fill(0.0);
                } else {
                    w.copy_within(row - 2 * cin..row - cin, row);
                }
                if t + 1 == WINDOW_LENGTH {
                    w[row + 2 * cin..row + 3 * cin].fill(0.0);
                } else {
                    w.copy_within(row + 4 * cin..row + 5 * cin, row + 2 * cin);
                }
            }
        }
        let (out, then) = (&mut out[..rows * cout], Then::Bias(&self.bias));
        let (w, packed) = (&self.weight, self.bf16.as_ref());
        product(out, cout, col, 3 * cin, rows, 3 * cin, w, packed, then);
    }
}

// ---------------------------------------------------------------------------------------------
// The pooled `Encoder` (MFE, Classifier), the transformer layer's weights and the per-thread
// plumbing of the CPU paths. The GEMMs go through `product` like the blocks above; the row-loop
// paths are spelled out.

/// Windows per encoder tile. Always full (padded with zero windows), so that every conv GEMM has the
/// same shape whatever the batch: 110 rows at the Classifier's deepest level (8 × (12 + 2) − 2).
/// 16 measured the same; 8 keeps a tile's buffers (~0.8 MB) well inside the L2 cache.
pub(crate) const ENCODER_TILE: usize = 8;

/// Rows of a tile of windows of `len` positions in the padded layout: each window's rows are framed
/// by one row before and one after (its conv's zero padding, or scratch).
fn padded_rows(len: usize) -> usize {
    ENCODER_TILE * (len + 2)
}

/// `BN(ReLU(x))` then `Conv1d(k=3, p=1)`, over windows of any length (the pooled encoders run at
/// 100, 50, 25 and 12 positions), in the padded layout.
///
/// Why the padded layout: with `BN(ReLU(x))` written between zero rows, the conv's im2col row `t`,
/// `[x(t-1), x(t), x(t+1)]`, is the contiguous slice starting at row `t - 1`, so the GEMM reads the
/// normalised rows in place (row stride `cin`, `3·cin` columns) instead of an im2col copy three times
/// their size. The GEMM also computes the rows that straddle two windows; they land on the frame
/// rows of the output, which nothing reads.
pub(crate) struct EncoderConv {
    norm: Norm,
    /// `[3·cin, cout]`: row `k·cin + ci` holds `w[:, ci, k]`
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
    /// `weight` packed for `gemm_bf16`, with [`Precision::Bf16`].
    bf16: Option<PackedB>,
}

impl EncoderConv {
    pub fn load(norm: &Vb, conv: &Vb, cin: usize, cout: usize) -> candle_core::Result<Self> {
        Ok(Self {
            norm: Norm::load(norm, cin)?,
            weight: conv_weight(conv, cin, cout)?,
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

    /// `out = conv(BN(ReLU(x + x_bias)))` over a tile of windows of `len` positions, without this
    /// conv's bias (the caller adds it in its next pass over `out`); `x` (`cin` channels) and `out`
    /// (`cout`) in the padded layout, `x_bias` the previous conv's bias, `norm` scratch.
    pub fn apply(
        &self,
        out: &mut [f32],
        x: &[f32],
        x_bias: Option<&[f32]>,
        len: usize,
        norm: &mut [f32],
    ) {
        let (cin, cout) = (self.cin, self.bias.len());
        let rows = padded_rows(len);
        let norm = &mut norm[..rows * cin];
        for (n, x) in norm
            .chunks_exact_mut((len + 2) * cin)
            .zip(x.chunks_exact((len + 2) * cin))
        {
            n[..cin].fill(0.0);
            n[(len + 1) * cin..].fill(0.0);
            let inner = cin..(len + 1) * cin;
            let rows = n[inner.clone()]
                .chunks_exact_mut(cin)
                .zip(x[inner].chunks_exact(cin));
            let (scale, shift) = (&self.norm.scale, &self.norm.shift);
            match x_bias {
                Some(bias) => {
                    for (nr, xr) in rows {
                        for ((((m, v), b), s), h) in
                            nr.iter_mut().zip(xr).zip(bias).zip(scale).zip(shift)
                        {
                            *m = (v + b).max(0.0) * s + h;
                        }
                    }
                }
                None => {
                    for (nr, xr) in rows {
                        for (((m, v), s), h) in nr.iter_mut().zip(xr).zip(scale).zip(shift) {
                            *m = v.max(0.0) * s + h;
                        }
                    }
                }
            }
        }
        // GEMM row r (im2col row centred on padded row r + 1) → out row r + 1
        let (out, m) = (&mut out[cout..(rows - 1) * cout], rows - 2);
        let (w, packed) = (&self.weight, self.bf16.as_ref());
        product(out, cout, norm, cin, m, 3 * cin, w, packed, Then::Store);
    }
}

/// `Encoder` (`pool: true`): ReLU → BN → Conv, then per group `n_resnets` ResNets and AvgPool1d(2).
pub(crate) struct PooledEncoder {
    stem: EncoderConv,
    /// Per group, per ResNet: its two `BN(ReLU(·)) → Conv` halves.
    groups: Vec<Vec<(EncoderConv, EncoderConv)>>,
    width: usize,
}

/// Activations of one encoder tile, time-major in the padded layout.
pub(crate) struct EncoderScratch {
    norm: Vec<f32>,
    x: Vec<f32>,
    t: Vec<f32>,
    y: Vec<f32>,
}

impl PooledEncoder {
    pub fn load(vb: &Vb, cfg: &crate::model::config::EncoderConfig) -> candle_core::Result<Self> {
        let (cin, c) = (cfg.in_channels, cfg.width);
        if !cfg.pool || cfg.n_blocks == 0 {
            candle_core::bail!("the CPU path expects a pooled Encoder");
        }
        // the deepest ResNets run at 100 / 2^(n_blocks - 1) positions
        let deepest = padded_rows(WINDOW_LENGTH >> (cfg.n_blocks - 1)) - 2;
        if deepest <= 64 {
            candle_core::bail!("{deepest} conv rows per tile is too few");
        }
        let layers = vb.pp("conv_layers");
        let stem = EncoderConv::load(&layers.pp(1), &layers.pp(2), cin, c)?;
        let mut index = 3;
        let mut groups = Vec::with_capacity(cfg.n_blocks);
        for _ in 0..cfg.n_blocks {
            let mut group = Vec::with_capacity(cfg.n_resnets);
            for _ in 0..cfg.n_resnets {
                let r = layers.pp(index).pp("layers");
                group.push((
                    EncoderConv::load(&r.pp(1), &r.pp(2), c, c)?,
                    EncoderConv::load(&r.pp(4), &r.pp(5), c, c)?,
                ));
                index += 1;
            }
            groups.push(group);
            index += 1; // the AvgPool1d takes an index
        }
        Ok(Self {
            stem,
            groups,
            width: c,
        })
    }

    /// Packs the bf16 operands of the ResNets' convolutions (see [`Precision`]); the stem, which
    /// reads the Structure values, stays f32.
    pub fn set_precision(&mut self, precision: Precision) {
        for (a, b) in self.groups.iter_mut().flatten() {
            a.set_precision(precision);
            b.set_precision(precision);
        }
    }

    /// Input values per window (channels-first `[cin, 100]`).
    pub fn inputs(&self) -> usize {
        self.stem.cin * WINDOW_LENGTH
    }

    /// Positions after the last pooling.
    pub fn out_len(&self) -> usize {
        WINDOW_LENGTH >> self.groups.len()
    }

    /// Values per window of [`forward`](Self::forward)'s output.
    pub fn features(&self) -> usize {
        self.width * self.out_len()
    }

    pub fn scratch(&self) -> EncoderScratch {
        let values = padded_rows(WINDOW_LENGTH) * self.width.max(self.stem.cin);
        EncoderScratch {
            norm: vec![0.0; values],
            x: vec![0.0; values],
            t: vec![0.0; values],
            y: vec![0.0; values],
        }
    }

    /// Up to `ENCODER_TILE` windows: channels-first input `[n, cin, 100]` → `out`, per window the
    /// `[width, out_len]` map flattened channel-major (the original's `view`s read that memory).
    pub fn forward(&self, x: &[f32], out: &mut [f32], s: &mut EncoderScratch) {
        let cin = self.stem.cin;
        let n = x.len() / (cin * WINDOW_LENGTH);
        assert!(n <= ENCODER_TILE, "{n} windows for an encoder tile");
        let c = self.width;
        // channels-first → time-major rows; windows past n are zeros (the tile is always full)
        let per = (WINDOW_LENGTH + 2) * cin;
        s.t[n * per..ENCODER_TILE * per].fill(0.0);
        for (xw, tw) in x
            .chunks_exact(cin * WINDOW_LENGTH)
            .zip(s.t.chunks_exact_mut(per))
        {
            for t in 0..WINDOW_LENGTH {
                for ch in 0..cin {
                    tw[(t + 1) * cin + ch] = xw[ch * WINDOW_LENGTH + t];
                }
            }
        }
        self.stem
            .apply(&mut s.x, &s.t, None, WINDOW_LENGTH, &mut s.norm);
        super::ops::add_bias(&mut s.x[..padded_rows(WINDOW_LENGTH) * c], &self.stem.bias);
        let mut len = WINDOW_LENGTH;
        for (g, group) in self.groups.iter().enumerate() {
            let values = padded_rows(len) * c;
            for (a, b) in group {
                // x + conv_b(BN(ReLU(conv_a(BN(ReLU(x)))))), each bias added in the next pass
                a.apply(&mut s.t, &s.x, None, len, &mut s.norm);
                b.apply(&mut s.y, &s.t, Some(&a.bias), len, &mut s.norm);
                for (xr, yr) in s.x[..values].chunks_exact_mut(c).zip(s.y.chunks_exact(c)) {
                    for ((v, y), bias) in xr.iter_mut().zip(yr).zip(&b.bias) {
                        *v += y + bias;
                    }
                }
            }
            // AvgPool1d(2), floor: (x(2t) + x(2t+1)) / 2; an odd last position is dropped
            let half = len / 2;
            let last = g + 1 == self.groups.len();
            for w in 0..if last { n } else { ENCODER_TILE } {
                for t in 0..half {
                    let a = &s.x[(w * (len + 2) + 2 * t + 1) * c..][..c];
                    let b = &s.x[(w * (len + 2) + 2 * t + 2) * c..][..c];
                    if last {
                        let o = &mut out[w * c * half..(w + 1) * c * half];
                        for (ch, (a, b)) in a.iter().zip(b).enumerate() {
                            o[ch * half + t] = (a + b) * 0.5;
                        }
                    } else {
                        let o = &mut s.t[(w * (half + 2) + t + 1) * c..][..c];
                        for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                            *o = (a + b) * 0.5;
                        }
                    }
                }
            }
            std::mem::swap(&mut s.x, &mut s.t);
            len = half;
        }
    }
}

/// One post-norm `TransformerEncoderLayer`: `in_proj` with its q rows pre-scaled by 1/sqrt(hd).
pub(crate) struct TransformerLayer {
    pub in_proj: Dense,
    pub out_proj: Dense,
    pub linear1: Dense,
    pub linear2: Dense,
    /// LayerNorm (weight, bias)
    pub norm1: (Vec<f32>, Vec<f32>),
    pub norm2: (Vec<f32>, Vec<f32>),
}

impl TransformerLayer {
    pub fn load(
        vb: &Vb,
        cfg: &crate::model::config::TransformerConfig,
    ) -> candle_core::Result<Self> {
        let (e, ff) = (cfg.d_model, cfg.dim_feedforward);
        let attn = vb.pp("self_attn");
        let scale = (1.0 / ((e / cfg.nhead) as f64).sqrt()) as f32;
        let mut w = values(&attn, &[3 * e, e], "in_proj_weight")?;
        let mut bias = values(&attn, &[3 * e], "in_proj_bias")?;
        w[..e * e].iter_mut().for_each(|v| *v *= scale);
        bias[..e].iter_mut().for_each(|v| *v *= scale);
        let norm = |name: &str| -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
            let vb = vb.pp(name);
            Ok((values(&vb, &[e], "weight")?, values(&vb, &[e], "bias")?))
        };
        Ok(Self {
            in_proj: Dense::new(transpose(&w, 3 * e, e), bias, e),
            out_proj: Dense::load(&attn.pp("out_proj"), e, e)?,
            linear1: Dense::load(&vb.pp("linear1"), e, ff)?,
            linear2: Dense::load(&vb.pp("linear2"), ff, e)?,
            norm1: norm("norm1")?,
            norm2: norm("norm2")?,
        })
    }

    /// Values from one row of [`Self::qkv`]'s output to the next.
    pub fn qkv_stride(&self) -> usize {
        padded(self.in_proj.output())
    }

    /// Values from one row of the feed-forward layer's hidden rows to the next (`finish`'s
    /// `hidden` holds `rows` of them).
    pub fn hidden_stride(&self) -> usize {
        padded(self.linear1.output())
    }

    /// `qkv = x · in_proj + bias`: rows `[q | k | v]` [`Self::qkv_stride`] apart, for the caller's
    /// attention.
    pub fn qkv(&self, qkv: &mut [f32], x: &[f32], rows: usize) {
        let (e, bias) = (self.in_proj.input, &self.in_proj.bias);
        let rs = self.qkv_stride();
        self.in_proj.strided(qkv, rs, x, e, rows, Then::Bias(bias));
    }

    /// The rest of the layer after attention, in place on `x`: `x = LN1(x + attn · out_proj)`, then
    /// `x = LN2(x + FFN(x))` (`tmp`, `hidden`: scratch).
    pub fn finish(
        &self,
        x: &mut [f32],
        attn: &[f32],
        tmp: &mut [f32],
        hidden: &mut [f32],
        rows: usize,
    ) {
        use super::ops::residual_layer_norm;
        let e = self.out_proj.output();
        self.out_proj.apply(tmp, attn, rows);
        let (w, b) = (&self.norm1.0, &self.norm1.1);
        residual_layer_norm(&mut x[..rows * e], tmp, &self.out_proj.bias, w, b);
        let rs = self.hidden_stride();
        let relu = Then::BiasRelu(&self.linear1.bias);
        self.linear1.strided(hidden, rs, x, e, rows, relu);
        self.linear2.strided(tmp, e, hidden, rs, rows, Then::Store);
        let (w, b) = (&self.norm2.0, &self.norm2.1);
        residual_layer_norm(&mut x[..rows * e], tmp, &self.linear2.bias, w, b);
    }
}

/// Buffers of finished tasks, for the next call (allocating them per call faults their pages in
/// again).
pub(crate) struct Spare<S>(std::sync::Mutex<Vec<S>>);

impl<S> Default for Spare<S> {
    fn default() -> Self {
        Self(std::sync::Mutex::new(Vec::new()))
    }
}

impl<S> Spare<S> {
    /// Runs `run` on a spare buffer (or on `new()` when none is left), then keeps it for the next.
    pub fn with<R>(&self, new: impl FnOnce() -> S, run: impl FnOnce(&mut S) -> R) -> R {
        let reused = self.0.lock().ok().and_then(|mut s| s.pop());
        let mut s = reused.unwrap_or_else(new);
        let result = run(&mut s);
        if let Ok(mut spare) = self.0.lock() {
            spare.push(s);
        }
        result
    }
}

/// Splits the windows of `x` (`per_window` inputs each) and `out` (`per_out` outputs each) into one
/// run per thread of the rayon pool, a multiple of `align` windows each, and calls `run` on each.
pub(crate) fn par_runs(
    x: &[f32],
    per_window: usize,
    out: &mut [f32],
    per_out: usize,
    align: usize,
    run: impl Fn(&[f32], &mut [f32]) + Sync,
) {
    use rayon::prelude::*;
    let windows = out.len() / per_out;
    let per_task = windows
        .div_ceil(rayon::current_num_threads())
        .next_multiple_of(align)
        .max(align);
    out.par_chunks_mut(per_task * per_out)
        .zip(x.par_chunks(per_task * per_window))
        .for_each(|(out, x)| run(x, out));
}

/// Weights and inputs for the tests of the CPU paths against the candle networks.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use candle_core::{Device, Tensor};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::model::nn::weights::Source;
    use crate::model::{input, specs, Kind};
    use crate::window::WINDOW_LENGTH;

    /// Random weights for every tensor `kind` reads: weights uniform in ±1/sqrt(fan-in) (PyTorch's
    /// default init; larger ones saturate the Classifier's attention softmax, which then amplifies
    /// rounding differences), norm scales and variances in [0.5, 1.5], biases, shifts and means in
    /// ±0.2, the positional table in ±1.
    pub fn random_weights(kind: Kind, seed: u64) -> Source {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tensors = specs(kind)
            .into_iter()
            .filter(|s| s.used)
            .map(|s| {
                let n: usize = s.shape.iter().product();
                let vector = s.shape.len() == 1;
                let (lo, hi) =
                    if s.name.ends_with("running_var") || (vector && s.name.ends_with("weight")) {
                        (0.5, 1.5)
                    } else if vector {
                        (-0.2, 0.2)
                    } else if s.name == "PE.pe" {
                        (-1.0, 1.0)
                    } else {
                        let a = ((n / s.shape[0]) as f32).sqrt().recip();
                        (-a, a)
                    };
                let v: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
                (s.name, Tensor::from_vec(v, s.shape, &Device::Cpu).unwrap())
            })
            .collect();
        Source::Tensors(tensors, Device::Cpu)
    }

    /// `n` random windows (with some N) and structure values in [-1, 1], channels-first
    /// `[n, 5, 100]`.
    pub fn random_input(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let windows: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                (0..WINDOW_LENGTH)
                    .map(|_| b"ACGUACGUACGUN"[rng.random_range(0..13)])
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = windows.iter().map(Vec::as_slice).collect();
        let structure: Vec<f32> = (0..n * WINDOW_LENGTH)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        input::channels_first(&refs, Some(&structure)).unwrap()
    }

    /// A file of `shared/reference/weights/`, when the shared folder is there (under `CI=true` a
    /// missing file fails the test instead).
    pub fn reference_weights(file: &str) -> Option<Vec<u8>> {
        let shared = std::env::var_os("MIRE2E_SHARED").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
            PathBuf::from,
        );
        let path = shared.join("reference/weights").join(file);
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            // CI must not skip: a missing ../shared is a failure there (as tests/support)
            Err(e) if ci => panic!("CI=true but {} is unreadable: {e}", path.display()),
            Err(_) => None,
        }
    }

    /// Largest |a − b| (NaN counts as infinite).
    pub fn worst(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let d = (x - y).abs();
                if d.is_nan() {
                    f32::INFINITY
                } else {
                    d
                }
            })
            .fold(0.0, f32::max)
    }
}
