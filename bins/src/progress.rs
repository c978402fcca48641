//! indicatif progress on stderr (hidden off a terminal and with `-q`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner counting items (windows, rows) with their rate.
pub fn counter(unit: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    let template =
        format!("{{spinner}} {{elapsed_precise}} {{human_pos}} {unit} ({{per_sec}}) {{msg}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// A bar over the batches of a training epoch; the message shows the epoch, loss and last metric.
pub fn batches(len: u64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:25}] {pos}/{len} batches {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
