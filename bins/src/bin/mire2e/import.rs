//! `mire2e import`: an original PyTorch checkpoint to a safetensors weights file.

use std::path::PathBuf;

use anyhow::Context;
use mire2e::import::read_checkpoint;
use mire2e::model::Kind;
use mire2e_cli::output::Output;

/// Options of `mire2e import`.
///
/// Example: mire2e import mfe.pkl --kind mfe -o mfe.safetensors
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint saved by `torch.save(model.state_dict(), ...)`, zip or legacy format.
    #[arg(value_name = "CHECKPOINT")]
    checkpoint: PathBuf,
    /// Which model the checkpoint holds; every tensor name and shape is checked against it.
    #[arg(long, value_enum, value_name = "MODEL")]
    kind: KindArg,
    #[command(flatten)]
    common: mire2e_cli::common::Common,
}

/// `--kind` values (clap stays out of the library's `Kind`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    /// Model A, per-nucleotide structure (`structure.pkl`).
    Structure,
    /// Model B, minimum free energy (`mfe.pkl`).
    Mfe,
    /// Model C, pre-miRNA classifier (`predictor.pkl`).
    #[value(alias = "predictor")]
    Classifier,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Structure => Kind::Structure,
            KindArg::Mfe => Kind::Mfe,
            KindArg::Classifier => Kind::Classifier,
        }
    }
}

/// Runs `mire2e import`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    let output = &args.common.output;
    if output.as_os_str() == "-" {
        // A usage error (exit 2): safetensors is binary and never goes to stdout.
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "mire2e import writes a binary safetensors file: give its path with -o/--output \
             (stdout is not allowed)\n",
        )
        .exit();
    }
    if same_file(&args.checkpoint, output) {
        anyhow::bail!(
            "{}: the output would overwrite the checkpoint",
            output.display()
        );
    }
    let checkpoint = read_checkpoint(&args.checkpoint, args.kind.into())?;
    let mut out = Output::create(output)?;
    checkpoint
        .write_safetensors(&mut out)
        .with_context(|| format!("cannot write {}", output.display()))?;
    out.commit()?;
    log::info!(
        "{} ({} format): {} tensors of the {} model written to {}",
        args.checkpoint.display(),
        checkpoint.format,
        checkpoint.tensors.len(),
        checkpoint.kind,
        output.display()
    );
    Ok(())
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
