//! Determinism of `--attention window`: the same bytes whatever the thread count, batch size, or
//! splitting of the stream into chunks processed separately; and `mire2e scan` equals the pipe.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;

use assert_cmd::Command;

fn run<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
    name: &str,
    args: &[S],
    stdin: Vec<u8>,
) -> Vec<u8> {
    let out = Command::cargo_bin(name)
        .unwrap()
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// fold | mfe | classify with the reference weights.
fn cascade(weights: &Path, stdin: Vec<u8>, extra: &[&str]) -> Vec<u8> {
    let w = |f: &str| weights.join(f).display().to_string();
    let with = |file: String| {
        let mut a = vec!["--weights".to_string(), file];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let s = run(
        "mire2e-fold",
        &with(w("synthetic-structure.safetensors")),
        stdin,
    );
    let s = run("mire2e-mfe", &with(w("hsa-mfe.safetensors")), s);
    run(
        "mire2e-classify",
        &with(w("synthetic-predictor.safetensors")),
        s,
    )
}

/// Data lines of a stream (no metadata, no header).
fn rows(stream: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stream)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[test]
fn same_bytes_for_any_threads_batch_size_and_chunking() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let fasta = shared.join("data/mire2e_examples/chr19_13836201_13836660_true.fa");
    let windows = run("mire2e-window", &[&fasta], Vec::new());
    let reference = cascade(
        &weights,
        windows.clone(),
        &["--threads", "1", "--batch-size", "256"],
    );
    assert_eq!(rows(&reference).len(), 38);
    for extra in [
        ["--threads", "2", "--batch-size", "1"],
        ["--threads", "2", "--batch-size", "7"],
        ["--threads", "0", "--batch-size", "64"],
    ] {
        assert_eq!(
            cascade(&weights, windows.clone(), &extra),
            reference,
            "{extra:?}"
        );
    }
    // Split the windows stream into three chunks (each with the header), run each, concatenate rows.
    let text = String::from_utf8(windows).unwrap();
    let (head, body): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| l.starts_with('#') || l.starts_with("seq_id\t"));
    let mut chunked = Vec::new();
    for chunk in body.chunks(13) {
        let input = format!("{}\n{}\n", head.join("\n"), chunk.join("\n"));
        chunked.extend(rows(&cascade(&weights, input.into_bytes(), &[] as &[&str])));
    }
    assert_eq!(chunked, rows(&reference));
}

#[test]
fn scan_equals_the_pipe() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let fasta = shared.join("data/mire2e_examples/chr19_13836201_13836660_true.fa");
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("reference");
    let w = |f: &str| weights.join(f).display().to_string();
    run(
        "mire2e",
        &[
            "bundle",
            bundle.to_str().unwrap(),
            "--name",
            "reference-hsa",
            "--structure",
            &w("synthetic-structure.safetensors"),
            "--mfe",
            &w("hsa-mfe.safetensors"),
            "--classifier",
            &w("synthetic-predictor.safetensors"),
        ],
        Vec::new(),
    );
    let windows = run("mire2e-window", &[&fasta], Vec::new());
    let piped = cascade(&weights, windows, &[] as &[&str]);
    let scanned = run(
        "mire2e",
        &[
            "scan",
            fasta.to_str().unwrap(),
            "--model",
            bundle.to_str().unwrap(),
            "--full",
        ],
        Vec::new(),
    );
    assert_eq!(rows(&scanned), rows(&piped));
}
