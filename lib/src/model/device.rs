//! Where the models run: `cpu` (default) or `cuda[:N]` (with the `cuda` cargo feature).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The device a model is loaded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU (all threads of the current rayon pool).
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal; needs a build with the `cuda` feature.
    Cuda(usize),
}

impl Device {
    /// Whether this build can use the device (CUDA needs the `cuda` feature).
    pub fn is_supported(&self) -> bool {
        match self {
            Self::Cpu => true,
            Self::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// The candle device; opening a GPU can fail at run time (no driver, bad ordinal).
    pub(crate) fn to_candle(self) -> Result<candle_core::Device> {
        match self {
            Self::Cpu => Ok(candle_core::Device::Cpu),
            Self::Cuda(ordinal) => {
                if !self.is_supported() {
                    return Err(no_cuda());
                }
                candle_core::Device::new_cuda(ordinal)
                    .map_err(|e| Error::Model(format!("cannot open CUDA device {ordinal}: {e}")))
            }
        }
    }
}

fn no_cuda() -> Error {
    Error::Invalid(
        "this build has no CUDA support (rebuild with the `cuda` feature) — use --device cpu"
            .into(),
    )
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for Device {
    type Err = Error;

    /// `cpu`, `cuda` (= `cuda:0`) or `cuda:N`; CUDA is refused by builds without the `cuda` feature.
    fn from_str(s: &str) -> Result<Self> {
        let device = match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Self::Cpu,
            "cuda" => Self::Cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => Self::Cuda(n),
                _ => {
                    return Err(Error::value("device", s, "cpu, cuda or cuda:N"));
                }
            },
        };
        if device.is_supported() {
            Ok(device)
        } else {
            Err(no_cuda())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!(" CPU ".parse::<Device>().unwrap(), Device::Cpu);
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", ""] {
            let err = bad.parse::<Device>().unwrap_err().to_string();
            assert!(err.contains("device must be cpu, cuda"), "{bad}: {err}");
        }
        if cfg!(feature = "cuda") {
            assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
            assert_eq!("cuda:2".parse::<Device>().unwrap(), Device::Cuda(2));
        } else {
            let err = "cuda:1".parse::<Device>().unwrap_err().to_string();
            assert!(err.contains("no CUDA support"), "{err}");
            assert!(Device::Cuda(0).to_candle().is_err());
        }
    }

    #[test]
    fn displays_as_parsed() {
        assert_eq!(Device::Cpu.to_string(), "cpu");
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
    }
}
