//! `mire2e bundle`: make a model bundle folder from three safetensors files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use mire2e::bundle::{
    self, FileEntry, Files, Manifest, OperatingThreshold, ARCHITECTURE, MANIFEST,
};
use mire2e::model::{Classifier, Device, Mfe, Structure};

/// Options of `mire2e bundle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle folder to create (must not exist yet).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The bundle's name.
    #[arg(long)]
    name: String,
    /// Model A weights (safetensors, e.g. from `mire2e import --kind structure`).
    #[arg(long, value_name = "FILE")]
    structure: PathBuf,
    /// Model B weights.
    #[arg(long, value_name = "FILE")]
    mfe: PathBuf,
    /// Model C weights.
    #[arg(long, value_name = "FILE")]
    classifier: PathBuf,
    /// One or two sentences on what the weights are and where they come from.
    #[arg(long)]
    description: Option<String>,
    /// The manifest's `training` record: a JSON file. Without it, the training records that
    /// `train` writes beside each weights file (`FILE.json`) are collected, if present.
    #[arg(long, value_name = "JSON")]
    training: Option<PathBuf>,
    /// The manifest's `metrics` record: a JSON file.
    #[arg(long, value_name = "JSON")]
    metrics: Option<PathBuf>,
    /// The operating threshold: `scan --bed` and `mire2e-classify --bed` use it when no
    /// --threshold is given.
    #[arg(long, value_name = "T", requires = "threshold_basis")]
    threshold: Option<f32>,
    /// How the threshold was chosen (data and criterion), for the manifest.
    #[arg(long, value_name = "TEXT", requires = "threshold")]
    threshold_basis: Option<String>,
    /// Logging (-q / -v).
    #[command(flatten)]
    common: mire2e_cli::common::Common,
}

/// Runs `mire2e bundle`: checks that each file loads as its model, copies the three files into
/// the folder and writes the manifest with their SHA-256.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    anyhow::ensure!(!args.dir.exists(), "{} already exists", args.dir.display());
    if let Some(t) = args.threshold {
        anyhow::ensure!((0.0..=1.0).contains(&t), "--threshold must be in [0, 1]");
    }
    Structure::load(&args.structure, Device::Cpu)?;
    Mfe::load(&args.mfe, Device::Cpu)?;
    Classifier::load(&args.classifier, Device::Cpu)?;
    // Build in a sibling temporary folder and rename, so a failed run leaves no half bundle.
    let parent = args
        .dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".mire2e-bundle-")
        .tempdir_in(parent)?;
    let copy = |from: &PathBuf, name: &str| -> anyhow::Result<FileEntry> {
        let to = tmp.path().join(name);
        std::fs::copy(from, &to).with_context(|| format!("cannot copy {}", from.display()))?;
        Ok(FileEntry {
            path: name.into(),
            sha256: bundle::sha256_file(&to)?,
        })
    };
    let manifest = Manifest {
        name: args.name.clone(),
        architecture: ARCHITECTURE.into(),
        files: Files {
            structure: copy(&args.structure, "structure.safetensors")?,
            mfe: copy(&args.mfe, "mfe.safetensors")?,
            classifier: copy(&args.classifier, "classifier.safetensors")?,
        },
        description: args.description.clone(),
        training: match &args.training {
            Some(path) => read_json(path)?,
            None => sidecar_records(args)?,
        },
        metrics: match &args.metrics {
            Some(path) => read_json(path)?,
            None => serde_json::Value::Null,
        },
        threshold: args.threshold.map(|value| OperatingThreshold {
            value,
            basis: args.threshold_basis.clone().unwrap_or_default(),
        }),
    };
    std::fs::write(
        tmp.path().join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    std::fs::rename(tmp.keep(), &args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    log::info!("wrote bundle {}", args.dir.display());
    Ok(())
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// `{structure, mfe, classifier}` from the `FILE.json` records `train` leaves beside its outputs
/// (null when none of the three has one).
fn sidecar_records(args: &Args) -> anyhow::Result<serde_json::Value> {
    let mut records = serde_json::Map::new();
    for (stage, weights) in [
        ("structure", &args.structure),
        ("mfe", &args.mfe),
        ("classifier", &args.classifier),
    ] {
        let mut name = weights.clone().into_os_string();
        name.push(".json");
        let sidecar = PathBuf::from(name);
        if sidecar.is_file() {
            records.insert(stage.into(), read_json(&sidecar)?);
        }
    }
    Ok(if records.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Object(records)
    })
}
