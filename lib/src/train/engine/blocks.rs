//! The layers of the three models in train mode, each a forward pass that keeps what its backward
//! pass needs and the backward pass itself: Linear, BatchNorm on batch statistics, the
//! `ReLU → BN → Conv1d(k=3)` unit of the encoders, AvgPool1d(2), the ResNet and the conv
//! `Encoder` (pooled or not), LayerNorm and PyTorch's post-norm `TransformerEncoderLayer` with its
//! four dropouts.
//!
//! Layout: time-major rows (row = window·len + position), channels along the row, as the CPU
//! inference paths. Weights are read in PyTorch's layouts from [`Weights`] by state-dict name and
//! gradients are added to [`Grads`] under the same names.

use candle_core::{Device, Result, Tensor};
use rayon::prelude::*;

use super::buf::Buf;
use super::ops::{
    apply_mask, column_sums, linear, linear_backward, par_product, par_rows, relu_backward,
    softmax_backward,
};
use super::{Grads, Weights};
use crate::model::config::EncoderConfig;
use crate::model::cpu::gemm_f32::{product, Mat};
use crate::model::cpu::ops::softmax_rows;
use crate::model::nn::train_mode::TrainCtx;

/// PyTorch's eps of BatchNorm1d and LayerNorm.
const EPS: f64 = 1e-5;

/// `nn.Linear(input, output)`.
pub(crate) struct Linear<'w> {
    /// State-dict names of the weight and the bias.
    names: (String, String),
    w: &'w [f32],
    b: &'w [f32],
    input: usize,
}

impl<'w> Linear<'w> {
    pub fn load(weights: &'w Weights, name: &str, input: usize, output: usize) -> Result<Self> {
        Self::named(
            weights,
            (format!("{name}.weight"), format!("{name}.bias")),
            input,
            output,
        )
    }

    /// With the weight and bias under these names.
    pub fn named(
        weights: &'w Weights,
        names: (String, String),
        input: usize,
        output: usize,
    ) -> Result<Self> {
        Ok(Self {
            w: weights.get(&names.0, output * input)?,
            b: weights.get(&names.1, output)?,
            names,
            input,
        })
    }

    pub fn forward(&self, x: &[f32]) -> Buf {
        linear(x, self.w, self.b, self.input)
    }

    /// Adds the weight and bias gradients; returns the input's gradient when asked.
    pub fn backward(&self, x: &[f32], dy: &[f32], grads: &mut Grads, want_dx: bool) -> Option<Buf> {
        let (wn, bn) = &self.names;
        grads.pair(wn, self.w.len(), bn, self.b.len(), |dw, db| {
            linear_backward(x, self.w, dy, dw, db, want_dx)
        })
    }
}

/// The affine part `x̂·w + b` of a norm layer, per channel along the row.
struct Affine<'w> {
    name: String,
    w: &'w [f32],
    b: &'w [f32],
}

impl<'w> Affine<'w> {
    fn load(weights: &'w Weights, name: &str, c: usize) -> Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            w: weights.get(&format!("{name}.weight"), c)?,
            b: weights.get(&format!("{name}.bias"), c)?,
        })
    }

    fn apply(&self, xhat: &[f32]) -> Buf {
        let mut y = Buf::copy(xhat);
        par_rows(&mut y, self.w.len(), |row| {
            for ((v, w), b) in row.iter_mut().zip(self.w).zip(self.b) {
                *v = *v * w + b;
            }
        });
        y
    }

    /// Adds the weight and bias gradients (`Σ dy·x̂`, `Σ dy` over rows, in row order) and returns them.
    fn backward(&self, xhat: &[f32], dy: &[f32], grads: &mut Grads) -> (Vec<f32>, Vec<f32>) {
        let c = self.w.len();
        let (mut dw, mut db) = (vec![0f32; c], vec![0f32; c]);
        for (d, xh) in dy.chunks_exact(c).zip(xhat.chunks_exact(c)) {
            for j in 0..c {
                dw[j] += d[j] * xh[j];
                db[j] += d[j];
            }
        }
        add(grads.slot(&format!("{}.weight", self.name), c), &dw);
        add(grads.slot(&format!("{}.bias", self.name), c), &db);
        (dw, db)
    }
}

/// `nn.BatchNorm1d` in train mode over rows `[n, C]`: normalised by the batch mean and biased
/// variance, which it reports to the context for the running statistics.
pub(crate) struct BatchNorm<'w> {
    affine: Affine<'w>,
}

/// What [`BatchNorm::backward`] needs: the normalised input and 1/σ per channel.
pub(crate) struct NormCache {
    xhat: Buf,
    inv: Vec<f32>,
}

impl<'w> BatchNorm<'w> {
    pub fn load(weights: &'w Weights, name: &str, c: usize) -> Result<Self> {
        Ok(Self {
            affine: Affine::load(weights, name, c)?,
        })
    }

    pub fn forward(&self, x: &[f32], ctx: &TrainCtx) -> Result<(Buf, NormCache)> {
        let c = self.affine.w.len();
        let n = x.len() / c;
        // sums in f64, in row order: exact enough, and the same at any thread count
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        for row in x.chunks_exact(c) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        for row in x.chunks_exact(c) {
            for ((s, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        let var: Vec<f64> = sq.iter().map(|s| s / n as f64).collect();
        let inv: Vec<f32> = var
            .iter()
            .map(|v| (1.0 / (v + EPS).sqrt()) as f32)
            .collect();
        let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let mut xhat = Buf::copy(x);
        par_rows(&mut xhat, c, |row| {
            for ((v, m), i) in row.iter_mut().zip(&mean32).zip(&inv) {
                *v = (*v - m) * i;
            }
        });
        let y = self.affine.apply(&xhat);
        let var32: Vec<f32> = var.iter().map(|&v| v as f32).collect();
        ctx.report_batch_stats(
            &self.affine.name,
            Tensor::from_vec(mean32, c, &Device::Cpu)?,
            Tensor::from_vec(var32, c, &Device::Cpu)?,
            n,
        );
        Ok((y, NormCache { xhat, inv }))
    }

    pub fn backward(&self, cache: &NormCache, dy: &[f32], grads: &mut Grads) -> Buf {
        let c = self.affine.w.len();
        let n = (dy.len() / c) as f32;
        let (dw, db) = self.affine.backward(&cache.xhat, dy, grads);
        // dx̂ = dy·w, so Σ dx̂ = w·Σ dy and Σ dx̂·x̂ = w·Σ dy·x̂
        let w = self.affine.w;
        let s1: Vec<f32> = db.iter().zip(w).map(|(d, w)| d * w).collect();
        let s2: Vec<f32> = dw.iter().zip(w).map(|(d, w)| d * w).collect();
        let mut dx = Buf::copy(dy);
        dx.par_chunks_mut(256 * c)
            .zip(cache.xhat.par_chunks(256 * c))
            .for_each(|(d, xh)| {
                for (d, xh) in d.chunks_exact_mut(c).zip(xh.chunks_exact(c)) {
                    for j in 0..c {
                        let dxhat = d[j] * self.affine.w[j];
                        d[j] = cache.inv[j] / n * (n * dxhat - s1[j] - xh[j] * s2[j]);
                    }
                }
            });
        dx
    }
}

fn add(acc: &mut [f32], x: &[f32]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += v;
    }
}

/// `ReLU → BatchNorm1d → Conv1d(k=3, p=1)` over windows of `len` positions: the Encoder's stem and
/// each half of a ResNet.
pub(crate) struct NormConv<'w> {
    norm: BatchNorm<'w>,
    conv: String,
    /// `[3·cin, cout]`: row `k·cin + ci` holds `w[:, ci, k]` (the im2col product's operand)
    wmat: Vec<f32>,
    w_len: usize,
    b: &'w [f32],
    cin: usize,
}

/// What [`NormConv::backward`] needs.
pub(crate) struct ConvCache {
    /// The input (its sign is the ReLU's).
    x: Buf,
    norm: NormCache,
    /// im2col rows `[x(t−1), x(t), x(t+1)]` of the normalised input.
    col: Buf,
    len: usize,
}

impl<'w> NormConv<'w> {
    pub fn load(
        weights: &'w Weights,
        norm: &str,
        conv: &str,
        cin: usize,
        cout: usize,
    ) -> Result<Self> {
        let w = weights.get(&format!("{conv}.weight"), cout * cin * 3)?;
        let mut wmat = vec![0.0; 3 * cin * cout];
        for co in 0..cout {
            for ci in 0..cin {
                for k in 0..3 {
                    wmat[(k * cin + ci) * cout + co] = w[(co * cin + ci) * 3 + k];
                }
            }
        }
        Ok(Self {
            norm: BatchNorm::load(weights, norm, cin)?,
            conv: conv.to_owned(),
            wmat,
            w_len: w.len(),
            b: weights.get(&format!("{conv}.bias"), cout)?,
            cin,
        })
    }

    /// `x`: `[windows·len, cin]` → `[windows·len, cout]`.
    pub fn forward(&self, x: &[f32], len: usize, ctx: &TrainCtx) -> Result<(Buf, ConvCache)> {
        let (cin, cout) = (self.cin, self.b.len());
        let rows = x.len() / cin;
        let mut a = Buf::copy(x);
        a.iter_mut().for_each(|v| *v = v.max(0.0));
        let (n, norm) = self.norm.forward(&a, ctx)?;
        drop(a);
        let mut col = Buf::zeros(rows * 3 * cin);
        col.par_chunks_mut(len * 3 * cin)
            .zip(n.par_chunks(len * cin))
            .for_each(|(col, n)| {
                for t in 0..len {
                    let row = &mut col[t * 3 * cin..(t + 1) * 3 * cin];
                    if t > 0 {
                        row[..cin].copy_from_slice(&n[(t - 1) * cin..t * cin]);
                    }
                    row[cin..2 * cin].copy_from_slice(&n[t * cin..(t + 1) * cin]);
                    if t + 1 < len {
                        row[2 * cin..].copy_from_slice(&n[(t + 1) * cin..(t + 2) * cin]);
                    }
                }
            });
        let mut out = Buf::zeros(rows * cout);
        par_product(
            &mut out,
            Mat::new(&col, rows, 3 * cin, 3 * cin),
            Mat::new(&self.wmat, 3 * cin, cout, cout),
            false,
        );
        par_rows(&mut out, cout, |row| {
            for (v, b) in row.iter_mut().zip(self.b) {
                *v += b;
            }
        });
        let cache = ConvCache {
            x: Buf::copy(x),
            norm,
            col,
            len,
        };
        Ok((out, cache))
    }

    /// Adds the gradients of the conv and the norm; returns the input's gradient when asked.
    pub fn backward(
        &self,
        cache: &ConvCache,
        dy: &[f32],
        grads: &mut Grads,
        want_dx: bool,
    ) -> Option<Buf> {
        let (cin, cout, len) = (self.cin, self.b.len(), cache.len);
        let rows = dy.len() / cout;
        let mut dwmat = Buf::zeros(3 * cin * cout);
        par_product(
            &mut dwmat,
            Mat::new(&cache.col, rows, 3 * cin, 3 * cin).t(),
            Mat::new(dy, rows, cout, cout),
            false,
        );
        let dw = grads.slot(&format!("{}.weight", self.conv), self.w_len);
        for co in 0..cout {
            for ci in 0..cin {
                for k in 0..3 {
                    dw[(co * cin + ci) * 3 + k] += dwmat[(k * cin + ci) * cout + co];
                }
            }
        }
        column_sums(dy, grads.slot(&format!("{}.bias", self.conv), cout));
        // the norm's weights need dn even where the input's gradient is not wanted
        let mut dcol = Buf::zeros(rows * 3 * cin);
        par_product(
            &mut dcol,
            Mat::new(dy, rows, cout, cout),
            Mat::new(&self.wmat, 3 * cin, cout, cout).t(),
            false,
        );
        // col2im: position t received x(t) in three im2col rows
        let mut dn = Buf::zeros(rows * cin);
        dn.par_chunks_mut(len * cin)
            .zip(dcol.par_chunks(len * 3 * cin))
            .for_each(|(dn, dcol)| {
                for t in 0..len {
                    let d = &mut dn[t * cin..(t + 1) * cin];
                    d.copy_from_slice(&dcol[t * 3 * cin + cin..t * 3 * cin + 2 * cin]);
                    if t + 1 < len {
                        let next = &dcol[(t + 1) * 3 * cin..(t + 1) * 3 * cin + cin];
                        add(d, next);
                    }
                    if t > 0 {
                        let prev = &dcol[(t - 1) * 3 * cin + 2 * cin..t * 3 * cin];
                        add(d, prev);
                    }
                }
            });
        drop(dcol);
        let mut dx = self.norm.backward(&cache.norm, &dn, grads);
        relu_backward(&mut dx, &cache.x);
        want_dx.then_some(dx)
    }
}

/// `nn.AvgPool1d(2)` over windows of `len` positions (floor: an odd last position is dropped).
pub(crate) fn avg_pool2(x: &[f32], len: usize, c: usize) -> Buf {
    let half = len / 2;
    let windows = x.len() / (len * c);
    let mut y = Buf::zeros(windows * half * c);
    for (y, x) in y.chunks_exact_mut(half * c).zip(x.chunks_exact(len * c)) {
        for t in 0..half {
            for j in 0..c {
                y[t * c + j] = (x[2 * t * c + j] + x[(2 * t + 1) * c + j]) * 0.5;
            }
        }
    }
    y
}

/// The backward pass of [`avg_pool2`]: `dy` over `len / 2` positions → `dx` over `len`.
pub(crate) fn avg_pool2_backward(dy: &[f32], len: usize, c: usize) -> Buf {
    let half = len / 2;
    let windows = dy.len() / (half * c).max(1);
    let mut dx = Buf::zeros(windows * len * c);
    for (dx, dy) in dx.chunks_exact_mut(len * c).zip(dy.chunks_exact(half * c)) {
        for t in 0..half {
            for j in 0..c {
                let g = dy[t * c + j] * 0.5;
                dx[2 * t * c + j] = g;
                dx[(2 * t + 1) * c + j] = g;
            }
        }
    }
    dx
}

/// `ResNet(C)`: `x + NormConv(NormConv(x))` (`layers.1`/`.2`, then `layers.4`/`.5`).
pub(crate) struct ResNet<'w> {
    first: NormConv<'w>,
    second: NormConv<'w>,
}

/// What [`ResNet::backward`] needs: its two units' caches.
pub(crate) type ResCache = (ConvCache, ConvCache);

impl<'w> ResNet<'w> {
    pub fn load(weights: &'w Weights, name: &str, c: usize) -> Result<Self> {
        let l = format!("{name}.layers");
        Ok(Self {
            first: NormConv::load(weights, &format!("{l}.1"), &format!("{l}.2"), c, c)?,
            second: NormConv::load(weights, &format!("{l}.4"), &format!("{l}.5"), c, c)?,
        })
    }

    /// `x` (`[windows·len, C]`) in place.
    pub fn forward(&self, x: &mut [f32], len: usize, ctx: &TrainCtx) -> Result<ResCache> {
        let (y1, c1) = self.first.forward(x, len, ctx)?;
        let (y2, c2) = self.second.forward(&y1, len, ctx)?;
        add_into(x, &y2);
        Ok((c1, c2))
    }

    /// Adds the weights' gradients; `dy` becomes the input's gradient.
    pub fn backward(&self, cache: &ResCache, dy: &mut [f32], grads: &mut Grads) {
        let dy1 = self.second.backward(&cache.1, dy, grads, true);
        let dx = self
            .first
            .backward(&cache.0, &dy1.unwrap_or_default(), grads, true);
        add_into(dy, &dx.unwrap_or_default());
    }
}

/// `Encoder` / `EncoderStr` (`conv_layers`): the stem `ReLU → BN → Conv` (indices 1, 2), then per
/// group its ResNets and, when pooling, AvgPool1d(2), each module taking the next index.
pub(crate) struct Encoder<'w> {
    stem: NormConv<'w>,
    groups: Vec<Vec<ResNet<'w>>>,
    pool: bool,
    width: usize,
}

/// What [`Encoder::backward`] needs.
pub(crate) struct EncoderCache {
    stem: ConvCache,
    groups: Vec<Vec<ResCache>>,
    len: usize,
}

impl<'w> Encoder<'w> {
    pub fn load(weights: &'w Weights, name: &str, cfg: &EncoderConfig) -> Result<Self> {
        let layers = format!("{name}.conv_layers");
        let (cin, width) = (cfg.in_channels, cfg.width);
        let stem = NormConv::load(
            weights,
            &format!("{layers}.1"),
            &format!("{layers}.2"),
            cin,
            width,
        )?;
        let mut groups = Vec::with_capacity(cfg.n_blocks);
        let mut index = 3;
        for _ in 0..cfg.n_blocks {
            let group = (index..index + cfg.n_resnets)
                .map(|i| ResNet::load(weights, &format!("{layers}.{i}"), width))
                .collect::<Result<Vec<_>>>()?;
            groups.push(group);
            index += cfg.n_resnets + usize::from(cfg.pool);
        }
        Ok(Self {
            stem,
            groups,
            pool: cfg.pool,
            width,
        })
    }

    /// `x`: `[windows·len, cin]` → `[windows·len', width]`, with `len'` halved (floored) once per
    /// group when pooling.
    pub fn forward(&self, x: &[f32], len: usize, ctx: &TrainCtx) -> Result<(Buf, EncoderCache)> {
        let (mut h, stem) = self.stem.forward(x, len, ctx)?;
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut t = len;
        for group in &self.groups {
            let mut caches = Vec::with_capacity(group.len());
            for resnet in group {
                caches.push(resnet.forward(&mut h, t, ctx)?);
            }
            groups.push(caches);
            if self.pool {
                h = avg_pool2(&h, t, self.width);
                t /= 2;
            }
        }
        Ok((h, EncoderCache { stem, groups, len }))
    }

    /// Adds every weight's gradient (the input is data: it gets none).
    pub fn backward(&self, cache: EncoderCache, dy: Buf, grads: &mut Grads) {
        let mut lens = Vec::with_capacity(self.groups.len());
        let mut t = cache.len;
        for _ in &self.groups {
            lens.push(t);
            if self.pool {
                t /= 2;
            }
        }
        let mut dh = dy;
        let groups = self.groups.iter().zip(cache.groups).zip(lens);
        for ((group, caches), len) in groups.rev() {
            if self.pool {
                dh = avg_pool2_backward(&dh, len, self.width);
            }
            for (resnet, c) in group.iter().zip(caches).rev() {
                resnet.backward(&c, &mut dh, grads);
            }
        }
        self.stem.backward(&cache.stem, &dh, grads, false);
    }
}

/// `nn.LayerNorm(E)` over each row.
pub(crate) struct LayerNorm<'w> {
    affine: Affine<'w>,
}

/// The normalised rows and 1/σ per row.
pub(crate) struct RowCache {
    xhat: Buf,
    inv: Vec<f32>,
}

impl<'w> LayerNorm<'w> {
    pub fn load(weights: &'w Weights, name: &str, e: usize) -> Result<Self> {
        Ok(Self {
            affine: Affine::load(weights, name, e)?,
        })
    }

    pub fn forward(&self, x: &[f32]) -> (Buf, RowCache) {
        let e = self.affine.w.len();
        let rows = x.len() / e;
        let mut xhat = Buf::copy(x);
        let mut inv = vec![0.0f32; rows];
        xhat.par_chunks_mut(256 * e)
            .zip(inv.par_chunks_mut(256))
            .for_each(|(xh, inv)| {
                for (row, inv) in xh.chunks_exact_mut(e).zip(inv) {
                    let mean = row.iter().sum::<f32>() / e as f32;
                    row.iter_mut().for_each(|v| *v -= mean);
                    let var = row.iter().map(|v| v * v).sum::<f32>() / e as f32;
                    *inv = 1.0 / (var + EPS as f32).sqrt();
                    row.iter_mut().for_each(|v| *v *= *inv);
                }
            });
        let y = self.affine.apply(&xhat);
        (y, RowCache { xhat, inv })
    }

    pub fn backward(&self, cache: &RowCache, dy: &[f32], grads: &mut Grads) -> Buf {
        let e = self.affine.w.len();
        self.affine.backward(&cache.xhat, dy, grads);
        let mut dx = Buf::copy(dy);
        dx.par_chunks_mut(256 * e)
            .zip(cache.xhat.par_chunks(256 * e))
            .zip(cache.inv.par_chunks(256))
            .for_each(|((d, xh), inv)| {
                for ((d, xh), inv) in d.chunks_exact_mut(e).zip(xh.chunks_exact(e)).zip(inv) {
                    for (v, w) in d.iter_mut().zip(self.affine.w) {
                        *v *= w;
                    }
                    let m1 = d.iter().sum::<f32>() / e as f32;
                    let m2 = d.iter().zip(xh.iter()).map(|(a, b)| a * b).sum::<f32>() / e as f32;
                    for (v, x) in d.iter_mut().zip(xh) {
                        *v = inv * (*v - m1 - x * m2);
                    }
                }
            });
        dx
    }
}

/// PyTorch's default dropout of `TransformerEncoderLayer`.
const TRANSFORMER_DROPOUT: f32 = 0.1;

/// `nn.TransformerEncoderLayer(E, nhead, ff)` in train mode: post-norm, ReLU, dropout 0.1 on the
/// attention weights, after attention, inside and after the feed-forward block, with the masks
/// drawn in the order the candle layers draw them.
pub(crate) struct EncoderLayer<'w> {
    in_proj: Linear<'w>,
    out_proj: Linear<'w>,
    linear1: Linear<'w>,
    linear2: Linear<'w>,
    norm1: LayerNorm<'w>,
    norm2: LayerNorm<'w>,
    nhead: usize,
    e: usize,
}

/// What [`EncoderLayer::backward`] needs.
pub(crate) struct LayerCache {
    x: Buf,
    /// q (scaled by 1/√hd), k, v per row
    qkv: Buf,
    /// Attention weights `[window, head, S, S]` before dropout, and their mask.
    p: Buf,
    p_mask: Buf,
    a: Buf,
    a_mask: Buf,
    norm1: RowCache,
    x1: Buf,
    /// ReLU(linear1) after its dropout, and the mask.
    f: Buf,
    f_mask: Buf,
    out_mask: Buf,
    norm2: RowCache,
    seq: usize,
}

impl<'w> EncoderLayer<'w> {
    pub fn load(
        weights: &'w Weights,
        name: &str,
        e: usize,
        ff: usize,
        nhead: usize,
    ) -> Result<Self> {
        let attn = format!("{name}.self_attn");
        let names = (
            format!("{attn}.in_proj_weight"),
            format!("{attn}.in_proj_bias"),
        );
        let in_proj = Linear::named(weights, names, e, 3 * e)?;
        Ok(Self {
            in_proj,
            out_proj: Linear::load(weights, &format!("{attn}.out_proj"), e, e)?,
            linear1: Linear::load(weights, &format!("{name}.linear1"), e, ff)?,
            linear2: Linear::load(weights, &format!("{name}.linear2"), ff, e)?,
            norm1: LayerNorm::load(weights, &format!("{name}.norm1"), e)?,
            norm2: LayerNorm::load(weights, &format!("{name}.norm2"), e)?,
            nhead,
            e,
        })
    }

    fn scale(&self) -> f32 {
        (1.0 / ((self.e / self.nhead) as f64).sqrt()) as f32
    }

    /// `x`: `[windows·seq, E]`; attention runs over the `seq` rows of each window.
    pub fn forward(&self, x: Buf, seq: usize, ctx: &TrainCtx) -> (Buf, LayerCache) {
        let (e, h) = (self.e, self.nhead);
        let hd = e / h;
        let rows = x.len() / e;
        let windows = rows / seq;
        let mut qkv = self.in_proj.forward(&x);
        let s = self.scale();
        par_rows(&mut qkv, 3 * e, |row| {
            row[..e].iter_mut().for_each(|v| *v *= s)
        });
        let p_mask = mask(ctx, windows * h * seq * seq);
        let mut p = Buf::zeros(windows * h * seq * seq);
        let mut a = Buf::zeros(rows * e);
        a.par_chunks_mut(seq * e)
            .zip(p.par_chunks_mut(h * seq * seq))
            .zip(qkv.par_chunks(seq * 3 * e))
            .zip(p_mask.par_chunks(h * seq * seq))
            .for_each(|(((a, p), qkv), mask)| {
                let mut pd = vec![0.0; seq * seq];
                for head in 0..h {
                    let q = Mat::new(&qkv[head * hd..], seq, hd, 3 * e);
                    let k = Mat::new(&qkv[e + head * hd..], seq, hd, 3 * e);
                    let v = Mat::new(&qkv[2 * e + head * hd..], seq, hd, 3 * e);
                    let ph = &mut p[head * seq * seq..(head + 1) * seq * seq];
                    product(ph, seq, q, k.t(), false);
                    softmax_rows(ph, seq);
                    let mh = &mask[head * seq * seq..(head + 1) * seq * seq];
                    for ((d, p), m) in pd.iter_mut().zip(ph.iter()).zip(mh) {
                        *d = p * m;
                    }
                    product(
                        &mut a[head * hd..],
                        e,
                        Mat::new(&pd, seq, seq, seq),
                        v,
                        false,
                    );
                }
            });
        let mut o = self.out_proj.forward(&a);
        let a_mask = mask(ctx, o.len());
        apply_mask(&mut o, &a_mask);
        add_into(&mut o, &x);
        let (x1, norm1) = self.norm1.forward(&o);
        drop(o);
        let mut f = self.linear1.forward(&x1);
        f.iter_mut().for_each(|v| *v = v.max(0.0));
        let f_mask = mask(ctx, f.len());
        apply_mask(&mut f, &f_mask);
        let mut g = self.linear2.forward(&f);
        let out_mask = mask(ctx, g.len());
        apply_mask(&mut g, &out_mask);
        add_into(&mut g, &x1);
        let (y, norm2) = self.norm2.forward(&g);
        let cache = LayerCache {
            x,
            qkv,
            p,
            p_mask,
            a,
            a_mask,
            norm1,
            x1,
            f,
            f_mask,
            out_mask,
            norm2,
            seq,
        };
        (y, cache)
    }

    /// Adds every weight's gradient; returns the input's.
    pub fn backward(&self, c: &LayerCache, dy: &[f32], grads: &mut Grads) -> Buf {
        let (e, h, seq) = (self.e, self.nhead, c.seq);
        let hd = e / h;
        let dr2 = self.norm2.backward(&c.norm2, dy, grads);
        let mut dg = dr2.clone();
        apply_mask(&mut dg, &c.out_mask);
        let mut df = self
            .linear2
            .backward(&c.f, &dg, grads, true)
            .unwrap_or_default();
        drop(dg);
        apply_mask(&mut df, &c.f_mask);
        // f is ReLU's output after dropout: where the mask dropped it, df is already 0
        relu_backward(&mut df, &c.f);
        let mut dx1 = self
            .linear1
            .backward(&c.x1, &df, grads, true)
            .unwrap_or_default();
        drop(df);
        add_into(&mut dx1, &dr2);
        drop(dr2);
        let dr1 = self.norm1.backward(&c.norm1, &dx1, grads);
        drop(dx1);
        let mut d_o = dr1.clone();
        apply_mask(&mut d_o, &c.a_mask);
        let da = self
            .out_proj
            .backward(&c.a, &d_o, grads, true)
            .unwrap_or_default();
        drop(d_o);
        let mut dqkv = Buf::zeros(c.qkv.len());
        dqkv.par_chunks_mut(seq * 3 * e)
            .zip(da.par_chunks(seq * e))
            .zip(c.qkv.par_chunks(seq * 3 * e))
            .zip(c.p.par_chunks(h * seq * seq))
            .zip(c.p_mask.par_chunks(h * seq * seq))
            .for_each(|((((dqkv, da), qkv), p), mask)| {
                let (mut pd, mut dp) = (vec![0.0; seq * seq], vec![0.0; seq * seq]);
                for head in 0..h {
                    let off = head * hd;
                    let q = Mat::new(&qkv[off..], seq, hd, 3 * e);
                    let k = Mat::new(&qkv[e + off..], seq, hd, 3 * e);
                    let v = Mat::new(&qkv[2 * e + off..], seq, hd, 3 * e);
                    let dah = Mat::new(&da[off..], seq, hd, e);
                    let ph = &p[head * seq * seq..(head + 1) * seq * seq];
                    let mh = &mask[head * seq * seq..(head + 1) * seq * seq];
                    for ((d, p), m) in pd.iter_mut().zip(ph).zip(mh) {
                        *d = p * m;
                    }
                    // dV = Pdᵀ·dA; dPd = dA·Vᵀ
                    let pdm = Mat::new(&pd, seq, seq, seq);
                    product(&mut dqkv[2 * e + off..], 3 * e, pdm.t(), dah, false);
                    product(&mut dp, seq, dah, v.t(), false);
                    for (d, m) in dp.iter_mut().zip(mh) {
                        *d *= m;
                    }
                    for (d, p) in dp.chunks_exact_mut(seq).zip(ph.chunks_exact(seq)) {
                        softmax_backward(d, p);
                    }
                    // dQ = dS·K (q was scaled: the scale is applied below); dK = dSᵀ·Q
                    let ds = Mat::new(&dp, seq, seq, seq);
                    product(&mut dqkv[off..], 3 * e, ds, k, false);
                    product(&mut dqkv[e + off..], 3 * e, ds.t(), q, false);
                }
            });
        drop(da);
        let s = self.scale();
        par_rows(&mut dqkv, 3 * e, |row| {
            row[..e].iter_mut().for_each(|v| *v *= s)
        });
        let mut dx = self
            .in_proj
            .backward(&c.x, &dqkv, grads, true)
            .unwrap_or_default();
        add_into(&mut dx, &dr1);
        dx
    }
}

/// A transformer dropout mask of `n` values from the run's stream.
fn mask(ctx: &TrainCtx, n: usize) -> Buf {
    let mut m = Buf::zeros(n);
    ctx.fill_dropout_mask(&mut m, TRANSFORMER_DROPOUT);
    m
}

/// `acc += x`, elementwise.
pub(crate) fn add_into(acc: &mut [f32], x: &[f32]) {
    acc.par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(a, x)| add(a, x));
}
