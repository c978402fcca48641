//! Building blocks shared by the three models: BatchNorm, Conv1d, the pre-activation ResNet, the
//! conv `Encoder`, Linear, LayerNorm and PyTorch's post-norm `TransformerEncoderLayer`.
//!
//! Built from a training source ([`Vb::train`]) the layers run in train mode (BatchNorm on batch
//! statistics, dropout, differentiable softmax and LayerNorm); otherwise in eval mode, whose code
//! path is the inference path.
//!
//! Tensor names follow the original modules (`conv_layers.{i}`, `layers.{i}`, `self_attn.in_proj_weight`).

use std::sync::Arc;

use candle_core::{DType, Result, Tensor, D};

use super::weights::Vb;
use crate::model::config::{EncoderConfig, TransformerConfig};
use crate::model::nn::train_mode::TrainCtx;

/// PyTorch's default eps of BatchNorm1d and LayerNorm.
const EPS: f64 = 1e-5;

/// `nn.BatchNorm1d`: in eval mode folded to `x * scale + shift` per channel (as PyTorch's CPU kernel
/// does); in train mode normalised by the batch statistics, which it reports for the running update.
pub(crate) enum BatchNorm {
    /// Eval mode.
    Eval {
        /// [C]
        scale: Tensor,
        /// [C]
        shift: Tensor,
    },
    /// Train mode.
    Train {
        /// [C]
        weight: Tensor,
        /// [C]
        bias: Tensor,
        /// The module's name, under which its statistics are reported.
        name: String,
        ctx: Arc<TrainCtx>,
    },
}

impl BatchNorm {
    pub fn load(vb: &Vb, channels: usize) -> Result<Self> {
        let c = [channels];
        let weight = vb.get(&c, "weight")?;
        let bias = vb.get(&c, "bias")?;
        let mean = vb.get(&c, "running_mean")?;
        let var = vb.get(&c, "running_var")?;
        vb.declare_unused(&[], "num_batches_tracked");
        if let Some(ctx) = vb.train() {
            let name = vb.prefix().to_owned();
            return Ok(Self::Train {
                weight,
                bias,
                name,
                ctx,
            });
        }
        let scale = (var + EPS)?.sqrt()?.recip()?.mul(&weight)?;
        let shift = (bias - mean.mul(&scale)?)?;
        Ok(Self::Eval { scale, shift })
    }

    /// `x`: [B, C] or [B, C, T] (channels on dim 1).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (scale, shift) = match self {
            Self::Eval { scale, shift } => (scale, shift),
            Self::Train {
                weight,
                bias,
                name,
                ctx,
            } => return batch_norm_train(x, weight, bias, name, ctx),
        };
        let c = scale.dim(0)?;
        let shape: Vec<usize> = (0..x.rank()).map(|d| if d == 1 { c } else { 1 }).collect();
        x.broadcast_mul(&scale.reshape(shape.as_slice())?)?
            .broadcast_add(&shift.reshape(shape.as_slice())?)
    }
}

/// Train-mode BatchNorm: normalised by the batch mean and biased variance over every dim but 1;
/// reports the mean, biased variance and count for the running-statistics update.
pub(crate) fn batch_norm_train(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    name: &str,
    ctx: &TrainCtx,
) -> Result<Tensor> {
    let c = weight.dim(0)?;
    let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
    let shape: Vec<usize> = (0..x.rank()).map(|d| if d == 1 { c } else { 1 }).collect();
    let n = x.elem_count() / c;
    // the statistics in f64, as the CPU engine's: f32 sums over the batch lose digits that the
    // normalisation amplifies (gradients up to 5e-4 off an f64 run's on a 6-sample MFE batch)
    let wide = x.to_dtype(DType::F64)?;
    let mean = wide.mean_keepdim(dims.clone())?;
    let var = wide.broadcast_sub(&mean)?.sqr()?.mean_keepdim(dims)?;
    let (mean, var) = (mean.to_dtype(x.dtype())?, var.to_dtype(x.dtype())?);
    let y = x
        .broadcast_sub(&mean)?
        .broadcast_div(&(&var + EPS)?.sqrt()?)?
        .broadcast_mul(&weight.reshape(shape.as_slice())?)?
        .broadcast_add(&bias.reshape(shape.as_slice())?)?;
    ctx.report_batch_stats(
        name,
        mean.detach().flatten_all()?,
        var.detach().flatten_all()?,
        n,
    );
    Ok(y)
}

/// `nn.Conv1d(cin, cout, 3, padding=1)`.
pub(crate) struct Conv1d {
    /// [Cout, Cin, 3]
    weight: Tensor,
    /// [1, Cout, 1]
    bias: Tensor,
    /// Train mode: the convolution as a product over im2col columns (see [`Conv1d::forward`]).
    train: bool,
}

impl Conv1d {
    pub fn load(vb: &Vb, cin: usize, cout: usize) -> Result<Self> {
        let weight = vb.get(&[cout, cin, 3], "weight")?;
        let bias = vb.get(&[cout], "bias")?.reshape((1, cout, 1))?;
        Ok(Self {
            weight,
            bias,
            train: vb.train().is_some(),
        })
    }

    /// [B, Cin, T] → [B, Cout, T]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.train {
            return self.forward_im2col(x);
        }
        x.conv1d(&self.weight, 1, 1, 1, 1)?
            .broadcast_add(&self.bias)
    }

    /// The same convolution as a product over im2col columns `[x(t−1); x(t); x(t+1)]`.
    ///
    /// Why: candle 0.11's backward pass of `conv1d` gives a wrong kernel gradient when the batch
    /// holds more than one sample (it convolves transposed, non-contiguous views); the gradients of
    /// padding, concatenation and a product are right (`engine::tests` checks them).
    fn forward_im2col(&self, x: &Tensor) -> Result<Tensor> {
        let (_, cin, t) = x.dims3()?;
        let cout = self.weight.dim(0)?;
        let padded = x.pad_with_zeros(2, 1, 1)?;
        let cols = Tensor::cat(
            &[
                padded.narrow(2, 0, t)?,
                padded.narrow(2, 1, t)?,
                padded.narrow(2, 2, t)?,
            ],
            1,
        )?; // [B, 3·Cin, T], row k·Cin + ci
        let w = self.weight.permute((0, 2, 1))?.reshape((cout, 3 * cin))?; // [Cout, 3·Cin], column k·Cin + ci
        w.broadcast_matmul(&cols)?.broadcast_add(&self.bias)
    }
}

/// `ResNet(C)`: `x + Conv(BN(ReLU(Conv(BN(ReLU(x))))))` (layers 1, 2, 4, 5 carry weights).
pub(crate) struct ResNet {
    bn1: BatchNorm,
    conv1: Conv1d,
    bn2: BatchNorm,
    conv2: Conv1d,
}

impl ResNet {
    pub fn load(vb: &Vb, channels: usize) -> Result<Self> {
        let vb = vb.pp("layers");
        Ok(Self {
            bn1: BatchNorm::load(&vb.pp(1), channels)?,
            conv1: Conv1d::load(&vb.pp(2), channels, channels)?,
            bn2: BatchNorm::load(&vb.pp(4), channels)?,
            conv2: Conv1d::load(&vb.pp(5), channels, channels)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv1.forward(&self.bn1.forward(&x.relu()?)?)?;
        let y = self.conv2.forward(&self.bn2.forward(&y.relu()?)?)?;
        x + y
    }
}

/// `Encoder` / `EncoderStr`: ReLU → BN → Conv, then per group `n_resnets` ResNets (+ AvgPool1d(2)).
///
/// The leading ReLU also hits the structure channel of MFE and Classifier inputs, zeroing its
/// negative values: a quirk of the original that the weights were trained with.
pub(crate) struct Encoder {
    bn: BatchNorm,
    conv: Conv1d,
    groups: Vec<Vec<ResNet>>,
    pool: bool,
}

impl Encoder {
    pub fn load(vb: &Vb, cfg: &EncoderConfig) -> Result<Self> {
        let vb = vb.pp("conv_layers");
        let bn = BatchNorm::load(&vb.pp(1), cfg.in_channels)?;
        let conv = Conv1d::load(&vb.pp(2), cfg.in_channels, cfg.width)?;
        let mut index = 3;
        let mut groups = Vec::with_capacity(cfg.n_blocks);
        for _ in 0..cfg.n_blocks {
            let mut group = Vec::with_capacity(cfg.n_resnets);
            for _ in 0..cfg.n_resnets {
                group.push(ResNet::load(&vb.pp(index), cfg.width)?);
                index += 1;
            }
            groups.push(group);
            if cfg.pool {
                index += 1; // the AvgPool1d module has no weights but takes an index
            }
        }
        Ok(Self {
            bn,
            conv,
            groups,
            pool: cfg.pool,
        })
    }

    /// [B, Cin, T] → [B, width, T'] (T' = T halved, floored, once per group when pooling).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = self.conv.forward(&self.bn.forward(&x.relu()?)?)?;
        for group in &self.groups {
            for resnet in group {
                x = resnet.forward(&x)?;
            }
            if self.pool {
                x = avg_pool2(&x)?;
            }
        }
        Ok(x)
    }
}

/// `nn.AvgPool1d(2)` over the last dim: floor mode, an odd last position is dropped.
pub(crate) fn avg_pool2(x: &Tensor) -> Result<Tensor> {
    let (b, c, t) = x.dims3()?;
    let half = t / 2;
    x.narrow(2, 0, 2 * half)?
        .reshape((b, c, half, 2))?
        .mean(D::Minus1)
}

/// `nn.Linear(in, out)`; the weight is kept transposed ([in, out]) for the row-major matmul.
pub(crate) struct Linear {
    weight_t: Tensor,
    bias: Tensor,
}

impl Linear {
    pub fn load(vb: &Vb, input: usize, output: usize) -> Result<Self> {
        let weight_t = vb.contiguous(vb.get(&[output, input], "weight")?.t()?)?;
        let bias = vb.get(&[output], "bias")?;
        Ok(Self { weight_t, bias })
    }

    /// [N, in] → [N, out]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let out = self.bias.dim(0)?;
        if out <= FEW_OUTPUTS {
            // gemm picks its kernel by matrix size and kernels sum in different orders; a dot
            // product per row keeps each window's value independent of the batch, at no cost
            let w = self.weight_t.t()?.unsqueeze(0)?; // [1, out, in]
            return x
                .unsqueeze(1)?
                .broadcast_mul(&w)?
                .sum(D::Minus1)?
                .broadcast_add(&self.bias);
        }
        if x.dim(0)? == 1 {
            // a single row would take gemm's gemv kernel, which sums in another order than the
            // kernel every larger batch takes; a second (copied) row keeps results batch-independent
            let y = Tensor::cat(&[x, x], 0)?
                .matmul(&self.weight_t)?
                .narrow(0, 0, 1)?;
            return y.broadcast_add(&self.bias);
        }
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

/// Linear layers with at most this many outputs are computed as dot products (see `Linear::forward`).
const FEW_OUTPUTS: usize = 2;

/// `nn.LayerNorm(E)` over the last dim.
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    /// Train mode: candle's fused kernel has no backward pass, the composed one has.
    train: bool,
}

impl LayerNorm {
    pub fn load(vb: &Vb, dim: usize) -> Result<Self> {
        Ok(Self {
            weight: vb.get(&[dim], "weight")?,
            bias: vb.get(&[dim], "bias")?,
            train: vb.train().is_some(),
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.train {
            return candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, EPS as f32);
        }
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, EPS as f32)
    }
}

/// Dropout of PyTorch's `TransformerEncoderLayer` (its default; miRe2e never changes it).
const TRANSFORMER_DROPOUT: f32 = 0.1;

/// `nn.TransformerEncoderLayer(E, nhead, ff)` in eval mode: post-norm, ReLU, fused `in_proj`
/// ([Wq; Wk; Wv]), head h sees dims h·hd..(h+1)·hd.
pub(crate) struct EncoderLayer {
    in_proj: Linear,
    out_proj: Linear,
    linear1: Linear,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    nhead: usize,
    train: Option<Arc<TrainCtx>>,
}

impl EncoderLayer {
    pub fn load(vb: &Vb, cfg: &TransformerConfig) -> Result<Self> {
        let (e, ff) = (cfg.d_model, cfg.dim_feedforward);
        let attn = vb.pp("self_attn");
        // fold the 1/sqrt(hd) scaling of q into its rows of the projection (saves a pass over q)
        let hd = e / cfg.nhead;
        let mut scale = vec![1.0f32; 3 * e];
        scale[..e].fill((1.0 / (hd as f64).sqrt()) as f32);
        let scale = Tensor::from_vec(scale, 3 * e, &vb.device())?;
        let weight = attn
            .get(&[3 * e, e], "in_proj_weight")?
            .broadcast_mul(&scale.unsqueeze(1)?)?;
        let bias = attn.get(&[3 * e], "in_proj_bias")?.mul(&scale)?;
        let in_proj = Linear {
            weight_t: vb.contiguous(weight.t()?)?,
            bias,
        };
        Ok(Self {
            in_proj,
            out_proj: Linear::load(&attn.pp("out_proj"), e, e)?,
            linear1: Linear::load(&vb.pp("linear1"), e, ff)?,
            linear2: Linear::load(&vb.pp("linear2"), ff, e)?,
            norm1: LayerNorm::load(&vb.pp("norm1"), e)?,
            norm2: LayerNorm::load(&vb.pp("norm2"), e)?,
            nhead: cfg.nhead,
            train: vb.train(),
        })
    }

    /// `x`: [N·S, E], rows ordered (batch column n, position s); attention runs over the S rows of
    /// each n. Returns the same layout.
    pub fn forward(&self, x: &Tensor, n: usize, s: usize) -> Result<Tensor> {
        if let Some(ctx) = &self.train {
            return self.forward_train(x, n, s, ctx);
        }
        let e = x.dim(1)?;
        let (q, k, v) = self.heads(x, n, s)?;
        let att = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?; // [N, H, S, S]
        let a = att.matmul(&v)?.transpose(1, 2)?.reshape((n * s, e))?;
        let x = self.norm1.forward(&(x + self.out_proj.forward(&a)?)?)?;
        let f = self.linear2.forward(&self.linear1.forward(&x)?.relu()?)?;
        self.norm2.forward(&(x + f)?)
    }
}

impl EncoderLayer {
    /// q, k, v per head, each [N, H, S, hd], from the fused projection (q already scaled by
    /// 1/sqrt(hd)).
    fn heads(&self, x: &Tensor, n: usize, s: usize) -> Result<(Tensor, Tensor, Tensor)> {
        let (h, hd) = (self.nhead, x.dim(1)? / self.nhead);
        let qkv = self
            .in_proj
            .forward(x)?
            .reshape((n, s, 3, h, hd))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?; // [3, N, H, S, hd]
        Ok((qkv.get(0)?, qkv.get(1)?, qkv.get(2)?))
    }

    /// Train mode: dropout (p 0.1) on the attention weights, after attention, inside and after the
    /// feed-forward block, as PyTorch's layer; differentiable softmax.
    fn forward_train(&self, x: &Tensor, n: usize, s: usize, ctx: &TrainCtx) -> Result<Tensor> {
        let p = TRANSFORMER_DROPOUT;
        let e = x.dim(1)?;
        let (q, k, v) = self.heads(x, n, s)?;
        let att = candle_nn::ops::softmax(&q.matmul(&k.t()?.contiguous()?)?, D::Minus1)?;
        let att = ctx.dropout(&att, p)?;
        let a = att
            .matmul(&v.contiguous()?)?
            .transpose(1, 2)?
            .reshape((n * s, e))?;
        let a = ctx.dropout(&self.out_proj.forward(&a)?, p)?;
        let x = self.norm1.forward(&(x + a)?)?;
        let f = ctx.dropout(&self.linear1.forward(&x)?.relu()?, p)?;
        let f = ctx.dropout(&self.linear2.forward(&f)?, p)?;
        self.norm2.forward(&(x + f)?)
    }
}

/// `nn.TransformerEncoder`: the layers `layers.{i}` in order, no final norm.
pub(crate) struct TransformerEncoder {
    layers: Vec<EncoderLayer>,
}

impl TransformerEncoder {
    pub fn load(vb: &Vb, cfg: &TransformerConfig) -> Result<Self> {
        let layers = (0..cfg.n_layers)
            .map(|i| EncoderLayer::load(&vb.pp("layers").pp(i), cfg))
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// `x`: [N·S, E] as in [`EncoderLayer::forward`].
    pub fn forward(&self, x: &Tensor, n: usize, s: usize) -> Result<Tensor> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x, n, s)?;
        }
        Ok(x)
    }
}
