//! `--precision bf16` (opt-in) against the default f32, with the shipped default model on a real
//! sequence (`examples/mhc_example.fa`): bounded deviation, recorded in the metadata, independent
//! of threads and batch size, the same bounds on AVX512-BF16 (`MIRE2E_AMX=0`), f32's very bytes
//! with one warning on a CPU without bf16 instructions, and the stages giving the scan's scores.
//!
//! Measured with the default model v2.1 on an Intel Xeon with AMX, bf16 against f32: structure
//! values of the first 400 windows worst |Δ| 1.9e-2, mean 1.2e-3 (AVX512-BF16: 1.5e-2, 1.2e-3);
//! their MFE from the same structure values worst 4.8e-4, mean 9.9e-5; scores of the example's
//! 984 windows worst 8.7e-3, mean 6.3e-4 (AVX512-BF16: 5.7e-3, 6.2e-4), 3 windows changing call at
//! 0.5 and none at the model's threshold. The bounds below are about 4–5× those, far under what a
//! broken kernel gives (the golden files' test in `lib/tests/parity.rs` prints that unrelated
//! outputs differ by ~0.15 on average).

use std::path::PathBuf;

use assert_cmd::Command;

/// Worst and mean |Δ| allowed for the structure values (`pairing`).
const STRUCTURE: (f64, f64) = (0.1, 6e-3);
/// Worst and mean |Δ| allowed for the MFE values (`mfe`) from the same structure values.
const MFE: (f64, f64) = (2.5e-3, 5e-4);
/// Worst and mean |Δ| allowed for the scores of `mire2e scan`.
const SCORE: (f64, f64) = (0.05, 2.5e-3);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(name: &str, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> (Vec<u8>, String) {
    let mut cmd = Command::cargo_bin(name).unwrap();
    cmd.env_remove("MIRE2E_MODELS")
        .env_remove("MIRE2E_AMX")
        .env_remove("MIRE2E_AVX512BF16");
    cmd.envs(env.iter().copied());
    let out = cmd.args(args).write_stdin(stdin.to_vec()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{name} {args:?}: {stderr}");
    (out.stdout, stderr)
}

/// Whether this CPU has the bf16 instructions bf16 runs on (else it falls back to f32).
fn cpu_has_bf16() -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    flags
        .split_whitespace()
        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
}

/// The first 400 windows of the example.
fn windows() -> Vec<u8> {
    let example = repo().join("examples/mhc_example.fa");
    let (all, _) = run("mire2e-window", &[example.to_str().unwrap()], b"", &[]);
    let text = String::from_utf8(all).unwrap();
    let mut kept: Vec<&str> = Vec::new();
    let mut data = 0;
    for line in text.lines() {
        if !line.starts_with('#') {
            data += 1;
        }
        if data <= 401 {
            kept.push(line);
        }
    }
    (kept.join("\n") + "\n").into_bytes()
}

/// The metadata lines and the values of `column` (comma-separated lists flattened).
fn column(stream: &[u8], name: &str) -> (Vec<String>, Vec<f64>) {
    let text = String::from_utf8_lossy(stream);
    let meta = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let at = header.iter().position(|c| *c == name).unwrap();
    let values = lines
        .flat_map(|l| {
            let field = l.split('\t').nth(at).unwrap().to_owned();
            field
                .split(',')
                .map(|v| v.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    (meta, values)
}

/// Worst and mean |a − b|.
fn deviation(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let worst = d.iter().copied().fold(0.0, f64::max);
    (worst, d.iter().sum::<f64>() / d.len() as f64)
}

fn check(what: &str, (worst, mean): (f64, f64), (max_worst, max_mean): (f64, f64)) {
    println!("{what}: worst |Δ| {worst:.3e}, mean |Δ| {mean:.3e}");
    assert!(
        worst <= max_worst && mean <= max_mean,
        "{what}: {worst:e} / {mean:e}"
    );
    // bf16 is in effect: f32 runs are byte-identical to each other
    assert!(
        mean > 1e-6,
        "{what}: no deviation at all, is bf16 in effect?"
    );
}

#[test]
fn fold_in_bf16_stays_close_to_f32_whatever_the_threads_and_batches() {
    let windows = windows();
    let (f32_out, _) = run("mire2e-fold", &["-q"], &windows, &[]);
    let (meta, f32_values) = column(&f32_out, "pairing");
    assert!(!meta.iter().any(|m| m.contains("precision=")), "{meta:?}");
    assert_eq!(f32_values.len(), 400 * 100);

    let args = [
        "-q",
        "--precision",
        "bf16",
        "-t",
        "1",
        "--batch-size",
        "256",
    ];
    let (bf16_out, _) = run("mire2e-fold", &args, &windows, &[]);
    let (meta, bf16_values) = column(&bf16_out, "pairing");
    assert_eq!(
        meta.last().unwrap().contains(" precision=bf16"),
        cpu_has_bf16(),
        "{meta:?}"
    );
    check(
        "structure, bf16 vs f32",
        deviation(&bf16_values, &f32_values),
        STRUCTURE,
    );

    // same bytes for other threads and batch sizes
    for extra in [
        ["-t", "2", "--batch-size", "7"],
        ["-t", "0", "--batch-size", "1"],
    ] {
        let mut args = vec!["-q", "--precision", "bf16"];
        args.extend(extra);
        assert!(
            run("mire2e-fold", &args, &windows, &[]).0 == bf16_out,
            "{args:?}"
        );
    }

    // AVX512-BF16 without AMX, where the CPU has it: the same bounds
    let args = ["-q", "--precision", "bf16"];
    let (out, _) = run("mire2e-fold", &args, &windows, &[("MIRE2E_AMX", "0")]);
    let (_, values) = column(&out, "pairing");
    check(
        "structure, bf16 (AVX512-BF16 or f32) vs f32",
        deviation(&values, &f32_values),
        STRUCTURE,
    );
    // without bf16 instructions bf16 would be no faster: one warning, and f32's very bytes
    let env = [("MIRE2E_AMX", "0"), ("MIRE2E_AVX512BF16", "0")];
    let (out, stderr) = run("mire2e-fold", &["--precision", "bf16"], &windows, &env);
    assert_eq!(stderr.matches("running f32").count(), 1, "{stderr}");
    assert!(out == f32_out, "the fallback is not f32's output");
}

#[test]
fn scan_in_bf16_changes_few_calls() {
    let example = repo().join("examples/mhc_example.fa");
    let example = example.to_str().unwrap();
    let (f32_out, _) = run("mire2e", &["scan", "-q", example], b"", &[]);
    let args = ["scan", "-q", "--precision", "bf16", example];
    let (bf16_out, _) = run("mire2e", &args, b"", &[]);
    let (meta, bf16_scores) = column(&bf16_out, "score");
    assert_eq!(
        meta[0].contains(" precision=bf16"),
        cpu_has_bf16(),
        "{meta:?}"
    );
    let (_, f32_scores) = column(&f32_out, "score");
    check(
        "scores, bf16 vs f32",
        deviation(&bf16_scores, &f32_scores),
        SCORE,
    );
    // at 0.5, mid-range, and at the model's operating threshold
    let manifest = std::fs::read_to_string(repo().join("models/default/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let operating = manifest["threshold"]["value"].as_f64().unwrap();
    for threshold in [0.5, operating] {
        let changed = bf16_scores
            .iter()
            .zip(&f32_scores)
            .filter(|(a, b)| (**a >= threshold) != (**b >= threshold))
            .count();
        println!(
            "calls changed at {threshold}: {changed} of {}",
            f32_scores.len()
        );
        assert!(changed * 100 <= f32_scores.len(), "{changed} calls changed");
    }
}

#[test]
fn the_stages_in_bf16_give_the_scans_scores() {
    let windows = windows();
    let bf16 = ["-q", "--precision", "bf16"];
    let (folded, _) = run("mire2e-fold", &bf16, &windows, &[]);
    let (with_mfe, _) = run("mire2e-mfe", &bf16, &folded, &[]);
    let (scored, _) = run("mire2e-classify", &bf16, &with_mfe, &[]);
    let (f32_mfe, _) = run("mire2e-mfe", &["-q"], &folded, &[]);
    for (stage, out) in [("mire2e-mfe", &with_mfe), ("mire2e-classify", &scored)] {
        let (meta, _) = column(out, "mfe");
        let last = meta.last().unwrap();
        assert!(last.starts_with(&format!("#{stage} ")), "{meta:?}");
        assert_eq!(last.contains(" precision=bf16"), cpu_has_bf16(), "{meta:?}");
    }
    let (_, bf16_mfe) = column(&with_mfe, "mfe");
    let (_, f32_mfe) = column(&f32_mfe, "mfe");
    if cpu_has_bf16() {
        check(
            "mfe, bf16 vs f32 (same structure)",
            deviation(&bf16_mfe, &f32_mfe),
            MFE,
        );
    }
    // the same windows through `mire2e scan` (--no-tail: the example's first 400 windows are
    // whole-step windows), the same bytes
    let example = repo().join("examples/mhc_example.fa");
    let args = [
        "scan",
        "-q",
        "--precision",
        "bf16",
        example.to_str().unwrap(),
    ];
    let (scan, _) = run("mire2e", &args, b"", &[]);
    let (_, scan_scores) = column(&scan, "score");
    let (_, scores) = column(&scored, "score");
    assert_eq!(scores[..], scan_scores[..scores.len()]);
}

#[test]
fn bf16_is_refused_on_a_gpu() {
    let out = Command::cargo_bin("mire2e-fold")
        .unwrap()
        .args(["--precision", "bf16", "--device", "cuda"])
        .write_stdin("")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "cuda") {
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("runs on the CPU only"), "{stderr}");
    } else {
        // a CPU-only build refuses the device itself
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("no CUDA support"), "{stderr}");
    }
}

#[test]
fn precision_is_checked() {
    let out = Command::cargo_bin("mire2e-fold")
        .unwrap()
        .args(["--precision", "fp16"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("f32") && stderr.contains("bf16"),
        "{stderr}"
    );
}
