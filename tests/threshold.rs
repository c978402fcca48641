//! The operating threshold of a model bundle: `scan --bed` and `mire2e-classify --bed` use it when
//! no --threshold is given, an explicit --threshold wins, and a bundle without one falls back to 0.5.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::cargo::CommandCargoExt;

fn mire2e() -> Process {
    Process::cargo_bin("mire2e").unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The default model's weights bundled again, with `extra` options.
fn bundle(dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let weights = repo().join("models/default");
    mire2e()
        .arg("bundle")
        .arg(dir.join(name))
        .args(["--name", name, "--structure"])
        .arg(weights.join("structure.safetensors"))
        .arg("--mfe")
        .arg(weights.join("mfe.safetensors"))
        .arg("--classifier")
        .arg(weights.join("classifier.safetensors"))
        .args(extra)
        .output()
        .unwrap()
}

/// The BED of a scan of a 600-nt piece of the example with the bundle `model`.
fn loci(dir: &Path, input: &Path, model: &Path, extra: &[&str]) -> String {
    let bed = dir.join("out.bed");
    let out = mire2e()
        .arg("scan")
        .arg(input)
        .arg("--model")
        .arg(model)
        .arg("--bed")
        .arg(&bed)
        .args(["-q", "-t", "2", "-o"])
        .arg(dir.join("out.tsv"))
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&bed).unwrap()
}

#[test]
fn scan_takes_the_bundle_threshold_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo().join("examples/mhc_example.fa")).unwrap();
    let seq: String = example
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('>'))
        .collect();
    let input = dir.path().join("piece.fa");
    std::fs::write(&input, format!(">piece\n{}\n", &seq[..600])).unwrap();

    let zero = [
        "--threshold",
        "0",
        "--threshold-basis",
        "every window, for a test",
    ];
    assert!(bundle(dir.path(), "zero", &zero).status.success());
    let model = dir.path().join("zero");
    let manifest = std::fs::read_to_string(model.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"basis\": \"every window, for a test\""),
        "{manifest}"
    );
    let everything = loci(dir.path(), &input, &model, &["--threshold", "0"]);
    assert!(!everything.is_empty());
    assert_eq!(loci(dir.path(), &input, &model, &[]), everything);
    let strict = loci(dir.path(), &input, &model, &["--threshold", "1"]);
    assert_ne!(
        strict, everything,
        "an explicit --threshold wins over the bundle's"
    );

    assert!(bundle(dir.path(), "plain", &[]).status.success());
    let plain = dir.path().join("plain");
    assert_eq!(
        loci(dir.path(), &input, &plain, &[]),
        loci(dir.path(), &input, &plain, &["--threshold", "0.5"]),
        "a bundle without a threshold falls back to 0.5"
    );
}

#[test]
fn bundle_refuses_a_bad_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let out = bundle(
        dir.path(),
        "high",
        &["--threshold", "1.5", "--threshold-basis", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threshold must be in [0, 1]"));
    let out = bundle(dir.path(), "bare", &["--threshold", "0.9"]);
    assert_eq!(out.status.code(), Some(2), "a threshold needs its basis");
}
