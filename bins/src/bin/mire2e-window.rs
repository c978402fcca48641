//! `mire2e-window`: FASTA records -> the windows stream (`seq_id start end strand seq`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mire2e::fasta::{self, Record};
use mire2e::stream::{Header, Writer};
use mire2e::window::Windows;
use mire2e_cli::window_args::{self, WindowArgs};
use mire2e_cli::{common::Common, output, progress};

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
    let meta = format!(
        "#mire2e-window {} {}",
        env!("CARGO_PKG_VERSION"),
        window_args::describe(&params)
    );
    let mut writer = Writer::new(
        output::Output::create(&args.common.output)?,
        &Header::windows(meta),
    )?;
    let bar = progress::counter("windows", args.common.quiet > 0);
    let (mut record, mut skipped, mut fields) =
        (Record::default(), 0, [String::new(), String::new()]);
    while reader.read_record(&mut record)? {
        let mut windows = Windows::new(&record.seq, &params);
        for w in windows.by_ref() {
            fields[0] = w.start.to_string();
            fields[1] = w.end.to_string();
            let strand = w.strand.to_string();
            let seq = std::str::from_utf8(&w.seq).context("window is not text")?;
            writer.write_row(
                [record.id.as_str(), &fields[0], &fields[1], &strand, seq],
                &[],
            )?;
            bar.inc(1);
        }
        skipped += windows.skipped;
    }
    bar.finish_and_clear();
    if skipped > 0 {
        log::info!("skipped {skipped} windows over --max-n / --skip-masked");
    }
    writer.into_inner().commit()
}
