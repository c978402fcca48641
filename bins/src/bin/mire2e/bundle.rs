//! `mire2e bundle`: make a model bundle folder from three safetensors files.

use std::path::PathBuf;

use anyhow::Context;
use mire2e::bundle::{self, FileEntry, Files, Manifest, ARCHITECTURE, MANIFEST};
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
    /// Logging (-q / -v).
    #[command(flatten)]
    common: mire2e_cli::common::Common,
}

/// Runs `mire2e bundle`: checks that each file loads as its model, copies the three files into
/// the folder and writes the manifest with their SHA-256.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    anyhow::ensure!(!args.dir.exists(), "{} already exists", args.dir.display());
    Structure::load(&args.structure, &Device::Cpu)?;
    Mfe::load(&args.mfe, &Device::Cpu)?;
    Classifier::load(&args.classifier, &Device::Cpu)?;
    // Build in a sibling temporary folder and rename, so a failed run leaves no half bundle.
    let parent = args
        .dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
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
        training: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
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
