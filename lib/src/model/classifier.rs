//! Model C, the classifier (`Predictor` in `predictor.py`): the pre-miRNA score of a window from its
//! bases, Structure values and MFE.

use candle_core::Tensor;

use super::arch::C;
use super::config::ClassifierConfig;
use super::cpu::ClassifierCpu;
use super::engine::{Architecture, Engine, Model};
use super::nn::classifier::ClassifierNet;
use super::nn::passes;
use super::nn::weights::Vb;
use super::{input, Attention, Kind, Precision};
use crate::encode::ALPHABET;
use crate::Result;

impl Architecture for C {
    const KIND: Kind = Kind::Classifier;
    type Cpu = ClassifierCpu;
    type Net = ClassifierNet;

    fn cpu(vb: &Vb, precision: Precision) -> candle_core::Result<ClassifierCpu> {
        ClassifierCpu::load(vb, &ClassifierConfig::default(), precision)
    }

    fn net(vb: &Vb) -> candle_core::Result<ClassifierNet> {
        ClassifierNet::load(vb, &ClassifierConfig::default())
    }
}

/// Model C: the probability that a window holds a pre-miRNA (softmax class 0).
impl Model<C> {
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
        match &self.engine {
            Engine::Cpu(cpu) => Ok(cpu.forward(&x, mfe, attention)),
            Engine::Candle { net, device } => passes::run(&x, ALPHABET.len() + 1, device, |x| {
                let mfe = Tensor::from_slice(mfe, (mfe.len(), 1), device)?;
                net.forward(&x, &mfe, attention)?.to_vec1::<f32>()
            }),
        }
    }
}
