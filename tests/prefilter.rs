//! `mire2e scan --prefilter`: off, nothing changes; on, every known hairpin of the golden input
//! still reaches the models, and the skipped windows keep their rows.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn scan(input: &Path, bundle: &Path, extra: &[&str]) -> String {
    let out = Command::cargo_bin("mire2e")
        .unwrap()
        .arg("scan")
        .arg(input)
        .args(["--no-tail", "-q", "--model"])
        .arg(bundle)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A bundle of the shared reference weights, made with `mire2e bundle`.
fn bundle(shared: &Path, dir: &Path) -> PathBuf {
    let w = shared.join("reference/weights");
    let bundle = dir.join("reference-hsa");
    Command::cargo_bin("mire2e")
        .unwrap()
        .arg("bundle")
        .arg(&bundle)
        .args(["--name", "reference-hsa", "--structure"])
        .arg(w.join("synthetic-structure.safetensors"))
        .arg("--mfe")
        .arg(w.join("hsa-mfe.safetensors"))
        .arg("--classifier")
        .arg(w.join("synthetic-predictor.safetensors"))
        .assert()
        .success();
    bundle
}

/// Data rows, split into fields.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect()
}

#[test]
fn off_changes_nothing_and_passing_windows_score_the_same() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle(&shared, dir.path());
    let input = shared.join("reference/golden/input.fa");
    let off = scan(&input, &bundle, &[]);
    assert!(!off.contains("prefilter"));
    let header = off.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(header, "seq_id\tstart\tend\tstrand\tmfe\tscore");
    // A level every window passes: the same rows, plus the stem column.
    let all = scan(&input, &bundle, &["--prefilter=-1000000"]);
    let (off_rows, all_rows) = (rows(&off), rows(&all));
    assert_eq!(off_rows.len(), 336);
    assert_eq!(off_rows.len(), all_rows.len());
    for (a, b) in off_rows.iter().zip(&all_rows) {
        assert_eq!(a[..], b[..6]);
    }
}

#[test]
fn on_keeps_every_known_hairpin_and_every_row() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle(&shared, dir.path());
    let input = shared.join("reference/golden/input.fa");
    let on = scan(&input, &bundle, &["--prefilter"]);
    let meta = on.lines().next().unwrap();
    assert!(meta.contains("prefilter=default min_stem="), "{meta}");
    let min: i32 = meta
        .split("min_stem=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let off = scan(&input, &bundle, &[]);
    let (on_rows, off_rows) = (rows(&on), rows(&off));
    assert_eq!(on_rows.len(), off_rows.len(), "every window keeps its row");
    let mut skipped = 0;
    for (a, b) in on_rows.iter().zip(&off_rows) {
        assert_eq!(a[..4], b[..4]);
        let stem: i32 = a[6].parse().unwrap();
        if stem >= min {
            assert_eq!(
                a[..6],
                b[..6],
                "a passing window scores as without the prefilter"
            );
        } else {
            assert_eq!((a[4], a[5]), ("0", "0"));
            skipped += 1;
        }
    }
    assert!(skipped > 0, "the random flanks have windows without stems");
    // The hairpins of the golden input (input_layout.json): record, strand, start, length.
    let hairpins = [
        ("golden_hairpins", "+", 300, 80),  // hsa-let-7a-1
        ("golden_hairpins", "+", 660, 72),  // hsa-let-7a-2
        ("golden_hairpins", "-", 992, 70),  // hsa-mir-30d (reverse-complemented)
        ("golden_hairpins", "+", 2011, 88), // mmu-let-7g
        ("golden_hairpins", "+", 2329, 98), // cel-mir-90
        ("golden_mixed", "+", 120, 80),     // hsa-let-7a-1, lower case DNA
        ("golden_mixed", "+", 285, 66),     // mmu-mir-122, mixed case
    ];
    for (record, strand, start, len) in hairpins {
        let overlap = |r: &Vec<&str>| {
            let (s, e): (i64, i64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
            (e.min(start + len) - s.max(start)).max(0)
        };
        let windows: Vec<_> = on_rows
            .iter()
            .filter(|r| r[0] == record && r[3] == strand)
            .collect();
        let best = windows.iter().map(|r| overlap(r)).max().unwrap();
        for r in windows.iter().filter(|r| overlap(r) == best) {
            let stem: i32 = r[6].parse().unwrap();
            assert!(
                stem >= min && r[4] != "0",
                "{record} {strand} {start}: {r:?}"
            );
        }
    }
}

#[test]
fn refuses_batch_compat() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle(&shared, dir.path());
    Command::cargo_bin("mire2e")
        .unwrap()
        .arg("scan")
        .arg(shared.join("reference/golden/input.fa"))
        .arg("--model")
        .arg(&bundle)
        .args(["--prefilter=fast", "--attention", "batch-compat"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("batch-compat"));
}

#[test]
fn bad_level_is_a_usage_error() {
    Command::cargo_bin("mire2e")
        .unwrap()
        .args(["scan", "x.fa", "--prefilter=loose"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a prefilter level"));
}
