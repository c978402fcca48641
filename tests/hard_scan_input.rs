//! `training/hard_scan_input.py`, which writes what a first model scans for hard negatives: every
//! training genome record but the dm3 ones, and a seeded share of the dm3 records, copied as they
//! are, in file order.

#[path = "support/mod.rs"]
mod support;

use std::ffi::OsStr;
use std::path::Path;

/// `genomes/training_genomes.fa` of a prepared folder: 40 dm3 records among 3 others, wrapped at 60.
fn genomes(data: &Path) -> Vec<(String, String)> {
    let mut recs = Vec::new();
    for i in 0..43u64 {
        let id = match i {
            5 => "NC_008253.1".to_string(),
            20 => "CHROMOSOME_I".to_string(),
            42 => "GRCh38_chr1_32292082_32686211".to_string(),
            _ => format!("dm3_chr2L_{}_{}", i * 1000, i * 1000 + 150),
        };
        let seq = support::random_dna(150, i + 1);
        let wrapped: Vec<&str> = seq
            .as_bytes()
            .chunks(60)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        recs.push((
            id.clone(),
            format!(">{id} a record\n{}\n", wrapped.join("\n")),
        ));
    }
    std::fs::create_dir_all(data.join("genomes")).unwrap();
    let text: String = recs.iter().map(|r| r.1.as_str()).collect();
    std::fs::write(data.join("genomes/training_genomes.fa"), text).unwrap();
    recs
}

/// The output of the script on `data` with the given extra arguments; `None` where python3 cannot
/// start (the test skips).
fn run(data: &Path, extra: &[&str]) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../training/hard_scan_input.py");
    let out = data.join("scan_input.fa");
    let mut args: Vec<&OsStr> = vec![script.as_ref(), data.as_ref(), out.as_ref()];
    args.extend(extra.iter().map(OsStr::new));
    let run = support::python3(args)?;
    assert!(
        run.status.success(),
        "hard_scan_input.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(std::fs::read_to_string(out).unwrap())
}

#[test]
fn all_but_dm3_and_a_seeded_share_of_dm3_copied_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let recs = genomes(dir.path());
    let Some(out) = run(dir.path(), &[]) else {
        return;
    };
    // the output is a subsequence of the input records, byte for byte
    let kept: Vec<&(String, String)> = recs.iter().filter(|r| out.contains(&r.1)).collect();
    let text: String = kept.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(out, text);
    assert!(kept.iter().any(|r| r.0 == "NC_008253.1"));
    assert!(kept.iter().any(|r| r.0 == "CHROMOSOME_I"));
    assert!(kept.iter().any(|r| r.0.starts_with("GRCh38")));
    let dm3 = kept.iter().filter(|r| r.0.starts_with("dm3_")).count();
    assert!((1..=15).contains(&dm3), "{dm3} of 40 dm3 records at 15%");
    assert_eq!(run(dir.path(), &[]).unwrap(), out, "deterministic");

    let all: String = recs.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(run(dir.path(), &["--dm3-share", "1"]).unwrap(), all);
    let none = run(dir.path(), &["--dm3-share", "0"]).unwrap();
    assert_eq!(
        none,
        [&recs[5].1, &recs[20].1, &recs[42].1]
            .map(String::as_str)
            .concat()
    );
}
