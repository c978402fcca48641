//! Model B, MFE (`mfe.py`): the estimated |minimum free energy| per nucleotide of a window, from
//! its bases and its Structure values.

use std::path::Path;

use candle_core::Tensor;

use super::config::MfeConfig;
use super::cpu::MfeCpu;
use super::layers::{BatchNorm, Encoder, Linear};
use super::weights::Vb;
use super::{input, load, passes, Device, Kind};
use crate::encode::ALPHABET;
use crate::window::WINDOW_LENGTH;
use crate::Result;

/// The network: conv stack with pooling (100 → 12 positions), flattened, then an MLP with BatchNorm.
pub(crate) struct MfeNet {
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

/// Model B: estimated |MFE| per nucleotide (the training target was |MFE| / length).
pub struct Mfe {
    net: Net,
    device: candle_core::Device,
}

/// The CPU runs the hand-written path (`cpu::mfe`), a GPU the candle network.
enum Net {
    Candle(Box<MfeNet>),
    Cpu(Box<MfeCpu>),
}

impl Mfe {
    /// Loads the weights from a safetensors file (tensor names as the original `state_dict`).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_bytes(&load::read(path)?, Some(path), device)
    }

    /// Loads the weights from safetensors bytes in memory (errors name `<in-memory safetensors>`).
    pub fn load_from_buffer(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::from_bytes(bytes, None, device)
    }

    fn from_bytes(bytes: &[u8], origin: Option<&Path>, device: &Device) -> Result<Self> {
        let cfg = MfeConfig::default();
        let cpu = *device == Device::Cpu;
        let (net, device) = load::load(Kind::Mfe, bytes, origin, device, |vb| {
            let net = MfeNet::load(vb, &cfg)?;
            Ok(if cpu {
                Net::Cpu(Box::new(MfeCpu::load(vb, &cfg)?))
            } else {
                Net::Candle(Box::new(net))
            })
        })?;
        Ok(Self { net, device })
    }

    /// One value per window. `structure` holds the Structure output of the same windows
    /// (`windows.len() × 100`, row-major). Windows are independent.
    pub fn predict(&self, windows: &[&[u8]], structure: &[f32]) -> Result<Vec<f32>> {
        let x = input::channels_first(windows, Some(structure))?;
        let net = match &self.net {
            Net::Cpu(cpu) => return Ok(cpu.forward(&x)),
            Net::Candle(net) => net,
        };
        passes::run(&x, ALPHABET.len() + 1, &self.device, |x| {
            net.forward(&x)?.to_vec1::<f32>()
        })
    }
}
