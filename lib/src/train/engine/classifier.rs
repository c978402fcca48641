//! Model C's training step with per-window attention (`Attention::Window`): the pooled `Encoder`
//! (100 → 6 positions), its channel-major map cut into 6 tokens of 64, `A·√E + PE.pe`, three
//! transformer layers over each window's tokens, then `cat(·, mfe) → bn1 → hidden2first → ELU →
//! bn2 → dp2 → first2med → ELU → FF1 → ELU → FF2`, under the weighted focal loss of the logits.

use candle_core::Result;

use super::blocks::{BatchNorm, Encoder, EncoderLayer, Linear};
use super::buf::Buf;
use super::ops::{apply_mask, elu, elu_backward, transpose_windows};
use super::{Grads, Weights};
use crate::model::config::ClassifierConfig;
use crate::model::nn::classifier::DP2;
use crate::model::nn::train_mode::TrainCtx;
use crate::train::ClassifierOptions;
use crate::window::WINDOW_LENGTH;

/// One micro-batch of model C: bases and structure channels-first `[b, 5, 100]`, the MFE input
/// `[b]` and the labels `[b]` (1 for a positive).
pub(crate) struct ClassifierBatch<'a> {
    pub x: &'a [f32],
    pub mfe: &'a [f32],
    pub labels: &'a [f32],
}

/// Forward and backward pass of one micro-batch: adds `scale ·` the gradient of the weighted focal
/// loss sum to `grads` and returns that sum (unscaled).
pub(crate) fn classifier_step(
    weights: &Weights,
    batch: &ClassifierBatch,
    opts: &ClassifierOptions,
    scale: f32,
    ctx: &TrainCtx,
    grads: &mut Grads,
) -> Result<f64> {
    let cfg = ClassifierConfig::default();
    let t = &cfg.transformer;
    let (cin, c, e) = (cfg.conv1.in_channels, cfg.conv1.width, t.d_model);
    let len = cfg.conv1.out_len(WINDOW_LENGTH);
    let span = c * len; // values of a window's conv map: its tokens × E
    let tokens = span / e;
    let conv1 = Encoder::load(weights, "conv1", &cfg.conv1)?;
    let pe = weights.get("PE.pe", span)?;
    let encoder = (0..t.n_layers)
        .map(|i| {
            let name = format!("transformer_encoder.layers.{i}");
            EncoderLayer::load(weights, &name, e, t.dim_feedforward, t.nhead)
        })
        .collect::<Result<Vec<_>>>()?;
    let bn1 = BatchNorm::load(weights, "bn1", span + 1)?;
    let hidden2first = Linear::load(weights, "hidden2first", span + 1, cfg.hidden)?;
    let bn2 = BatchNorm::load(weights, "bn2", cfg.hidden)?;
    let first2med = Linear::load(weights, "first2med", cfg.hidden, cfg.hidden)?;
    let ff1 = Linear::load(weights, "FF1", cfg.hidden, cfg.hidden)?;
    let ff2 = Linear::load(weights, "FF2", cfg.hidden, 2)?;

    // forward, keeping what the backward pass needs
    let x0 = transpose_windows(batch.x, cin, WINDOW_LENGTH);
    let (h, conv_cache) = conv1.forward(&x0, WINDOW_LENGTH, ctx)?;
    drop(x0);
    // .view(B, -1, 64) of the [B, 64, 6] map: its channel-major flatten read as tokens
    let mut x = transpose_windows(&h, len, c);
    drop(h);
    let sqrt_e = (e as f64).sqrt() as f32;
    for w in x.chunks_exact_mut(span) {
        for (v, p) in w.iter_mut().zip(pe) {
            *v = *v * sqrt_e + p;
        }
    }
    let mut layer_caches = Vec::with_capacity(encoder.len());
    for layer in &encoder {
        let (y, cache) = layer.forward(x, tokens, ctx);
        layer_caches.push(cache);
        x = y;
    }
    // cat([T.view(B, -1), mfe], 1)
    let mut cat = Buf::zeros(batch.mfe.len() * (span + 1));
    for ((row, w), &m) in cat
        .chunks_exact_mut(span + 1)
        .zip(x.chunks_exact(span))
        .zip(batch.mfe)
    {
        row[..span].copy_from_slice(w);
        row[span] = m;
    }
    drop(x);
    let (n1, bn1_cache) = bn1.forward(&cat, ctx)?;
    drop(cat);
    let mut m1 = hidden2first.forward(&n1);
    elu(&mut m1);
    let (mut n2, bn2_cache) = bn2.forward(&m1, ctx)?;
    let mut dp2 = Buf::zeros(n2.len());
    ctx.fill_dropout_mask(&mut dp2, DP2);
    apply_mask(&mut n2, &dp2);
    let mut m2 = first2med.forward(&n2);
    elu(&mut m2);
    let mut m3 = ff1.forward(&m2);
    elu(&mut m3);
    let logits = ff2.forward(&m3);
    let (loss, dlogits) = focal(&logits, batch.labels, opts, scale);

    // backward
    let mut dm3 = ff2.backward(&m3, &dlogits, grads, true).unwrap_or_default();
    elu_backward(&mut dm3, &m3);
    let mut dm2 = ff1.backward(&m2, &dm3, grads, true).unwrap_or_default();
    elu_backward(&mut dm2, &m2);
    let mut dn2 = first2med
        .backward(&n2, &dm2, grads, true)
        .unwrap_or_default();
    apply_mask(&mut dn2, &dp2);
    let mut dm1 = bn2.backward(&bn2_cache, &dn2, grads);
    elu_backward(&mut dm1, &m1);
    let dn1 = hidden2first
        .backward(&n1, &dm1, grads, true)
        .unwrap_or_default();
    let dcat = bn1.backward(&bn1_cache, &dn1, grads);
    // the tokens' part of the concatenation (the MFE input gets no gradient)
    let mut dx = Buf::zeros(dcat.len() / (span + 1) * span);
    for (d, row) in dx.chunks_exact_mut(span).zip(dcat.chunks_exact(span + 1)) {
        d.copy_from_slice(&row[..span]);
    }
    drop(dcat);
    for (layer, cache) in encoder.iter().zip(layer_caches).rev() {
        dx = layer.backward(&cache, &dx, grads);
    }
    dx.iter_mut().for_each(|v| *v *= sqrt_e);
    conv1.backward(conv_cache, transpose_windows(&dx, c, len), grads);
    Ok(loss)
}

/// The weighted focal loss `Σ wᵢ·(1 − p_t)^γ·(−log p_t)` of the logits `[b, 2]` (column 0: the
/// positive class, `p_t` from `log_softmax`, `wᵢ` = `pos_weight` for a positive), as
/// `ClassifierTask::focal` computes it, and `scale ·` its gradient in the logits.
fn focal(logits: &[f32], labels: &[f32], opts: &ClassifierOptions, scale: f32) -> (f64, Vec<f32>) {
    let gamma = opts.focal_gamma;
    let mut loss = 0f64;
    let mut dlogits = vec![0f32; logits.len()];
    for ((z, d), &y) in logits
        .chunks_exact(2)
        .zip(dlogits.chunks_exact_mut(2))
        .zip(labels)
    {
        let z = [f64::from(z[0]), f64::from(z[1])];
        let max = z[0].max(z[1]);
        let lse = max + ((z[0] - max).exp() + (z[1] - max).exp()).ln();
        let onehot = [f64::from(y), 1.0 - f64::from(y)];
        let logpt = onehot[0] * (z[0] - lse) + onehot[1] * (z[1] - lse);
        let (pt, q) = (logpt.exp(), -logpt.exp_m1()); // q = 1 − p_t
        let w = if y > 0.5 { opts.pos_weight } else { 1.0 };
        loss += w * q.powf(gamma) * -logpt;
        // d/dlogpt of q^γ·(−logpt); its first term tends to 0 with q (and is NaN at q = 0, γ < 1)
        let first = if q > 0.0 {
            gamma * q.powf(gamma - 1.0) * pt * logpt
        } else {
            0.0
        };
        let dlogpt = w * (first - q.powf(gamma)) * f64::from(scale);
        // dlogpt/dz_k = onehot_k − (Σ onehot)·softmax_k
        let total = onehot[0] + onehot[1];
        for k in 0..2 {
            d[k] = (dlogpt * (onehot[k] - total * (z[k] - lse).exp())) as f32;
        }
    }
    (loss, dlogits)
}
