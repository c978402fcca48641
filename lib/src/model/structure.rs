//! Model A, Structure (`structure.py`): per-nucleotide pairing in [-1, 1] from the bases and the
//! positional features.

use std::path::Path;

use super::config::StructureConfig;
use super::cpu::gemm_bf16;
use super::cpu::StructureCpu;
use super::nn::passes;
use super::nn::structure::StructureNet;
use super::{input, load, Device, Kind, Precision};
use crate::encode::ALPHABET;
use crate::{Error, Result};

/// Model A: the pairing of every nucleotide of a window, in [-1, 1] (`(` → +1, `)` → −1, `.` → 0).
pub struct Structure {
    net: Net,
    device: candle_core::Device,
}

/// The CPU runs the hand-written path (`cpu::structure`), a GPU the candle network.
enum Net {
    Candle(StructureNet),
    Cpu(Box<StructureCpu>),
}

impl Structure {
    /// Loads the weights from a safetensors file (tensor names as the original `state_dict`).
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        Self::from_bytes(&load::read(path)?, Some(path), device)
    }

    /// Loads the weights from safetensors bytes in memory (errors name `<in-memory safetensors>`).
    pub fn load_from_buffer(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::from_bytes(bytes, None, device)
    }

    fn from_bytes(bytes: &[u8], origin: Option<&Path>, device: &Device) -> Result<Self> {
        let cfg = StructureConfig::default();
        let cpu = *device == Device::Cpu;
        let (net, device) = load::load(Kind::Structure, bytes, origin, device, |vb| {
            let net = StructureNet::load(vb, &cfg)?; // also checks the configuration
            Ok(if cpu {
                Net::Cpu(Box::new(StructureCpu::load(vb, &cfg)?))
            } else {
                Net::Candle(net)
            })
        })?;
        Ok(Self { net, device })
    }

    /// Sets the arithmetic of the model's matrix products; models load in [`Precision::F32`].
    ///
    /// [`Precision::Bf16`] is opt-in and not parity-exact (see [`Precision`]). It runs where the
    /// CPU has bf16 instructions (Intel AMX, AVX512-BF16); elsewhere, where it would be no faster,
    /// the model stays in f32 and a warning is logged once ([`Self::precision`] says which). It runs
    /// on the CPU only: a model on a GPU refuses it with [`Error::Invalid`].
    ///
    /// ```no_run
    /// use mire2e::model::{Device, Precision, Structure};
    /// # fn main() -> mire2e::Result<()> {
    /// let mut structure = Structure::load("structure.safetensors".as_ref(), &Device::Cpu)?;
    /// structure.set_precision(Precision::Bf16)?;
    /// # Ok(()) }
    /// ```
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        match &mut self.net {
            Net::Cpu(cpu) => {
                if precision == Precision::Bf16 && gemm_bf16::falls_back_to_f32() {
                    return Ok(());
                }
                cpu.set_precision(precision);
            }
            Net::Candle(_) if precision == Precision::F32 => {}
            Net::Candle(_) => {
                return Err(Error::Invalid(format!(
                    "precision {precision} runs on the CPU only: load the structure model with \
                     device cpu, or use precision f32 on a GPU"
                )))
            }
        }
        Ok(())
    }

    /// The arithmetic of the model's matrix products (see [`Self::set_precision`]).
    pub fn precision(&self) -> Precision {
        match &self.net {
            Net::Cpu(cpu) => cpu.precision(),
            Net::Candle(_) => Precision::F32,
        }
    }

    /// Structure values of each window: `windows.len() × 100` values, row-major.
    ///
    /// Each window is exactly 100 bytes of `A C G U N` (upper case). Windows are independent: the
    /// result of a window does not depend on the others in the slice.
    pub fn predict(&self, windows: &[&[u8]]) -> Result<Vec<f32>> {
        let x = input::channels_first(windows, None)?;
        let net = match &self.net {
            Net::Cpu(cpu) => return Ok(cpu.forward(&x)),
            Net::Candle(net) => net,
        };
        passes::run(&x, ALPHABET.len(), &self.device, |x| {
            net.forward(&x)?.flatten_all()?.to_vec1::<f32>()
        })
    }
}
