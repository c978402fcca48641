//! Shared plumbing of the mire2e command-line tools: the common options, logging, thread pool,
//! outputs that appear only when complete, and the exit-code contract (0 ok, 1 runtime, 2 usage).

pub mod attention;
pub mod common;
pub mod loci_args;
pub mod model_args;
pub mod output;
pub mod progress;
pub mod stage;
pub mod train_args;
pub mod train_run;
pub mod window_args;
