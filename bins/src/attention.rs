//! `--attention` and `--compat-batch`, shared by `mire2e-classify` and `mire2e scan`.

use mire2e::model::Attention;
use mire2e::pipeline::Batching;

/// The Classifier's attention context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AttentionMode {
    /// Each window attends over its own 6 tokens (the original at batch size 1): independent of
    /// batching, threads and device.
    Window,
    /// Reproduce the original exactly, including its mixing of windows inside a batch: per record
    /// all + windows then all - windows, in chunks of --compat-batch (needs the stream in
    /// mire2e-window's order). Tail windows, which the original never scans, are each scored on
    /// their own.
    BatchCompat,
}

/// Attention options.
#[derive(Debug, Clone, clap::Args)]
pub struct AttentionArgs {
    /// Classifier attention: window (default, batch-independent) or batch-compat (the original).
    #[arg(long, value_enum, default_value = "window")]
    pub attention: AttentionMode,
    /// With --attention batch-compat: the original's batch size.
    #[arg(long, default_value_t = 4096, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub compat_batch: u32,
}

impl AttentionArgs {
    /// The library's batching for a model batch size.
    pub fn batching(&self, batch_size: u32) -> Batching {
        Batching {
            batch_size: batch_size as usize,
            attention: match self.attention {
                AttentionMode::Window => Attention::Window,
                AttentionMode::BatchCompat => Attention::BatchCompat,
            },
            compat_batch: self.compat_batch as usize,
        }
    }

    /// Text for the stream metadata.
    pub fn describe(&self) -> String {
        match self.attention {
            AttentionMode::Window => "attention=window".into(),
            AttentionMode::BatchCompat => {
                format!("attention=batch-compat compat_batch={}", self.compat_batch)
            }
        }
    }
}
