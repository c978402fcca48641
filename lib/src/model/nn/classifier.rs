//! The candle network of Model C, the classifier: the original's layers, for the GPU, for
//! training, and as the reference the CPU engine is tested against.

use std::sync::Arc;

use candle_core::Tensor;

use crate::model::config::ClassifierConfig;
use crate::model::nn::layers::{BatchNorm, Encoder, EncoderLayer, Linear, TransformerEncoder};
use crate::model::nn::train_mode::TrainCtx;
use crate::model::nn::weights::Vb;
use crate::model::Attention;
use crate::window::WINDOW_LENGTH;

/// The network: conv stack (100 → 6 positions) cut into 6 tokens, 3 transformer layers, an MLP.
pub struct ClassifierNet {
    conv1: Encoder,
    /// The stored `PE.pe` buffer, [1, tokens, E]
    pe: Tensor,
    transformer: TransformerEncoder,
    bn1: BatchNorm,
    hidden2first: Linear,
    bn2: BatchNorm,
    first2med: Linear,
    ff1: Linear,
    ff2: Linear,
    d_model: usize,
    tokens: usize,
    /// Train mode: `dp2` drops half of `bn2`'s outputs.
    train: Option<Arc<TrainCtx>>,
}

/// `dp2` of the original.
pub(crate) const DP2: f32 = 0.5;

impl ClassifierNet {
    pub fn load(vb: &Vb, cfg: &ClassifierConfig) -> candle_core::Result<Self> {
        let e = cfg.transformer.d_model;
        let conv_values = cfg.conv1.width * cfg.conv1.out_len(WINDOW_LENGTH);
        if !conv_values.is_multiple_of(e) {
            candle_core::bail!(
                "conv output of {conv_values} values does not cut into tokens of {e}"
            );
        }
        let tokens = conv_values / e;
        // stray modules of the original that forward() never calls
        vb.declare_unused_module(|vb| {
            EncoderLayer::load(&vb.pp("encoder_layer"), &cfg.transformer)
        })?;
        vb.declare_unused_module(|vb| Linear::load(&vb.pp("med2tag"), 5, 2))?;
        let flat = tokens * e + 1; // + the MFE value
        Ok(Self {
            conv1: Encoder::load(&vb.pp("conv1"), &cfg.conv1)?,
            pe: vb.pp("PE").get(&[1, tokens, e], "pe")?,
            transformer: TransformerEncoder::load(&vb.pp("transformer_encoder"), &cfg.transformer)?,
            bn1: BatchNorm::load(&vb.pp("bn1"), flat)?,
            hidden2first: Linear::load(&vb.pp("hidden2first"), flat, cfg.hidden)?,
            bn2: BatchNorm::load(&vb.pp("bn2"), cfg.hidden)?,
            first2med: Linear::load(&vb.pp("first2med"), cfg.hidden, cfg.hidden)?,
            ff1: Linear::load(&vb.pp("FF1"), cfg.hidden, cfg.hidden)?,
            ff2: Linear::load(&vb.pp("FF2"), cfg.hidden, 2)?,
            d_model: e,
            tokens,
            train: vb.train(),
        })
    }

    /// `x`: bases + structure [B, 5, 100], `mfe`: [B, 1] → class-0 probability [B].
    pub fn forward(
        &self,
        x: &Tensor,
        mfe: &Tensor,
        attention: Attention,
    ) -> candle_core::Result<Tensor> {
        let b = x.dim(0)?;
        let probs = candle_nn::ops::softmax_last_dim(&self.logits(x, mfe, attention)?)?;
        probs.narrow(1, 0, 1)?.reshape(b)
    }

    /// The two logits [B, 2] before the softmax (column 0: pre-miRNA).
    pub fn logits(
        &self,
        x: &Tensor,
        mfe: &Tensor,
        attention: Attention,
    ) -> candle_core::Result<Tensor> {
        let b = x.dim(0)?;
        let (s, e) = (self.tokens, self.d_model);
        // .view(B, -1, 64) of the [B, 64, 6] map: a memory reinterpretation, not a transpose
        let a = self.conv1.forward(x)?.reshape((b, s, e))?;
        let a = (a * (e as f64).sqrt())?.broadcast_add(&self.pe)?;
        let t = match attention {
            Attention::Window => self
                .transformer
                .forward(&a.reshape((b * s, e))?, b, s)?
                .reshape((b, s * e))?,
            Attention::BatchCompat => {
                // .view(6, B, 64) is sequence-first: batch column n attends over flat rows s·B + n
                // of the [B·6, 64] token list. Our layers are batch-first, so transpose in and out.
                let t = a
                    .reshape((s, b, e))?
                    .transpose(0, 1)?
                    .contiguous()?
                    .reshape((b * s, e))?;
                let t = self.transformer.forward(&t, b, s)?;
                // T.view(B, -1) reads the sequence-first memory [6, B, 64] back row by row
                t.reshape((b, s, e))?
                    .transpose(0, 1)?
                    .contiguous()?
                    .reshape((b, s * e))?
            }
        };
        let h = Tensor::cat(&[&t, mfe], 1)?;
        let h = self
            .hidden2first
            .forward(&self.bn1.forward(&h)?)?
            .elu(1.0)?;
        let mut h = self.bn2.forward(&h)?;
        if let Some(ctx) = &self.train {
            h = ctx.dropout(&h, DP2)?;
        }
        let h = self.first2med.forward(&h)?.elu(1.0)?;
        let h = self.ff1.forward(&h)?.elu(1.0)?;
        self.ff2.forward(&h)
    }
}
