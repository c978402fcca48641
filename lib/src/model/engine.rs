//! One shape and one loader for the three models. On the CPU a model runs the hand-written engine
//! (`cpu/`), elsewhere the candle network (`nn/`); only the one that runs is built, its weights
//! packed once for the precision it runs in.

use std::path::Path;

use super::cpu::gemm_bf16;
use super::nn::weights::Vb;
use super::{load, Device, Kind, Placement, Precision};
use crate::{Error, Result};

/// One of the three models, loaded for a [`Placement`]: use it as [`Structure`](super::Structure)
/// (A), [`Mfe`](super::Mfe) (B) or [`Classifier`](super::Classifier) (C).
pub struct Model<A: Architecture> {
    pub(super) engine: Engine<A>,
    precision: Precision,
}

/// How a loaded model runs.
pub(super) enum Engine<A: Architecture> {
    Cpu(Box<A::Cpu>),
    Candle {
        net: Box<A::Net>,
        device: candle_core::Device,
    },
}

/// What a model's type parameter ([`super::arch`]) decides: its weights and how its two engines are
/// built. Not nameable outside the crate, so the three architectures are the only ones.
pub trait Architecture {
    /// Its weights' kind (tensor names, messages).
    const KIND: Kind;
    /// The CPU engine.
    type Cpu: Send + Sync;
    /// The candle network.
    type Net: Send + Sync;
    /// The CPU engine, its products packed for `precision`.
    fn cpu(vb: &Vb, precision: Precision) -> candle_core::Result<Self::Cpu>;
    /// The candle network.
    fn net(vb: &Vb) -> candle_core::Result<Self::Net>;
}

impl<A: Architecture> Model<A> {
    /// Loads the weights from a safetensors file (tensor names as the original `state_dict`) for a
    /// [`Placement`]: a [`Device`] alone means f32.
    pub fn load(path: &Path, placement: impl Into<Placement>) -> Result<Self> {
        Self::from_bytes(&load::read(path)?, Some(path), placement.into())
    }

    /// Loads the weights from the bytes of the safetensors file `path`, read beforehand (to check
    /// them, as `Bundle::read_weights` does, without reading the file twice); errors name `path`.
    pub fn load_bytes(bytes: &[u8], path: &Path, placement: impl Into<Placement>) -> Result<Self> {
        Self::from_bytes(bytes, Some(path), placement.into())
    }

    /// Loads the weights from safetensors bytes in memory (errors name `<in-memory safetensors>`).
    pub fn load_from_buffer(bytes: &[u8], placement: impl Into<Placement>) -> Result<Self> {
        Self::from_bytes(bytes, None, placement.into())
    }

    fn from_bytes(bytes: &[u8], origin: Option<&Path>, placement: Placement) -> Result<Self> {
        let precision = runs_in::<A>(placement)?;
        let device = placement.device.to_candle()?;
        let engine = load::build(A::KIND, bytes, origin, &device, |vb| {
            Ok(match placement.device {
                Device::Cpu => Engine::Cpu(Box::new(A::cpu(vb, precision)?)),
                Device::Cuda(_) => Engine::Candle {
                    net: Box::new(A::net(vb)?),
                    device: device.clone(),
                },
            })
        })?;
        Ok(Self { engine, precision })
    }

    /// The arithmetic of the model's matrix products: the placement's, except f32 where the CPU
    /// has no bf16 path (see [`Placement::precision`]).
    pub fn precision(&self) -> Precision {
        self.precision
    }
}

/// The precision model `A` runs in for `placement`: bf16 only on the CPU (refused on a GPU), and
/// only where the CPU has bf16 instructions (else f32, warned once).
fn runs_in<A: Architecture>(placement: Placement) -> Result<Precision> {
    let Placement { device, precision } = placement;
    if precision == Precision::F32 {
        return Ok(precision);
    }
    if device != Device::Cpu {
        return Err(Error::Invalid(format!(
            "precision {precision} runs on the CPU only: load the {} model with device cpu, or \
             use precision f32 on {device}",
            A::KIND
        )));
    }
    Ok(if gemm_bf16::falls_back_to_f32() {
        Precision::F32
    } else {
        precision
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::{A, B, C};

    const BF16: Precision = Precision::Bf16;

    #[test]
    fn bf16_runs_on_the_cpu_only() {
        let cpu = Placement {
            device: Device::Cpu,
            precision: BF16,
        };
        let has_bf16 = !gemm_bf16::falls_back_to_f32();
        assert_eq!(runs_in::<A>(cpu).unwrap() == BF16, has_bf16);
        assert_eq!(runs_in::<B>(cpu).unwrap() == BF16, has_bf16);
        assert_eq!(runs_in::<C>(cpu).unwrap() == BF16, has_bf16);
        let gpu = Placement {
            device: Device::Cuda(0),
            precision: BF16,
        };
        let err = runs_in::<A>(gpu).unwrap_err().to_string();
        assert!(err.contains("runs on the CPU only"), "{err}");
        assert_eq!(
            runs_in::<A>(Device::Cuda(0).into()).unwrap(),
            Precision::F32
        );
    }
}
