//! End-to-end parity with the original miRe2e (golden files in shared/reference/golden): the stage
//! binaries piped together and `mire2e scan`, for both weight sets and the three batchings the
//! golden files record (batch 1 = `--attention window`, 64 and 4096 = `batch-compat`).

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

const TOLERANCE: f64 = 1e-4;

fn bin(name: &str) -> Command {
    Command::cargo_bin(name).unwrap()
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Rows of a stream as column name → value maps (metadata lines skipped).
fn table(bytes: &[u8]) -> Vec<HashMap<String, String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

struct Golden {
    rows: Vec<HashMap<String, String>>,
}

impl Golden {
    fn load(shared: &Path, set: &str) -> Self {
        let bytes =
            std::fs::read(shared.join(format!("reference/golden/{set}/windows.tsv"))).unwrap();
        let rows = table(&bytes);
        assert_eq!(rows.len(), 372);
        Self { rows }
    }

    fn column(&self, name: &str) -> Vec<f64> {
        self.rows.iter().map(|r| r[name].parse().unwrap()).collect()
    }

    fn structure(&self) -> Vec<Vec<f64>> {
        self.rows
            .iter()
            .map(|r| {
                (0..100)
                    .map(|j| r[&format!("s{j}")].parse().unwrap())
                    .collect()
            })
            .collect()
    }
}

/// Worst |a - b| after checking the rows line up (record, start, strand).
fn worst(
    golden: &Golden,
    ours: &[HashMap<String, String>],
    ours_col: &str,
    golden_col: &str,
) -> f64 {
    assert_eq!(ours.len(), golden.rows.len());
    let g = golden.column(golden_col);
    ours.iter()
        .zip(&golden.rows)
        .zip(g)
        .map(|((o, r), g)| {
            assert_eq!(
                (&o["seq_id"], &o["start"], &o["strand"]),
                (&r["record"], &r["start"], &r["strand"])
            );
            (o[ours_col].parse::<f64>().unwrap() - g).abs()
        })
        .fold(0.0, f64::max)
}

fn worst_structure(golden: &Golden, ours: &[HashMap<String, String>]) -> f64 {
    ours.iter()
        .zip(golden.structure())
        .flat_map(|(o, g)| {
            let values: Vec<f64> = o["pairing"]
                .split(',')
                .map(|v| v.parse().unwrap())
                .collect();
            assert_eq!(values.len(), 100);
            values
                .into_iter()
                .zip(g)
                .map(|(a, b)| (a - b).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

/// The original ran each FASTA record on its own: the two records of input.fa, then the chr19 example.
fn inputs(shared: &Path) -> [PathBuf; 2] {
    [
        shared.join("reference/golden/input.fa"),
        shared.join("data/mire2e_examples/chr19_13836201_13836660_true.fa"),
    ]
}

const MODES: [(&[&str], &str); 3] = [
    (&["--attention", "window"], "score_bs1"),
    (
        &["--attention", "batch-compat", "--compat-batch", "64"],
        "score_bs64",
    ),
    (&["--attention", "batch-compat"], "score"),
];

#[test]
fn piped_stages_match_the_original() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let dir = tempfile::tempdir().unwrap();
    // Structure is the same for both weight sets: fold each input once.
    let folded: Vec<PathBuf> = inputs(&shared)
        .iter()
        .enumerate()
        .map(|(i, fasta)| {
            let windows = run(bin("mire2e-window").arg("--no-tail").arg(fasta));
            let path = dir.path().join(format!("fold{i}.tsv"));
            let npy = dir.path().join(format!("fold{i}.npy"));
            let mut fold = bin("mire2e-fold");
            fold.arg("--weights")
                .arg(weights.join("synthetic-structure.safetensors"))
                .arg("-o")
                .arg(&path);
            run(fold.arg("--npy").arg(&npy).write_stdin(windows));
            // The NPY side output holds exactly the `pairing` values, [N, 100].
            let bytes = std::fs::read(&npy).unwrap();
            let array = npyz::NpyFile::new(&bytes[..]).unwrap();
            let rows = table(&std::fs::read(&path).unwrap());
            assert_eq!(array.shape(), &[rows.len() as u64, 100]);
            let values: Vec<f32> = array.into_vec().unwrap();
            let text: Vec<f32> = rows
                .iter()
                .flat_map(|r| r["pairing"].split(',').map(|v| v.parse::<f32>().unwrap()))
                .collect();
            assert_eq!(values, text);
            path
        })
        .collect();
    for set in ["hsa", "animals"] {
        let golden = Golden::load(&shared, set);
        let mut mfe_out = Vec::new();
        for (i, path) in folded.iter().enumerate() {
            let out = dir.path().join(format!("{set}-mfe{i}.tsv"));
            let mut mfe = bin("mire2e-mfe");
            mfe.arg(path)
                .arg("--weights")
                .arg(weights.join(format!("{set}-mfe.safetensors")))
                .arg("-o")
                .arg(&out);
            run(&mut mfe);
            mfe_out.push(out);
        }
        for (mode, golden_col) in MODES {
            let mut rows = Vec::new();
            for input in &mfe_out {
                let mut classify = bin("mire2e-classify");
                classify
                    .arg(input)
                    .args(mode)
                    .arg("--weights")
                    .arg(weights.join("synthetic-predictor.safetensors"));
                rows.extend(table(&run(&mut classify)));
            }
            let d = worst(&golden, &rows, "score", golden_col);
            eprintln!("pipe {set} {golden_col}: worst |Δ| = {d:.3e}");
            assert!(d <= TOLERANCE, "{set} {golden_col}: {d}");
            if golden_col == "score" {
                let (ds, dm) = (
                    worst_structure(&golden, &rows),
                    worst(&golden, &rows, "mfe", "mfe"),
                );
                eprintln!("pipe {set}: structure worst |Δ| = {ds:.3e}, mfe {dm:.3e}");
                assert!(
                    ds <= TOLERANCE && dm <= TOLERANCE,
                    "{set}: structure {ds}, mfe {dm}"
                );
            }
        }
    }
}

/// A bundle folder whose manifest points at the shared reference weights.
fn reference_bundle(shared: &Path, set: &str, dir: &Path) -> PathBuf {
    let weights = shared.join("reference/weights").canonicalize().unwrap();
    let entry = |file: &str| {
        let path = weights.join(file);
        let sha = mire2e::bundle::sha256_file(&path).unwrap();
        format!(
            "{{\"path\": \"{}\", \"sha256\": \"{sha}\"}}",
            path.display()
        )
    };
    let bundle = dir.join(format!("reference-{set}"));
    std::fs::create_dir_all(&bundle).unwrap();
    let manifest = format!(
        "{{\"name\": \"reference-{set}\", \"architecture\": \"mire2e-0.17\", \"files\": {{\"structure\": {}, \"mfe\": {}, \"classifier\": {}}}}}",
        entry("synthetic-structure.safetensors"),
        entry(&format!("{set}-mfe.safetensors")),
        entry("synthetic-predictor.safetensors")
    );
    std::fs::write(bundle.join("manifest.json"), manifest).unwrap();
    bundle
}

#[test]
fn scan_matches_the_original() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    for set in ["hsa", "animals"] {
        let golden = Golden::load(&shared, set);
        let bundle = reference_bundle(&shared, set, dir.path());
        for (mode, golden_col) in MODES {
            let full = golden_col == "score";
            let mut rows = Vec::new();
            for fasta in inputs(&shared) {
                let mut scan = bin("mire2e");
                scan.arg("scan")
                    .arg(&fasta)
                    .arg("--no-tail")
                    .arg("--model")
                    .arg(&bundle)
                    .args(mode);
                if full {
                    scan.arg("--full");
                }
                rows.extend(table(&run(&mut scan)));
            }
            let d = worst(&golden, &rows, "score", golden_col);
            let dm = worst(&golden, &rows, "mfe", "mfe");
            eprintln!("scan {set} {golden_col}: worst |Δ| score {d:.3e}, mfe {dm:.3e}");
            assert!(
                d <= TOLERANCE && dm <= TOLERANCE,
                "{set} {golden_col}: score {d}, mfe {dm}"
            );
            if full {
                let ds = worst_structure(&golden, &rows);
                eprintln!("scan {set}: structure worst |Δ| = {ds:.3e}");
                assert!(ds <= TOLERANCE, "{set}: structure {ds}");
            }
        }
    }
}

/// A record longer than a part (about a megabase) is scanned in parts: each window once, each
/// strand in start order, in `mire2e-window`'s order, and each window with the scores its sequence
/// gets scanned on its own.
#[test]
fn scan_reads_long_records_in_parts() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = reference_bundle(&shared, "hsa", dir.path());
    // N but for two stretches across the first two part boundaries (1,050,000 and 2,100,000).
    let mut seq = vec![b'N'; 2_200_000];
    for (k, at) in [1_049_700, 2_099_800].into_iter().enumerate() {
        seq[at..at + 500].copy_from_slice(support::random_dna(500, 60 + k as u64).as_bytes());
    }
    let long = dir.path().join("long.fa");
    std::fs::write(&long, [&b">long\n"[..], &seq, b"\n"].concat()).unwrap();
    let scan = |fasta: &Path| {
        table(&run(bin("mire2e")
            .arg("scan")
            .arg(fasta)
            .args(["--max-n", "0.5", "--model"])
            .arg(&bundle)))
    };
    let rows = scan(&long);
    // `mire2e-window` cuts the record into the same parts: the same rows in the same order.
    let windows = table(&run(bin("mire2e-window")
        .args(["--max-n", "0.5"])
        .arg(&long)));
    let place = |r: &HashMap<String, String>| (r["start"].clone(), r["strand"].clone());
    assert!(rows.iter().map(place).eq(windows.iter().map(place)));
    // The windows, counted here: every 20th start with at most half its bases N.
    let starts: Vec<usize> = (0..=seq.len() - 100)
        .step_by(20)
        .filter(|&s| seq[s..s + 100].iter().filter(|&&b| b == b'N').count() <= 50)
        .collect();
    assert_eq!(rows.len(), 2 * starts.len());
    let mut pieces = String::new();
    for s in &starts {
        let piece = std::str::from_utf8(&seq[*s..s + 100]).unwrap();
        pieces.push_str(&format!(">p{s}\n{piece}\n"));
    }
    let alone = dir.path().join("pieces.fa");
    std::fs::write(&alone, pieces).unwrap();
    let alone: HashMap<(String, String), HashMap<String, String>> = scan(&alone)
        .into_iter()
        .map(|r| ((r["seq_id"].clone(), r["strand"].clone()), r))
        .collect();
    let mut last: HashMap<String, i64> = HashMap::new();
    for row in &rows {
        let start: i64 = row["start"].parse().unwrap();
        let previous = last.insert(row["strand"].clone(), start).unwrap_or(-1);
        assert!(start > previous, "{row:?} after {previous}");
        let piece = &alone[&(format!("p{start}"), row["strand"].clone())];
        assert_eq!(
            (&row["mfe"], &row["score"]),
            (&piece["mfe"], &piece["score"])
        );
    }
}

#[test]
fn stage_errors_are_clear() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let structure = weights.join("synthetic-structure.safetensors");
    let zeros = vec!["0"; 100].join(",");
    let interleaved = format!(
        "seq_id\tstart\tend\tstrand\tseq\tpairing\tmfe\n\
         r\t0\t100\t+\t{a}\t{zeros}\t0\n\
         r\t0\t100\t-\t{a}\t{zeros}\t0\n\
         r\t20\t120\t+\t{a}\t{zeros}\t0\n",
        a = "A".repeat(100)
    );
    let backwards = format!(
        "seq_id\tstart\tend\tstrand\tseq\nr\t100\t100\t+\t{}\n",
        "A".repeat(100)
    );
    let cases: [(&str, Vec<&str>, &str, &str); 7] = [
        ("mire2e-fold", vec![], "", "empty input"),
        (
            "mire2e-fold",
            vec![],
            "seq_id\tstart\tend\tstrand\nr\t0\t100\t+\n",
            "missing column `seq`",
        ),
        (
            "mire2e-fold",
            vec![],
            "seq_id\tstart\tend\tstrand\tseq\nr\t0\t100\t+\tACGU\n",
            "line 2, column `seq`",
        ),
        (
            "mire2e-fold",
            vec![],
            &backwards,
            "line 2, column `end`: '100' is not after start 100",
        ),
        (
            "mire2e-mfe",
            vec![],
            "seq_id\tstart\tend\tstrand\tseq\n",
            "missing column `pairing`",
        ),
        (
            "mire2e-classify",
            vec!["--threshold", "2"],
            "",
            "--threshold",
        ),
        // Windows of a record read in parts: not the original's batches.
        (
            "mire2e-classify",
            vec!["--attention", "batch-compat"],
            &interleaved,
            "line 4: a '+' window of r after its '-' windows",
        ),
    ];
    for (name, extra, input, message) in cases {
        let weights_file = match name {
            "mire2e-fold" => structure.clone(),
            "mire2e-mfe" => weights.join("hsa-mfe.safetensors"),
            _ => weights.join("synthetic-predictor.safetensors"),
        };
        let out = bin(name)
            .arg("--weights")
            .arg(&weights_file)
            .args(&extra)
            .write_stdin(input)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name} {message}: {stderr}");
        assert!(
            stderr.contains(message),
            "{name}: expected '{message}' in: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && out.stdout.is_empty(),
            "{name}: {stderr}"
        );
    }
    // Another model's weights: the error names a tensor.
    let out = bin("mire2e-mfe")
        .arg("--weights")
        .arg(&structure)
        .write_stdin("")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("conv1.conv_layers"), "{stderr}");
    // No bundle found: says where it looked.
    let out = bin("mire2e")
        .args(["scan", "-", "--model", "no-such-model"])
        .write_stdin(">r\nACGU\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model bundle 'no-such-model'"));
}

/// Scores of one FASTA file under some attention options.
type Run<'a> = dyn Fn(&Path, &[&str]) -> Vec<HashMap<String, String>> + 'a;

/// The original never scans tail windows. With the tail on (the default), batch-compat must still
/// give every original window the original's score, and each tail window the score it gets alone.
#[test]
fn tail_windows_stay_out_of_the_original_batches() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let dir = tempfile::tempdir().unwrap();
    let golden = Golden::load(&shared, "hsa");
    let bundle = reference_bundle(&shared, "hsa", dir.path());
    let scan = |fasta: &Path, mode: &[&str]| {
        let mut scan = bin("mire2e");
        table(&run(scan
            .arg("scan")
            .arg(fasta)
            .arg("--model")
            .arg(&bundle)
            .args(mode)))
    };
    let piped = |fasta: &Path, mode: &[&str]| {
        let windows = run(bin("mire2e-window").arg(fasta));
        let folded = run(bin("mire2e-fold")
            .arg("--weights")
            .arg(weights.join("synthetic-structure.safetensors"))
            .write_stdin(windows));
        let mfe = run(bin("mire2e-mfe")
            .arg("--weights")
            .arg(weights.join("hsa-mfe.safetensors"))
            .write_stdin(folded));
        table(&run(bin("mire2e-classify")
            .arg("--weights")
            .arg(weights.join("synthetic-predictor.safetensors"))
            .args(mode)
            .write_stdin(mfe)))
    };
    let runs: [(&str, &Run); 2] = [("scan", &scan), ("pipe", &piped)];
    for (how, go) in runs {
        for (mode, golden_col) in &MODES[1..] {
            let (mut original, mut tails) = (Vec::new(), 0);
            for fasta in inputs(&shared) {
                let alone = go(&fasta, MODES[0].0);
                let rows = go(&fasta, mode);
                assert_eq!(rows.len(), alone.len());
                for (row, alone) in rows.into_iter().zip(alone) {
                    if row["start"].parse::<u64>().unwrap() % 20 == 0 {
                        original.push(row);
                        continue;
                    }
                    tails += 1;
                    let (a, b): (f64, f64) = (
                        row["score"].parse().unwrap(),
                        alone["score"].parse().unwrap(),
                    );
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "{how} {golden_col}: tail {row:?}: {a} vs {b}"
                    );
                }
            }
            // the three records (3,010, 537 and 459 nt) all end off the grid: a tail window on
            // each strand of each
            assert_eq!(tails, 6, "{how} {golden_col}");
            let d = worst(&golden, &original, "score", golden_col);
            eprintln!("{how} {golden_col} with tails: worst |Δ| = {d:.3e}");
            assert!(d <= TOLERANCE, "{how} {golden_col}: {d}");
        }
    }
}
