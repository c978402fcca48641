//! Model B, MFE (`mfe.py`): the estimated |minimum free energy| per nucleotide of a window, from
//! its bases and its Structure values.

use super::arch::B;
use super::config::MfeConfig;
use super::cpu::MfeCpu;
use super::engine::{Architecture, Engine, Model};
use super::nn::mfe::MfeNet;
use super::nn::passes;
use super::nn::weights::Vb;
use super::{input, Kind, Precision};
use crate::encode::ALPHABET;
use crate::Result;

impl Architecture for B {
    const KIND: Kind = Kind::Mfe;
    type Cpu = MfeCpu;
    type Net = MfeNet;

    fn cpu(vb: &Vb, precision: Precision) -> candle_core::Result<MfeCpu> {
        MfeCpu::load(vb, &MfeConfig::default(), precision)
    }

    fn net(vb: &Vb) -> candle_core::Result<MfeNet> {
        MfeNet::load(vb, &MfeConfig::default())
    }
}

/// Model B: estimated |MFE| per nucleotide (the training target was |MFE| / length).
impl Model<B> {
    /// One value per window. `structure` holds the Structure output of the same windows
    /// (`windows.len() × 100`, row-major). Windows are independent.
    pub fn predict(&self, windows: &[&[u8]], structure: &[f32]) -> Result<Vec<f32>> {
        let x = input::channels_first(windows, Some(structure))?;
        match &self.engine {
            Engine::Cpu(cpu) => Ok(cpu.forward(&x)),
            Engine::Candle { net, device } => passes::run(&x, ALPHABET.len() + 1, device, |x| {
                net.forward(&x)?.to_vec1::<f32>()
            }),
        }
    }
}
