//! Model options shared by the stages and `mire2e scan`: which weights, device and batch size.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mire2e::bundle::Bundle;
use mire2e::model::{Device, Kind, Placement, Precision};

/// Where a model's weights come from.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Model bundle: a name (`default`, or one under $MIRE2E_MODELS) or a bundle folder.
    #[arg(long, default_value = "default", value_name = "NAME|DIR")]
    pub model: String,
    /// Device: cpu, cuda or cuda:N (CUDA needs a build with the `cuda` feature).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: Device,
    /// Windows per model call.
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
}

/// `--precision`, for the binaries that run a model (`mire2e-fold`, `mire2e-mfe`,
/// `mire2e-classify`, `mire2e scan`).
#[derive(Debug, Clone, clap::Args)]
pub struct PrecisionArgs {
    /// Arithmetic of the matrix products (the Structure model's, and the MFE and Classifier
    /// models' convolutions). f32 (default) matches the original within 1e-4. bf16 is opt-in and
    /// not parity-exact (operands rounded to bfloat16, sums in f32; deviation measured in
    /// docs/precision.md); it runs on CPUs with Intel AMX (Xeon Sapphire Rapids or later) or
    /// AVX512-BF16 (AMD Zen 4 or later); elsewhere it warns and runs f32. CPU only.
    #[arg(long, default_value = "f32", value_name = "PRECISION",
          value_parser = precision_parser())]
    pub precision: Precision,
}

impl PrecisionArgs {
    /// Refuses bf16 on a GPU before any model is loaded.
    pub fn check(&self, device: &Device) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.precision == Precision::F32 || *device == Device::Cpu,
            "--precision {} runs on the CPU only (not on --device {device}): use --device cpu or \
             --precision f32",
            self.precision
        );
        Ok(())
    }

    /// Where and how the models load.
    pub fn placement(&self, device: Device) -> Placement {
        Placement {
            device,
            precision: self.precision,
        }
    }

    /// Text for the stream metadata, from the precision the model `runs` in (bf16 falls back to f32
    /// on a CPU without bf16 instructions); nothing for f32, so f32 streams stay as they were.
    pub fn describe(runs: Precision) -> Option<String> {
        (runs != Precision::F32).then(|| format!("precision={runs}"))
    }
}

/// One stage's weights: a safetensors file, or the bundle's file of that kind.
#[derive(Debug, Clone, clap::Args)]
pub struct StageModelArgs {
    /// Bundle, device and batch size.
    #[command(flatten)]
    pub model: ModelArgs,
    /// This stage's safetensors weights (instead of --model).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub weights: Option<PathBuf>,
}

impl StageModelArgs {
    /// The bundle this stage reads its weights from (none with --weights).
    pub fn bundle_in_use(&self) -> anyhow::Result<Option<Bundle>> {
        match self.weights {
            Some(_) => Ok(None),
            None => self.model.bundle().map(Some),
        }
    }

    /// The weights file of `kind`, read once: its path, its bytes (for `Model::load_bytes`) and a
    /// description for the stream metadata.
    pub fn weights(&self, kind: Kind) -> anyhow::Result<(PathBuf, Vec<u8>, String)> {
        match &self.weights {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| mire2e::Error::Io {
                    path: path.clone(),
                    source,
                })?;
                let sha = mire2e::bundle::sha256(&bytes);
                let origin = format!("weights={} sha256={}", path.display(), &sha[..12]);
                Ok((path.clone(), bytes, origin))
            }
            None => {
                let bundle = self.model.bundle()?;
                let (path, bytes) = bundle.read_weights(kind)?;
                Ok((path, bytes, format!("model={}", bundle.id())))
            }
        }
    }
}

impl ModelArgs {
    /// Opens the bundle named by `--model`.
    pub fn bundle(&self) -> anyhow::Result<Bundle> {
        let dir = resolve(&self.model)?;
        Bundle::open(&dir).with_context(|| format!("cannot open model bundle '{}'", self.model))
    }
}

/// `f32` or `bf16`, listed in the help.
fn precision_parser() -> impl clap::builder::TypedValueParser<Value = Precision> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["f32", "bf16"]).map(|s| {
        if s == "bf16" {
            Precision::Bf16
        } else {
            Precision::F32
        }
    })
}

fn parse_device(s: &str) -> Result<Device, String> {
    s.parse().map_err(|e: mire2e::Error| e.to_string())
}

/// A bundle folder from a path or a name. Names are looked up in `$MIRE2E_MODELS`, then beside the
/// installed binary (`../share/mire2e/models`, the conda layout), then in the source checkout the
/// binary was built from (`models/`).
pub fn resolve(model: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(model);
    if path.join(mire2e::bundle::MANIFEST).is_file() {
        return Ok(path.to_owned());
    }
    let mut places: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("MIRE2E_MODELS") {
        places.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(prefix) = exe.parent().and_then(Path::parent) {
            places.push(prefix.join("share/mire2e/models"));
        }
    }
    places.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    for place in &places {
        let dir = place.join(model);
        if dir.join(mire2e::bundle::MANIFEST).is_file() {
            return Ok(dir);
        }
    }
    let looked: Vec<String> = places
        .iter()
        .map(|p| p.join(model).display().to_string())
        .collect();
    anyhow::bail!(
        "no model bundle '{model}' (looked in: {}); give --model DIR or a stage's --weights FILE",
        looked.join(", ")
    )
}
