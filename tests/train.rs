//! `mire2e-{fold,mfe,classify} train`: the loss goes down on data a model can fit, the weights load
//! in the prediction binaries, `--resume` and a repeated seed give the same bytes, and bad training
//! input fails with one line naming the file and record, writing nothing.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn bin(name: &str) -> Command {
    Command::cargo_bin(name).unwrap()
}

/// RNAfold-style records: hairpins (stem, loop, reverse-complement stem) of varied sizes.
fn fold_records(n: usize, seed: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let k = 4 + i % 5;
        let stem = support::random_dna(k, seed + i as u64).replace('T', "U");
        let loop_ = support::random_dna(4 + i % 3, seed * 7 + i as u64).replace('T', "U");
        let rc: String = stem
            .chars()
            .rev()
            .map(|c| match c {
                'A' => 'U',
                'U' => 'A',
                'C' => 'G',
                _ => 'C',
            })
            .collect();
        let db = format!(
            "{}{}{}",
            "(".repeat(k),
            ".".repeat(loop_.len()),
            ")".repeat(k)
        );
        let mfe = -1.5 * k as f64;
        out += &format!(">r{i}\n{stem}{loop_}{rc}\n{db} ({mfe:6.2})\n");
    }
    out
}

fn plain(n: usize, seed: u64, len: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                ">s{i}\n{}\n",
                support::random_dna(len + i % 7, seed + i as u64)
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a training command and returns the (epoch, train_loss, metric) rows of its log.
fn train(cmd: &mut Command, out: &Path) -> Vec<(f64, f64, f64)> {
    let output = cmd
        .arg("-o")
        .arg(out)
        .args(["-t", "2", "-q"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut log = out.as_os_str().to_owned();
    log.push(".ckpt/train_log.tsv");
    std::fs::read_to_string(PathBuf::from(log))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

fn fold_train(train: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin("mire2e-fold");
    cmd.arg("train")
        .arg("--train")
        .arg(train)
        .arg("--val")
        .arg(train);
    cmd.args(["--batch-size", "4", "--epoch-size", "8"])
        .args(extra);
    cmd
}

#[test]
fn fold_learns_resumes_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "fold.fa", &fold_records(6, 3));
    let adam = ["--optimizer", "adamw", "--lr", "3e-3", "--max-epochs", "4"];
    let log = train(
        &mut fold_train(&data, &adam),
        &dir.path().join("a.safetensors"),
    );
    assert_eq!(log.len(), 4);
    assert!(log[3].2 < log[0].2, "validation MSE did not fall: {log:?}");

    // interrupted after one epoch, resumed to two == two at once; the same seed twice == same bytes
    let whole = dir.path().join("whole.safetensors");
    let cut = dir.path().join("cut.safetensors");
    let again = dir.path().join("again.safetensors");
    train(&mut fold_train(&data, &["--max-epochs", "2"]), &whole);
    train(&mut fold_train(&data, &["--max-epochs", "1"]), &cut);
    train(
        &mut fold_train(&data, &["--max-epochs", "2", "--resume"]),
        &cut,
    );
    train(&mut fold_train(&data, &["--max-epochs", "2"]), &again);
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    let ckpt = |p: &Path| {
        let mut dir = p.as_os_str().to_owned();
        dir.push(".ckpt");
        bytes(&PathBuf::from(dir).join("checkpoint.safetensors"))
    };
    assert!(
        bytes(&whole) == bytes(&cut) && ckpt(&whole) == ckpt(&cut),
        "resume differs"
    );
    assert!(
        bytes(&whole) == bytes(&again) && ckpt(&whole) == ckpt(&again),
        "seed differs"
    );
    // a second run into the same checkpoint without --resume is refused
    let out = fold_train(&data, &["--max-epochs", "1"])
        .arg("-o")
        .arg(&whole)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // the weights predict through the normal binary
    let fa = write(
        dir.path(),
        "x.fa",
        &format!(">x\n{}\n", support::random_dna(140, 9)),
    );
    let windows = bin("mire2e-window").arg(&fa).output().unwrap().stdout;
    let out = bin("mire2e-fold")
        .arg("--weights")
        .arg(dir.path().join("a.safetensors"))
        .output_with_stdin(&windows);
    assert!(out.contains("\tstructure\tpairing"), "{out}");

    // MFE on top of this Structure model, then the Classifier on both
    let mfe_out = dir.path().join("m.safetensors");
    let mut mfe = bin("mire2e-mfe");
    mfe.arg("train")
        .arg("--train")
        .arg(&data)
        .arg("--val")
        .arg(&data);
    mfe.arg("--structure").arg(dir.path().join("a.safetensors"));
    mfe.args([
        "--batch-size",
        "4",
        "--epoch-size",
        "24",
        "--max-epochs",
        "4",
    ]);
    mfe.args(["--optimizer", "adamw", "--lr", "1e-2"]);
    let log = train(&mut mfe, &mfe_out);
    assert!(
        log[3].1 < log[0].1,
        "MFE training loss did not fall: {log:?}"
    );

    let pos = write(dir.path(), "pos.fa", &plain(8, 100, 60));
    let neg = write(dir.path(), "neg.fa", &plain(8, 200, 60));
    let mut cls = bin("mire2e-classify");
    cls.arg("train")
        .arg("--pos")
        .arg(&pos)
        .arg("--neg")
        .arg(&neg);
    cls.arg("--val-pos").arg(&pos).arg("--val-neg").arg(&neg);
    cls.arg("--structure")
        .arg(dir.path().join("a.safetensors"))
        .arg("--mfe")
        .arg(&mfe_out);
    cls.args([
        "--batch-size",
        "8",
        "--max-epochs",
        "4",
        "--optimizer",
        "adamw",
        "--lr",
        "1e-3",
    ]);
    cls.args(["--focal-gamma", "0"]);
    let cls_out = dir.path().join("c.safetensors");
    let log = train(&mut cls, &cls_out);
    assert!(
        log[3].1 < log[0].1,
        "classifier training loss did not fall: {log:?}"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&bytes(&dir.path().join("c.safetensors.json"))).unwrap();
    assert_eq!(record["epochs"], 4);
    assert_eq!(record["data"].as_array().unwrap().len(), 6);
}

trait WithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> String;
}

impl WithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> String {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn bad_training_input_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.fa", &fold_records(4, 1));
    for (text, want) in [
        (">r0\nACGU\n....\n", "record 1 (r0): no MFE field"),
        (
            ">r0\nACGU\n....( -1.0)\n>r1\nACGU\n...( -1.0)\n",
            "record 2 (r1): sequence and dot-bracket",
        ),
        (">r0\nACXU\n....( -1.0)\n", "record 1 (r0): position 3"),
        ("", "contains no FASTA record"),
    ] {
        let bad = write(dir.path(), "bad.fa", text);
        let out_path = dir.path().join("out.safetensors");
        let out = bin("mire2e-fold")
            .arg("train")
            .arg("--train")
            .arg(&bad)
            .arg("--val")
            .arg(&good)
            .arg("-o")
            .arg(&out_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("bad.fa") && stderr.contains(want),
            "{stderr}"
        );
        assert!(!out_path.exists());
    }
}

#[test]
fn train_is_a_subcommand_and_prediction_stays() {
    let help = bin("mire2e-fold").arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("train"));
    // `train` without its required options is a usage error, not an input file named "train"
    let out = bin("mire2e-fold").arg("train").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin("mire2e-fold")
        .args(["train", "--npy", "x.npy"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "prediction options are not training options"
    );
}
