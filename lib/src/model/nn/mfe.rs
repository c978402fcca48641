//! The candle network of Model B, MFE: the original's layers, for the GPU, for
//! training, and as the reference the CPU engine is tested against.

use candle_core::Tensor;

use crate::model::config::MfeConfig;
use crate::model::nn::layers::{BatchNorm, Encoder, Linear};
use crate::model::nn::weights::Vb;
use crate::window::WINDOW_LENGTH;

/// The network: conv stack with pooling (100 → 12 positions), flattened, then an MLP with BatchNorm.
pub struct MfeNet {
    conv1: Encoder,
    hidden2first: Linear,
    bn1: BatchNorm,
    first2med: Linear,
    bn2: BatchNorm,
    ff1: Linear,
}

impl MfeNet {
    pub fn load(vb: &Vb, cfg: &MfeConfig) -> candle_core::Result<Self> {
        let flat = cfg.conv1.width * cfg.conv1.out_len(WINDOW_LENGTH);
        Ok(Self {
            conv1: Encoder::load(&vb.pp("conv1"), &cfg.conv1)?,
            hidden2first: Linear::load(&vb.pp("hidden2first"), flat, cfg.hidden)?,
            bn1: BatchNorm::load(&vb.pp("bn1"), cfg.hidden)?,
            first2med: Linear::load(&vb.pp("first2med"), cfg.hidden, cfg.med)?,
            bn2: BatchNorm::load(&vb.pp("bn2"), cfg.med)?,
            ff1: Linear::load(&vb.pp("FF1"), cfg.med, 1)?,
        })
    }

    /// `x`: bases + structure [B, 5, 100] → [B].
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let b = x.dim(0)?;
        // view(B, -1): channel-major flatten of [B, 64, 12]
        let h = self.conv1.forward(x)?.reshape((b, ()))?;
        let h = self.hidden2first.forward(&h)?.elu(1.0)?;
        let h = self.first2med.forward(&self.bn1.forward(&h)?)?.elu(1.0)?;
        self.ff1
            .forward(&self.bn2.forward(&h)?)?
            .elu(1.0)?
            .reshape(b)
    }
}
