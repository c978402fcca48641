//! `mire2e scan` (placeholder until implemented).

/// Options of `mire2e scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: mire2e_cli::common::Common,
}

/// Runs `mire2e scan`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    anyhow::bail!("not implemented yet")
}
