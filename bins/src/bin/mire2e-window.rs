//! `mire2e-window`: FASTA records -> the windows stream (`seq_id start end strand seq`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mire2e::fasta;
use mire2e::stream::{Header, LocationText, Writer};
use mire2e::window::Parts;
use mire2e_cli::window_args::{self, WindowArgs};
use mire2e_cli::{
    common::{Common, Meta},
    output, progress,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Cut FASTA records (plain, gzip or bgzip) into the windows the models read, on both strands.
///
/// Coordinates are 0-based half-open on the forward strand; a '-' window is the reverse
/// complement of the same interval. Example: mire2e-window genome.fa.gz | mire2e-fold | ...
#[derive(Debug, Parser)]
#[command(name = "mire2e-window", version)]
struct Args {
    /// FASTA input, plain, gzip or bgzip ('-' = stdin).
    #[arg(default_value = "-", value_name = "FASTA")]
    input: PathBuf,
    /// Window length (nt).
    #[arg(long, default_value_t = 100, value_name = "NT")]
    length: usize,
    #[command(flatten)]
    windows: WindowArgs,
    /// Cut each record whole: all its '+' windows, then all its '-' windows, as the original does,
    /// whatever its length. Without it, records are read in parts of about a megabase (memory
    /// stays flat) and that order holds within each part; `mire2e-classify --attention
    /// batch-compat` needs it on longer records. Memory then grows with the longest record.
    #[arg(long)]
    whole_records: bool,
    #[command(flatten)]
    common: Common,
}

fn main() -> ExitCode {
    let args = Args::parse();
    mire2e_cli::common::finish("mire2e-window", run(&args))
}

fn run(args: &Args) -> anyhow::Result<()> {
    args.common.init()?;
    let params = args.windows.params(args.length)?;
    let name = output::input_name(&args.input);
    let mut reader = fasta::reader(name, output::open_input(&args.input)?)?;
    let meta = Meta::new("mire2e-window")
        .field(window_args::describe(&params))
        .line();
    let mut writer = Writer::new(
        output::Output::create(&args.common.output)?,
        &Header::windows(meta),
    )?;
    let bar = progress::counter("windows", args.common.quiet > 0);
    let mut parts = if args.whole_records {
        Parts::whole(&params)
    } else {
        Parts::new(&params)
    };
    let (mut id, mut skipped, mut location) = (String::new(), 0, LocationText::default());
    while parts.next_record(&mut reader, &mut id)? {
        while let Some(part) = parts.next(&mut reader)? {
            let mut windows = part.windows();
            for w in windows.by_ref() {
                let [start, end, strand] = location.of(&w);
                let seq = std::str::from_utf8(&w.seq).context("window is not text")?;
                writer.write_row([id.as_str(), start, end, strand, seq], &[])?;
                bar.inc(1);
            }
            skipped += windows.skipped;
        }
    }
    bar.finish_and_clear();
    if skipped > 0 {
        log::info!("skipped {skipped} windows over --max-n / --skip-masked");
    }
    writer.into_inner().commit()
}
