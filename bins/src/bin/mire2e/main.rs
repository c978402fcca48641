//! `mire2e`: the whole cascade in one process (`scan`) and checkpoint import (`import`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bundle;
mod import;
mod partial;
mod scan;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Genome-wide pre-miRNA discovery (miRe2e): windows -> structure -> MFE -> classifier.
///
/// Example: mire2e scan genome.fa.gz -o windows.tsv --bed candidates.bed
#[derive(Debug, Parser)]
#[command(name = "mire2e", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan FASTA records for pre-miRNA candidates with the whole cascade.
    Scan(scan::Args),
    /// Convert an original miRe2e PyTorch checkpoint (zip or legacy pickle) to safetensors.
    Import(import::Args),
    /// Make a model bundle folder (manifest + three safetensors files) for --model.
    Bundle(bundle::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Import(args) => import::run(args),
        Command::Bundle(args) => bundle::run(args),
    };
    mire2e_cli::common::finish("mire2e", result)
}
