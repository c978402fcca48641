//! Running a `train` subcommand: progress bar, per-epoch log (stderr and `train_log.tsv` in the
//! checkpoint folder), the weights written only when complete, and the training record beside them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use mire2e::train::{EpochRecord, Observer, Outcome, TrainConfig};

use crate::output::Output;
use crate::progress;
use crate::train_args::TrainArgs;

/// Name of the per-epoch log in the checkpoint folder.
pub const LOG: &str = "train_log.tsv";

/// Progress and logs of a run.
struct Reporter {
    bar: ProgressBar,
    quiet: bool,
    log: PathBuf,
    last: String,
    loss_sum: f64,
}

impl Observer for Reporter {
    fn note(&mut self, message: &str) {
        log::info!("{message}");
    }

    fn started(&mut self, first_epoch: usize, batches: usize) {
        self.bar = progress::batches(batches as u64, self.quiet);
        log::info!("training from epoch {first_epoch}, {batches} batches per epoch");
    }

    fn batch(&mut self, epoch: usize, batch: usize, loss: f64) {
        if batch == 1 {
            self.loss_sum = 0.0;
            self.bar.reset();
        }
        self.loss_sum += loss;
        self.bar.set_position(batch as u64);
        self.bar.set_message(format!(
            "epoch {epoch} loss {:.5}{}",
            self.loss_sum / batch as f64,
            self.last
        ));
    }

    fn epoch(&mut self, r: &EpochRecord) -> mire2e::Result<()> {
        let extra: String = r
            .extra
            .iter()
            .map(|(k, v)| format!(" {k} {v:.5}"))
            .collect();
        self.last = format!(" | {} {:.5}", r.metric_name, r.metric);
        self.bar.suspend(|| {
            log::info!(
                "epoch {}: train_loss {:.6} val_loss {:.6} {} {:.6}{extra} lr {:.3e} {:.1} s ({:.1} samples/s){}",
                r.epoch,
                r.train_loss,
                r.val_loss,
                r.metric_name,
                r.metric,
                r.lr,
                r.seconds,
                r.samples_per_second,
                if r.best { " best" } else { "" }
            );
        });
        let new = !self.log.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|source| mire2e::Error::Io {
                path: self.log.clone(),
                source,
            })?;
        let mut line = String::new();
        if new {
            line += "epoch\ttrain_loss\tval_loss\tmetric\tvalue\textra\tlr\tseconds\tsamples_per_s\tbest\n";
        }
        let extra: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line += &format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.2}\t{}\n",
            r.epoch,
            r.train_loss,
            r.val_loss,
            r.metric_name,
            r.metric,
            extra.join(";"),
            r.lr,
            r.seconds,
            r.samples_per_second,
            u8::from(r.best)
        );
        f.write_all(line.as_bytes()).map_err(mire2e::Error::Write)
    }
}

/// Runs `train` with the settings of `args` and writes the best weights to `-o` and the training
/// record (command, data files with sha256, seed, epochs, best metric, time, device, versions) to
/// `-o`.json. `data` names the input files (role, path) for the record.
pub fn run(
    name: &str,
    args: &TrainArgs,
    quiet: u8,
    data: &[(&str, &Path)],
    train: impl FnOnce(&TrainConfig, &mut dyn Observer) -> anyhow::Result<Outcome>,
) -> anyhow::Result<()> {
    crate::common::init_training_threads(args.threads)?;
    let start = Instant::now();
    // create the outputs first: a bad path fails before hours of training
    let out = Output::create(&args.output)?;
    let mut record_path = args.output.as_os_str().to_owned();
    record_path.push(".json");
    let record_out = Output::create(Path::new(&record_path))?;
    let cfg = args.config();
    std::fs::create_dir_all(&cfg.checkpoint_dir)
        .with_context(|| format!("cannot create {}", cfg.checkpoint_dir.display()))?;
    let mut files = Vec::new();
    for (role, path) in data {
        let sha = mire2e::bundle::sha256_file(path)?;
        files.push(serde_json::json!({"role": role, "path": path, "sha256": sha}));
    }
    let mut reporter = Reporter {
        bar: ProgressBar::hidden(),
        quiet: quiet > 0,
        log: cfg.checkpoint_dir.join(LOG),
        last: String::new(),
        loss_sum: 0.0,
    };
    let outcome = train(&cfg, &mut reporter);
    reporter.bar.finish_and_clear();
    let outcome = outcome?;
    let mut out = out;
    out.write_all(&outcome.weights)?;
    out.commit()?;
    let record = serde_json::json!({
        "program": name,
        "command": std::env::args().collect::<Vec<_>>(),
        "data": files,
        "seed": cfg.seed,
        "settings": {
            "optimizer": format!("{:?}", cfg.optimizer).to_lowercase(),
            "lr": cfg.lr, "batch_size": cfg.batch_size, "micro_batch": cfg.micro_batch, "epoch_size": cfg.epoch_size,
            "max_epochs": cfg.max_epochs, "patience": cfg.patience, "val_limit": cfg.val_limit,
            "clip_grad_norm": cfg.clip_grad_norm, "init": cfg.init,
        },
        "epochs": outcome.epochs,
        "best_epoch": outcome.best_epoch,
        "metric": outcome.metric_name,
        "best_metric": outcome.best_metric,
        "stopped_early": outcome.stopped_early,
        "history": outcome.history,
        "wall_seconds": start.elapsed().as_secs_f64(),
        "device": cfg.device.to_string(),
        "engine": cfg.engine.resolve(&cfg.device)?.to_string(),
        "threads": rayon::current_num_threads(),
        "versions": {"mire2e": env!("CARGO_PKG_VERSION"), "candle": "0.11"},
    });
    let mut record_out = record_out;
    record_out.write_all(serde_json::to_string_pretty(&record)?.as_bytes())?;
    record_out.write_all(b"\n")?;
    record_out.commit()?;
    log::info!(
        "best epoch {} ({} {:.6}) of {}; weights in {}",
        outcome.best_epoch,
        outcome.metric_name,
        outcome.best_metric,
        outcome.epochs,
        args.output.display()
    );
    Ok(())
}
