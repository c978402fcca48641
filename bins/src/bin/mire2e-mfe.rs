//! `mire2e-mfe`: model B (MFE) — appends `mfe` to a stream that has `pairing`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mire2e::model::{Kind, Mfe};
use mire2e::stream;
use mire2e_cli::common::Common;
use mire2e_cli::model_args::StageModelArgs;
use mire2e_cli::stage::{self, Batch, Stage};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Estimate the minimum free energy of each window (model B), from its bases and `pairing`.
///
/// Appends `mfe`: the estimated |MFE| per nucleotide. Example: ... | mire2e-fold | mire2e-mfe | ...
#[derive(Debug, Parser)]
#[command(name = "mire2e-mfe", version)]
struct Args {
    /// Stream with `pairing` (from mire2e-fold; '-' = stdin).
    #[arg(default_value = "-", value_name = "TSV")]
    input: PathBuf,
    #[command(flatten)]
    model: StageModelArgs,
    #[command(flatten)]
    common: Common,
}

struct MfeStage {
    model: Mfe,
    batch_size: usize,
}

impl Stage for MfeStage {
    fn columns(&self) -> &'static [&'static str] {
        &["mfe"]
    }
    fn needs(&self) -> (bool, bool) {
        (true, false)
    }
    fn batch_limit(&self) -> (bool, usize) {
        (false, self.batch_size)
    }
    fn predict(&mut self, batch: &Batch) -> anyhow::Result<Vec<f32>> {
        Ok(self.model.predict(&batch.seqs, &batch.structure)?)
    }
    fn width(&self) -> usize {
        1
    }
    fn format(&mut self, values: &[f32], out: &mut [String]) {
        stream::push_f32(&mut out[0], values[0]);
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    mire2e_cli::common::finish("mire2e-mfe", run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    let (path, origin) = args.model.weights(Kind::Mfe)?;
    let model = Mfe::load(&path, &args.model.model.device)?;
    let meta = format!("#mire2e-mfe {} {origin}", env!("CARGO_PKG_VERSION"));
    let mut stage = MfeStage {
        model,
        batch_size: args.model.model.batch_size as usize,
    };
    stage::run(&mut stage, &args.input, &args.common, meta)
}
