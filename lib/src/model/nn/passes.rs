//! The candle networks' forward pass over a call's windows, on a GPU: the whole slice is one pass
//! (on the CPU the hand-written engine splits windows into tiles itself).

use candle_core::{Device, Tensor};

use crate::model::model_error;
use crate::window::WINDOW_LENGTH;
use crate::Result;

/// Runs `forward` on the channel-first input `x` (`channels` × 100 values per window) as one
/// [n, channels, 100] tensor on `device`.
pub(crate) fn run(
    x: &[f32],
    channels: usize,
    device: &Device,
    forward: impl FnOnce(Tensor) -> candle_core::Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let windows = x.len() / (channels * WINDOW_LENGTH);
    Tensor::from_slice(x, (windows, channels, WINDOW_LENGTH), device)
        .and_then(forward)
        .map_err(model_error)
}
