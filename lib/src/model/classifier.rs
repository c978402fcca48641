//! Model C, the classifier (`Predictor` in `predictor.py`): the pre-miRNA score of a window from its
//! bases, Structure values and MFE.

use std::path::Path;

use candle_core::Tensor;

use super::config::ClassifierConfig;
use super::cpu::ClassifierCpu;
use super::nn::classifier::ClassifierNet;
use super::nn::passes;
use super::{input, load, Attention, Device, Kind};
use crate::encode::ALPHABET;
use crate::Result;

/// Model C: the probability that a window holds a pre-miRNA (softmax class 0).
pub struct Classifier {
    net: ClassifierNet,
    /// On the CPU, the hand-written path of `Attention::Window` (`cpu::classifier`); `BatchCompat`
    /// and a GPU take the candle network.
    cpu: Option<Box<ClassifierCpu>>,
    device: candle_core::Device,
}

impl Classifier {
    /// Loads the weights from a safetensors file (tensor names as the original `state_dict`).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_bytes(&load::read(path)?, Some(path), device)
    }

    /// Loads the weights from safetensors bytes in memory (errors name `<in-memory safetensors>`).
    pub fn load_from_buffer(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::from_bytes(bytes, None, device)
    }

    fn from_bytes(bytes: &[u8], origin: Option<&Path>, device: &Device) -> Result<Self> {
        let cfg = ClassifierConfig::default();
        let cpu = *device == Device::Cpu;
        let ((net, cpu), device) = load::load(Kind::Classifier, bytes, origin, device, |vb| {
            let net = ClassifierNet::load(vb, &cfg)?; // also checks the configuration
            let cpu = if cpu {
                Some(Box::new(ClassifierCpu::load(vb, &cfg)?))
            } else {
                None
            };
            Ok((net, cpu))
        })?;
        Ok(Self { net, cpu, device })
    }

    /// One score per window. `structure` (`windows.len() × 100`) and `mfe` (`windows.len()`) are the
    /// Structure and MFE outputs of the same windows.
    ///
    /// With [`Attention::Window`] each window is scored on its own (independent of the slice); with
    /// [`Attention::BatchCompat`] the slice is taken as one batch of the original and its
    /// cross-window attention is reproduced exactly.
    pub fn predict(
        &self,
        windows: &[&[u8]],
        structure: &[f32],
        mfe: &[f32],
        attention: Attention,
    ) -> Result<Vec<f32>> {
        input::expect_len("MFE values", mfe.len(), windows.len(), windows.len())?;
        let x = input::channels_first(windows, Some(structure))?;
        if let (Some(cpu), Attention::Window) = (&self.cpu, attention) {
            return Ok(cpu.forward(&x, mfe));
        }
        // a GPU, or BatchCompat: the slice is one batch of the original
        passes::run(&x, ALPHABET.len() + 1, &self.device, |x| {
            let mfe = Tensor::from_slice(mfe, (mfe.len(), 1), &self.device)?;
            self.net.forward(&x, &mfe, attention)?.to_vec1::<f32>()
        })
    }
}
