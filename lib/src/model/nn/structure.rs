//! The candle network of Model A, Structure: the original's layers, for the GPU, for
//! training, and as the reference the CPU engine is tested against.

use candle_core::{Tensor, D};

use crate::encode::{get_pe, PE_FEATURES};
use crate::model::config::StructureConfig;
use crate::model::nn::layers::{Encoder, EncoderLayer, Linear, TransformerEncoder};
use crate::model::nn::weights::Vb;
use crate::window::WINDOW_LENGTH;

/// The network: conv stack, concatenated positional features, 6 transformer layers, per-position head.
pub struct StructureNet {
    conv_in: Encoder,
    /// `get_pe(100, 100)`, [1, 100, 111]
    pe: Tensor,
    transformer: TransformerEncoder,
    hidden2first: Linear,
    first2med: Linear,
    med2tag: Linear,
}

impl StructureNet {
    pub fn load(vb: &Vb, cfg: &StructureConfig) -> candle_core::Result<Self> {
        let e = cfg.transformer.d_model;
        if cfg.conv_in.width + PE_FEATURES != e {
            candle_core::bail!(
                "d_model {e} must be conv width {} + {PE_FEATURES}",
                cfg.conv_in.width
            );
        }
        // the original also carries a stray, never-called `encoder_layer`
        vb.declare_unused_module(|vb| {
            EncoderLayer::load(&vb.pp("encoder_layer"), &cfg.transformer)
        })?;
        let pe = Tensor::from_vec(
            get_pe(WINDOW_LENGTH, WINDOW_LENGTH),
            (1, WINDOW_LENGTH, PE_FEATURES),
            &vb.device(),
        )?;
        Ok(Self {
            conv_in: Encoder::load(&vb.pp("conv_in"), &cfg.conv_in)?,
            pe,
            transformer: TransformerEncoder::load(&vb.pp("transformer_encoder"), &cfg.transformer)?,
            hidden2first: Linear::load(&vb.pp("hidden2first"), e, cfg.hidden)?,
            first2med: Linear::load(&vb.pp("first2med"), cfg.hidden, cfg.med)?,
            med2tag: Linear::load(&vb.pp("med2tag"), cfg.med, 1)?,
        })
    }

    /// `x`: one-hot [B, 4, 100] → [B, 100] (tanh).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, t) = x.dims3()?;
        let pe = self.pe.broadcast_as((b, t, PE_FEATURES))?;
        self.forward_pe(x, &pe)
    }

    /// `x`: one-hot [B, 4, 100], `pe`: [B, 100, 111] (training: each sequence's `get_pe(len, 100)`)
    /// → [B, 100].
    pub fn forward_pe(&self, x: &Tensor, pe: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, t) = x.dims3()?;
        let conv = self.conv_in.forward(x)?.transpose(1, 2)?; // [B, T, 111]
                                                              // cat([conv, pe], channels), batch-first: [B·T, 222]
        let h = Tensor::cat(&[&conv, pe], D::Minus1)?.reshape((b * t, ()))?;
        let h = self.transformer.forward(&h, b, t)?;
        let h = self.hidden2first.forward(&h)?.elu(1.0)?;
        let h = self.first2med.forward(&h)?.elu(1.0)?;
        self.med2tag.forward(&h)?.tanh()?.reshape((b, t))
    }
}
