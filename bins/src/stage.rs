//! A stage binary's run: its input and output opened, a progress bar, the library's stage loop
//! ([`mire2e::pipeline::run_stage`]).

use std::path::Path;

use mire2e::pipeline::{run_stage, Stage};
use mire2e::stream::Reader;

use crate::common::Common;
use crate::{output, progress};

/// Runs `stage` over the stream at `input`, writing to `common.output`.
pub fn run(
    stage: &mut dyn Stage,
    input: &Path,
    common: &Common,
    meta: String,
) -> anyhow::Result<()> {
    let mut reader = Reader::new(output::input_name(input), output::open_input(input)?)?;
    let out = output::Output::create(&common.output)?;
    let bar = progress::counter("windows", common.quiet > 0);
    let out = run_stage(stage, &mut reader, out, meta, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    out.commit()
}
