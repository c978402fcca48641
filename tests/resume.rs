//! `mire2e scan --resume`: a run killed (SIGKILL) midway leaves no file that looks complete, and
//! resuming it gives the same bytes (TSV, BED, GFF3, bedGraph, report, decoy q-values included)
//! as a run that was never interrupted, without scoring the finished records again; a resume with
//! other parameters is refused.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

fn mire2e() -> Process {
    Process::cargo_bin("mire2e").unwrap()
}

fn bundle(shared: &Path, dir: &Path) -> PathBuf {
    let weights = shared.join("reference/weights");
    let bundle = dir.join("reference");
    let status = mire2e()
        .arg("bundle")
        .arg(&bundle)
        .args(["--name", "reference", "--structure"])
        .arg(weights.join("synthetic-structure.safetensors"))
        .arg("--mfe")
        .arg(weights.join("hsa-mfe.safetensors"))
        .arg("--classifier")
        .arg(weights.join("synthetic-predictor.safetensors"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    bundle
}

/// The side outputs of a scan to `out`: BED, GFF3, the two bedGraphs and the report.
fn side_outputs(out: &Path) -> [PathBuf; 5] {
    [
        out.with_extension("bed"),
        out.with_extension("gff3"),
        out.with_extension("tracks.plus.bedgraph"),
        out.with_extension("tracks.minus.bedgraph"),
        out.with_extension("report").join("index.html"),
    ]
}

/// `mire2e scan FASTA --model BUNDLE -o OUT` with every side output, a decoy, plus `extra`.
fn scan(fasta: &Path, bundle: &Path, out: &Path, extra: &[&str]) -> Process {
    let mut cmd = mire2e();
    cmd.arg("scan")
        .arg(fasta)
        .arg("--model")
        .arg(bundle)
        .arg("-o")
        .arg(out)
        .arg("--bed")
        .arg(out.with_extension("bed"))
        .arg("--gff3")
        .arg(out.with_extension("gff3"))
        .arg("--bedgraph")
        .arg(out.with_extension("tracks"))
        .arg("--report")
        .arg(out.with_extension("report"))
        .arg("--decoy=0.5")
        .args(["--threshold", "0.2", "--threads", "1", "--batch-size", "16"])
        .args(extra);
    cmd
}

fn run(mut cmd: Process) -> (bool, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.success(), stderr)
}

/// Complete lines of the state file (0 if there is none).
fn finished_records(state: &Path) -> usize {
    std::fs::read_to_string(state)
        .map(|t| t.matches('\n').count().saturating_sub(1))
        .unwrap_or(0)
}

/// Starts a scan and SIGKILLs it once its state file records a finished record.
fn start_and_kill(fasta: &Path, bundle: &Path, out: &Path) {
    let state = PathBuf::from(format!("{}.partial.state", out.display()));
    let mut child = scan(fasta, bundle, out, &[])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while finished_records(&state) < 1 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan ended before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(600), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run left {}", out.display());
    for side in side_outputs(out) {
        assert!(!side.exists(), "a killed run left {}", side.display());
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    assert!(partial.exists() && state.exists());
}

#[test]
fn a_killed_scan_resumes_to_the_same_bytes() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle(&shared, dir.path());
    // A short first record, so a checkpoint comes early, then longer ones to kill the run in.
    let fasta = dir.path().join("genome.fa");
    let mut text = String::new();
    for (i, len) in [300, 2500, 2500, 700].into_iter().enumerate() {
        text.push_str(&format!(
            ">rec{i} test\n{}\n",
            support::random_dna(len, i as u64 + 7)
        ));
    }
    std::fs::write(&fasta, text).unwrap();

    let whole = dir.path().join("whole.tsv");
    let (ok, stderr) = run(scan(&fasta, &bundle, &whole, &[]));
    assert!(ok, "{stderr}");
    let expected = std::fs::read(&whole).unwrap();
    let expected_sides = side_outputs(&whole).map(|p| std::fs::read(p).unwrap());
    let bed = String::from_utf8(expected_sides[0].clone()).unwrap();
    assert!(
        bed.contains("|q="),
        "no candidates with q-values: the BED is not tested: {bed}"
    );
    assert!(!dir.path().join("whole.tsv.partial").exists());
    assert!(!dir.path().join("whole.tsv.partial.state").exists());

    let out = dir.path().join("out.tsv");
    start_and_kill(&fasta, &bundle, &out);
    let state = dir.path().join("out.tsv.partial.state");
    let done = finished_records(&state);
    // A kill can also cut a state line short and leave rows of an unfinished record: both go.
    {
        use std::io::Write;
        let append = |path: &Path, bytes: &[u8]| {
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(bytes).unwrap();
        };
        append(&state, b"999999\trec9");
        append(&dir.path().join("out.tsv.partial"), b"rec9\t0\t100\t+\t0.5");
    }

    // Other parameters, or stdout: refused, and the partial output is kept.
    let (ok, stderr) = run(scan(&fasta, &bundle, &out, &["--resume", "--step", "10"]));
    assert!(!ok && stderr.contains("cannot resume"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_eq!(finished_records(&state), done);
    let mut cmd = mire2e();
    cmd.arg("scan")
        .arg(&fasta)
        .arg("--model")
        .arg(&bundle)
        .arg("--resume");
    let (ok, stderr) = run(cmd);
    assert!(!ok && stderr.contains("--resume needs -o FILE"), "{stderr}");

    // Resume: the finished records are not scored again, and the bytes equal the whole run's.
    let (ok, stderr) = run(scan(&fasta, &bundle, &out, &["--resume"]));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("{done} records already done")),
        "{stderr}"
    );
    let total_windows = expected
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .count()
        - 1;
    let scored: usize = stderr
        .lines()
        .find_map(|l| {
            l.split(" windows scored")
                .next()?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect("a summary line");
    assert!(
        scored < total_windows,
        "{scored} of {total_windows}: {stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), expected, "TSV differs");
    for (side, want) in side_outputs(&out).iter().zip(&expected_sides) {
        assert_eq!(
            &std::fs::read(side).unwrap(),
            want,
            "{} differs",
            side.display()
        );
    }
    assert!(!state.exists());
    assert!(!dir.path().join("out.tsv.partial").exists());

    // Without --resume a left-over partial output is replaced, not continued.
    start_and_kill(&fasta, &bundle, &out.with_extension("again.tsv"));
    let again = out.with_extension("again.tsv");
    let (ok, stderr) = run(scan(&fasta, &bundle, &again, &[]));
    assert!(ok, "{stderr}");
    assert!(!stderr.contains("resuming"), "{stderr}");
    assert_eq!(std::fs::read(&again).unwrap(), expected);
}

/// `-o` onto a FIFO (as `/dev/null` or a process substitution's `/dev/fd/N`) streams the rows into
/// it, the stdout's bytes, and leaves it a FIFO: `OUT.partial` and its rename, for regular files,
/// would replace it with a file (as root, `-o /dev/null` replaced the device). `--resume` refuses it.
#[cfg(unix)]
#[test]
fn scan_to_a_fifo_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, format!(">r\n{}\n", support::random_dna(400, 7))).unwrap();
    let scan = |out: &str, extra: &[&str]| {
        let mut cmd = mire2e();
        cmd.arg("scan")
            .arg(&input)
            .args(["-q", "--threads", "1", "-o", out])
            .args(extra);
        cmd
    };
    let expected = scan("-", &[]).output().unwrap();
    assert!(expected.status.success());
    let fifo = dir.path().join("fifo");
    let made = Process::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let (ok, stderr) = run(scan(fifo.to_str().unwrap(), &[]));
    assert!(ok, "{stderr}");
    // checked first: were the FIFO replaced, the reader would wait on it forever
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(reader.join().unwrap(), expected.stdout);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "files left beside the FIFO"
    );
    let (ok, stderr) = run(scan(fifo.to_str().unwrap(), &["--resume"]));
    assert!(!ok && stderr.contains("--resume needs -o FILE"), "{stderr}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}
