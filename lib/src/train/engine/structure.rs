//! Model A's training step: `EncoderStr` (ReLU → BN → Conv, three ResNets), PE concatenated, six
//! transformer layers, the ELU head and tanh, under the masked MSE of the pairing.

use candle_core::Result;

use super::blocks::{Encoder, EncoderLayer, Linear};
use super::buf::Buf;
use super::ops::{elu, elu_backward, transpose_windows};
use super::{Grads, Weights};
use crate::encode::PE_FEATURES;
use crate::model::config::StructureConfig;
use crate::model::nn::train_mode::TrainCtx;
use crate::window::WINDOW_LENGTH;

/// One micro-batch of model A: channels-first one-hot `[b, 4, 100]`, PE `[b, 100, 111]`, and per
/// position the loss mask and the pairing target `[b, 100]`.
pub(crate) struct FoldBatch<'a> {
    pub x: &'a [f32],
    pub pe: &'a [f32],
    pub mask: &'a [f32],
    pub target: &'a [f32],
}

/// Forward and backward pass of one micro-batch: adds `scale ·` the gradient of the masked sum of
/// squared errors to `grads` and returns that sum (unscaled).
pub(crate) fn structure_step(
    weights: &Weights,
    batch: &FoldBatch,
    scale: f32,
    ctx: &TrainCtx,
    grads: &mut Grads,
) -> Result<f64> {
    let cfg = StructureConfig::default();
    let t = &cfg.transformer;
    let (cin, c, e) = (cfg.conv_in.in_channels, cfg.conv_in.width, t.d_model);
    let conv_in = Encoder::load(weights, "conv_in", &cfg.conv_in)?;
    let encoder = (0..t.n_layers)
        .map(|i| {
            let name = format!("transformer_encoder.layers.{i}");
            EncoderLayer::load(weights, &name, e, t.dim_feedforward, t.nhead)
        })
        .collect::<Result<Vec<_>>>()?;
    let hidden2first = Linear::load(weights, "hidden2first", e, cfg.hidden)?;
    let first2med = Linear::load(weights, "first2med", cfg.hidden, cfg.med)?;
    let tag_w = weights.get("med2tag.weight", cfg.med)?;
    let tag_b = weights.get("med2tag.bias", 1)?[0];

    let rows = batch.x.len() / cin;

    // forward, keeping what the backward pass needs
    let x0 = transpose_windows(batch.x, cin, WINDOW_LENGTH);
    let (h, conv_cache) = conv_in.forward(&x0, WINDOW_LENGTH, ctx)?;
    drop(x0);
    let mut x = Buf::zeros(rows * e);
    for (r, xr) in x.chunks_exact_mut(e).enumerate() {
        xr[..c].copy_from_slice(&h[r * c..(r + 1) * c]);
        xr[c..].copy_from_slice(&batch.pe[r * PE_FEATURES..(r + 1) * PE_FEATURES]);
    }
    drop(h);
    let mut layer_caches = Vec::with_capacity(encoder.len());
    for layer in &encoder {
        let (y, cache) = layer.forward(x, WINDOW_LENGTH, ctx);
        layer_caches.push(cache);
        x = y;
    }
    let mut h1 = hidden2first.forward(&x);
    elu(&mut h1);
    let mut h2 = first2med.forward(&h1);
    elu(&mut h2);
    let out: Vec<f32> = h2
        .chunks_exact(cfg.med)
        .map(|r| (r.iter().zip(tag_w).map(|(a, b)| a * b).sum::<f32>() + tag_b).tanh())
        .collect();

    // loss and its gradient at the output, through tanh
    let mut loss = 0f64;
    let mut dz = vec![0.0f32; rows];
    for (((d, &o), &y), &m) in dz.iter_mut().zip(&out).zip(batch.target).zip(batch.mask) {
        let err = (o - y) * m;
        loss += f64::from(err * err);
        *d = 2.0 * err * scale * (1.0 - o * o);
    }

    // backward
    let mut dh2 = Buf::zeros(rows * cfg.med);
    let (mut dtag_w, mut dtag_b) = (vec![0f32; cfg.med], 0f32);
    for ((dh, h), &d) in dh2
        .chunks_exact_mut(cfg.med)
        .zip(h2.chunks_exact(cfg.med))
        .zip(&dz)
    {
        for j in 0..cfg.med {
            dh[j] = d * tag_w[j];
            dtag_w[j] += d * h[j];
        }
        dtag_b += d;
    }
    for (g, d) in grads
        .slot("med2tag.weight", cfg.med)
        .iter_mut()
        .zip(&dtag_w)
    {
        *g += d;
    }
    grads.slot("med2tag.bias", 1)[0] += dtag_b;
    elu_backward(&mut dh2, &h2);
    let mut dh1 = first2med
        .backward(&h1, &dh2, grads, true)
        .unwrap_or_default();
    drop((dh2, h2));
    elu_backward(&mut dh1, &h1);
    let mut dx = hidden2first
        .backward(&x, &dh1, grads, true)
        .unwrap_or_default();
    drop((dh1, h1, x));
    for (layer, cache) in encoder.iter().zip(layer_caches).rev() {
        dx = layer.backward(&cache, &dx, grads);
    }
    // the conv channels of the concatenation (the PE gets no gradient)
    let mut dh = Buf::zeros(rows * c);
    for (d, dxr) in dh.chunks_exact_mut(c).zip(dx.chunks_exact(e)) {
        d.copy_from_slice(&dxr[..c]);
    }
    drop(dx);
    conv_in.backward(conv_cache, dh, grads);
    Ok(loss)
}
