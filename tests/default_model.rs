//! The shipped default bundle (`models/default`): found with no model flags, loads, scores.

use std::path::PathBuf;

use assert_cmd::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn scan_runs_on_the_default_bundle_with_no_model_flags() {
    let example = repo().join("examples/mhc_example.fa");
    let windows = Command::cargo_bin("mire2e-window")
        .unwrap()
        .arg(&example)
        .output()
        .unwrap();
    assert!(windows.status.success());
    let expected_rows = String::from_utf8(windows.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
        - 1;

    let out = Command::cargo_bin("mire2e")
        .unwrap()
        .env_remove("MIRE2E_MODELS")
        .args(["scan", "-q", "-t", "2"])
        .arg(&example)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let meta = text.lines().next().unwrap();
    assert!(meta.contains("model=default"), "{meta}");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let score = header.iter().position(|c| *c == "score").unwrap();
    let scores: Vec<f32> = lines
        .map(|l| l.split('\t').nth(score).unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores.len(), expected_rows);
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    // a trained model separates something: not one constant score
    let (lo, hi) = scores
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    assert!(hi - lo > 0.1, "scores span only {lo}..{hi}");
}

#[test]
fn default_manifest_records_training_and_metrics() {
    let text = std::fs::read_to_string(repo().join("models/default/manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["name"], "default");
    assert_eq!(m["architecture"], "mire2e-0.17");
    for stage in ["structure", "mfe", "classifier"] {
        let record = &m["training"][stage];
        assert!(record["command"].is_array(), "{stage}: no command line");
        let data = record["data"].as_array().unwrap();
        assert!(!data.is_empty(), "{stage}: no training data listed");
        for file in data {
            assert_eq!(
                file["sha256"].as_str().unwrap().len(),
                64,
                "{stage}: {file}"
            );
        }
    }
    assert!(m["metrics"]["operating_threshold"].as_f64().is_some());
}
