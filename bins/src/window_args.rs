//! Window options shared by `mire2e-window` and `mire2e scan`.

use mire2e::window::{Params, Strands};

/// How windows are laid over the records.
#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// Distance between window starts (nt).
    #[arg(long, default_value_t = 20, value_name = "NT")]
    pub step: usize,
    /// Strands to scan.
    #[arg(long, default_value = "both", value_parser = parse_strands, value_name = "both|forward|reverse")]
    pub strands: Strands,
    /// Do not add a last window aligned to the record end (reproduces the original's windows).
    #[arg(long)]
    pub no_tail: bool,
    /// Skip windows whose fraction of N (IUPAC codes count as N) exceeds F.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub max_n: f64,
    /// Skip windows whose fraction of soft-masked (lower-case) bases exceeds F.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub skip_masked: f64,
}

fn parse_strands(s: &str) -> Result<Strands, String> {
    s.parse().map_err(|e: mire2e::Error| e.to_string())
}

impl WindowArgs {
    /// The library's parameters for windows of `length` nt, validated.
    pub fn params(&self, length: usize) -> anyhow::Result<Params> {
        let params = Params {
            length,
            step: self.step,
            strands: self.strands,
            tail: !self.no_tail,
            max_n: self.max_n,
            max_masked: self.skip_masked,
        };
        params.validate()?;
        Ok(params)
    }
}

/// The parameters as stream metadata (`length=100 step=20 …`).
pub fn describe(params: &Params) -> String {
    format!(
        "length={} step={} strands={} tail={} max_n={} skip_masked={}",
        params.length, params.step, params.strands, params.tail, params.max_n, params.max_masked
    )
}
