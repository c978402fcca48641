//! Model B, MFE (`mfe.py`): the estimated |minimum free energy| per nucleotide of a window, from
//! its bases and its Structure values.

use std::path::Path;

use super::config::MfeConfig;
use super::cpu::MfeCpu;
use super::nn::mfe::MfeNet;
use super::nn::passes;
use super::{input, load, Device, Kind};
use crate::encode::ALPHABET;
use crate::Result;

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
