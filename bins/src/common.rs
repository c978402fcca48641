//! Options and start-up shared by every binary.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options every binary takes (flattened into each `Args`).
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Output path ('-' = stdout). A file appears only once it is complete.
    #[arg(short = 'o', long, default_value = "-", value_name = "PATH")]
    pub output: PathBuf,
    /// Worker threads (0 = all cores).
    #[arg(short = 't', long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Less logging (-q: warnings and errors only, -qq: errors only); hides progress bars.
    #[arg(short = 'q', long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,
    /// More logging (-v: debug, -vv: trace).
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl Common {
    /// Sets up logging on stderr and the global rayon pool.
    pub fn init(&self) -> anyhow::Result<()> {
        init_logging(self.verbose, self.quiet);
        init_threads(self.threads)
    }
}

/// env_logger on stderr; `RUST_LOG` still overrides.
pub fn init_logging(verbose: u8, quiet: u8) {
    let level = match (i16::from(verbose) - i16::from(quiet)).clamp(-2, 2) {
        -2 => log::LevelFilter::Error,
        -1 => log::LevelFilter::Warn,
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let _ = env_logger::Builder::new()
        .filter_level(level)
        .format_target(false)
        .format_timestamp(None)
        .parse_default_env()
        .target(env_logger::Target::Stderr)
        .try_init();
}

/// One rayon pool for the process, built here and nowhere in the library.
///
/// The library spreads windows over this pool; candle's own worker pools (which spin-wait inside
/// every small op and ignore this pool) are made single-threaded, before candle first reads them.
pub fn init_threads(threads: usize) -> anyhow::Result<()> {
    init_pool(threads, false)
}

/// [`init_threads`] for training: candle's autograd ops run on all `threads` inside each op (a
/// training step is one large graph, not independent passes).
pub fn init_training_threads(threads: usize) -> anyhow::Result<()> {
    init_pool(threads, true)
}

fn init_pool(threads: usize, candle_parallel: bool) -> anyhow::Result<()> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        threads
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .or_else(|e| {
            // Already built (tests calling run twice): keep the existing pool.
            log::debug!("thread pool: {e}");
            Ok::<(), anyhow::Error>(())
        })?;
    let candle = if candle_parallel { threads } else { 1 }.to_string();
    std::env::set_var("CANDLE_NUM_THREADS", &candle);
    std::env::set_var("RAYON_NUM_THREADS", &candle); // candle's matmul threads
    Ok(())
}

/// Whether an error chain ends in a closed pipe (`| head`), which ends a run quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}

/// Maps a run's result to the exit-code contract and prints the one error line.
pub fn finish(name: &str, result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error chain on one line, like `{:#}`, but without a cause that its parent's text already
/// ends with (library errors print their cause in their own message).
pub fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.replace(['\n', '\r'], " ")
}

/// The metadata line a binary writes above its stream: `#TOOL VERSION FIELD ...`, the record of
/// what made the rows (resumes and later stages read it back).
pub struct Meta(String);

impl Meta {
    /// `#tool VERSION`.
    pub fn new(tool: &str) -> Self {
        Self(format!("#{tool} {}", env!("CARGO_PKG_VERSION")))
    }

    /// Appends ` field`.
    pub fn field(mut self, field: impl std::fmt::Display) -> Self {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {field}");
        self
    }

    /// Appends ` field` when there is one.
    pub fn maybe(self, field: Option<impl std::fmt::Display>) -> Self {
        match field {
            Some(field) => self.field(field),
            None => self,
        }
    }

    /// The line.
    pub fn line(self) -> String {
        self.0
    }
}
