//! Model B's training step: the pooled `Encoder` (100 → 12 positions), its channel-major flatten
//! and the head `hidden2first → ELU → bn1 → first2med → ELU → bn2 → FF1 → ELU`, under the MSE
//! against |MFE| / length.

use candle_core::Result;

use super::blocks::{BatchNorm, Encoder, Linear};
use super::ops::{elu, elu_backward, transpose_windows};
use super::{Grads, Weights};
use crate::model::config::MfeConfig;
use crate::model::nn::train_mode::TrainCtx;
use crate::window::WINDOW_LENGTH;

/// One micro-batch of model B: bases and structure channels-first `[b, 5, 100]`, and the target
/// |MFE| / length `[b]`.
pub(crate) struct MfeBatch<'a> {
    pub x: &'a [f32],
    pub target: &'a [f32],
}

/// Forward and backward pass of one micro-batch: adds `scale ·` the gradient of the sum of squared
/// errors to `grads` and returns that sum (unscaled).
pub(crate) fn mfe_step(
    weights: &Weights,
    batch: &MfeBatch,
    scale: f32,
    ctx: &TrainCtx,
    grads: &mut Grads,
) -> Result<f64> {
    let cfg = MfeConfig::default();
    let (cin, c) = (cfg.conv1.in_channels, cfg.conv1.width);
    let len = cfg.conv1.out_len(WINDOW_LENGTH);
    let conv1 = Encoder::load(weights, "conv1", &cfg.conv1)?;
    let hidden2first = Linear::load(weights, "hidden2first", c * len, cfg.hidden)?;
    let bn1 = BatchNorm::load(weights, "bn1", cfg.hidden)?;
    let first2med = Linear::load(weights, "first2med", cfg.hidden, cfg.med)?;
    let bn2 = BatchNorm::load(weights, "bn2", cfg.med)?;
    let ff1 = Linear::load(weights, "FF1", cfg.med, 1)?;

    // forward, keeping what the backward pass needs
    let x0 = transpose_windows(batch.x, cin, WINDOW_LENGTH);
    let (h, conv_cache) = conv1.forward(&x0, WINDOW_LENGTH, ctx)?;
    drop(x0);
    // view(B, -1) of the [B, 64, 12] map: channel-major
    let flat = transpose_windows(&h, len, c);
    drop(h);
    let mut m1 = hidden2first.forward(&flat);
    elu(&mut m1);
    let (n1, bn1_cache) = bn1.forward(&m1, ctx)?;
    let mut m2 = first2med.forward(&n1);
    elu(&mut m2);
    let (n2, bn2_cache) = bn2.forward(&m2, ctx)?;
    let mut out = ff1.forward(&n2);
    elu(&mut out);

    // loss and its gradient at the output
    let mut loss = 0f64;
    let mut dout: Vec<f32> = out
        .iter()
        .zip(batch.target)
        .map(|(&o, &y)| {
            let err = o - y;
            loss += f64::from(err * err);
            2.0 * err * scale
        })
        .collect();

    // backward
    elu_backward(&mut dout, &out);
    let dn2 = ff1.backward(&n2, &dout, grads, true).unwrap_or_default();
    let mut dm2 = bn2.backward(&bn2_cache, &dn2, grads);
    elu_backward(&mut dm2, &m2);
    let dn1 = first2med
        .backward(&n1, &dm2, grads, true)
        .unwrap_or_default();
    let mut dm1 = bn1.backward(&bn1_cache, &dn1, grads);
    elu_backward(&mut dm1, &m1);
    let dflat = hidden2first
        .backward(&flat, &dm1, grads, true)
        .unwrap_or_default();
    drop(flat);
    conv1.backward(conv_cache, transpose_windows(&dflat, c, len), grads);
    Ok(loss)
}
