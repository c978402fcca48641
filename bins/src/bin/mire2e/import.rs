//! `mire2e import` (placeholder until implemented).

/// Options of `mire2e import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: mire2e_cli::common::Common,
}

/// Runs `mire2e import`.
pub fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    anyhow::bail!("not implemented yet")
}
