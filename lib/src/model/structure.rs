//! Model A, Structure (`structure.py`): per-nucleotide pairing in [-1, 1] from the bases and the
//! positional features.

use super::arch::A;
use super::config::StructureConfig;
use super::cpu::StructureCpu;
use super::engine::{Architecture, Engine, Model};
use super::nn::passes;
use super::nn::structure::StructureNet;
use super::nn::weights::Vb;
use super::{input, Kind, Precision};
use crate::encode::ALPHABET;
use crate::Result;

impl Architecture for A {
    const KIND: Kind = Kind::Structure;
    type Cpu = StructureCpu;
    type Net = StructureNet;

    fn cpu(vb: &Vb, precision: Precision) -> candle_core::Result<StructureCpu> {
        StructureCpu::load(vb, &StructureConfig::default(), precision)
    }

    fn net(vb: &Vb) -> candle_core::Result<StructureNet> {
        StructureNet::load(vb, &StructureConfig::default())
    }
}

/// Model A: the pairing of every nucleotide of a window, in [-1, 1] (`(` → +1, `)` → −1, `.` → 0).
impl Model<A> {
    /// Structure values of each window: `windows.len() × 100` values, row-major.
    ///
    /// Each window is exactly 100 bytes of `A C G U N` (upper case). Windows are independent: the
    /// result of a window does not depend on the others in the slice.
    pub fn predict(&self, windows: &[&[u8]]) -> Result<Vec<f32>> {
        let x = input::channels_first(windows, None)?;
        match &self.engine {
            Engine::Cpu(cpu) => Ok(cpu.forward(&x)),
            Engine::Candle { net, device } => passes::run(&x, ALPHABET.len(), device, |x| {
                net.forward(&x)?.flatten_all()?.to_vec1::<f32>()
            }),
        }
    }
}
