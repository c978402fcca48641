//! CLI tests of `mire2e-eval`: metrics against scikit-learn, degenerate cases, ties and row order,
//! several runs with curves and plots, bad input, and the real MHC clone with its known hairpins.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn eval() -> Command {
    Command::cargo_bin("mire2e-eval").unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/eval")
        .join(name)
}

/// Reference values from scikit-learn (`None`: undefined there too, or an error/warning).
struct Reference {
    positives: u64,
    negatives: u64,
    auroc: Option<f64>,
    ap: Option<f64>,
    trapz: Option<f64>,
    f1_at_half: Option<f64>,
    max_f1: Option<f64>,
    best_threshold: Option<f64>,
}

// Pasted from `python3 tests/data/eval/make_reference.py` (which also wrote the fixtures):
// scikit-learn 1.9.1, numpy 2.4.6. roc_auc_score, average_precision_score,
// auc(precision_recall_curve), f1_score(y, s >= 0.5) and the max of F1 over precision_recall_curve.
// NO_POSITIVES: scikit-learn raises for AUROC and returns 0 with a warning for AP; we write NA.
// F1 at 0.5 there is 2tp / (2tp + fp + fn) = 0 (f1_score with zero_division=nan gives 0 too).
const TIES_ALL: Reference = Reference {
    positives: 54,
    negatives: 346,
    auroc: Some(0.8600674373795761),
    ap: Some(0.4781341112547744),
    trapz: Some(0.4838876095534531),
    f1_at_half: Some(0.48128342245989303),
    max_f1: Some(0.512),
    best_threshold: Some(0.6000000238418579),
};
const TIES_CHR_A: Reference = Reference {
    positives: 38,
    negatives: 212,
    auroc: Some(0.8673038728897716),
    ap: Some(0.5500841846958936),
    trapz: Some(0.5709193594644585),
    f1_at_half: Some(0.5238095238095238),
    max_f1: Some(0.5714285714285715),
    best_threshold: Some(0.6000000238418579),
};
const TIES_CHR_B: Reference = Reference {
    positives: 16,
    negatives: 134,
    auroc: Some(0.8444496268656717),
    ap: Some(0.35321235243987126),
    trapz: Some(0.3551387223028849),
    f1_at_half: Some(0.39344262295081966),
    max_f1: Some(0.3934426229508197),
    best_threshold: Some(0.5),
};
const IMBALANCE: Reference = Reference {
    positives: 6,
    negatives: 2994,
    auroc: Some(0.9982743264306391),
    ap: Some(0.7652519893899205),
    trapz: Some(0.7586180581870237),
    f1_at_half: Some(0.5333333333333333),
    max_f1: Some(0.8),
    best_threshold: Some(0.6154698133468628),
};
const NO_POSITIVES: Reference = Reference {
    positives: 0,
    negatives: 5,
    auroc: None,
    ap: None,
    trapz: None,
    f1_at_half: Some(0.0),
    max_f1: None,
    best_threshold: None,
};
const ALL_TIED: Reference = Reference {
    positives: 2,
    negatives: 4,
    auroc: Some(0.5),
    ap: Some(0.3333333333333333),
    trapz: Some(0.6666666666666666),
    f1_at_half: Some(0.0),
    max_f1: Some(0.5),
    best_threshold: Some(0.25),
};
const ONE_WINDOW: Reference = Reference {
    positives: 1,
    negatives: 0,
    auroc: None,
    ap: Some(1.0),
    trapz: Some(1.0),
    f1_at_half: Some(1.0),
    max_f1: Some(1.0),
    best_threshold: Some(0.75),
};

/// Rows of a table as column -> value maps, keyed by (run, seq_id).
type Rows = HashMap<(String, String), HashMap<String, String>>;

/// The table's rows and its metadata lines.
fn table(stdout: &[u8]) -> (Rows, Vec<String>) {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    let meta: Vec<String> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let mut lines = text.lines().skip_while(|l| l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let mut rows = HashMap::new();
    for line in lines {
        let row: HashMap<String, String> = header
            .iter()
            .zip(line.split('\t'))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        assert_eq!(row.len(), header.len(), "{line}");
        rows.insert((row["run"].clone(), row["seq_id"].clone()), row);
    }
    (rows, meta)
}

fn value(row: &HashMap<String, String>, column: &str) -> Option<f64> {
    match row[column].as_str() {
        "NA" => None,
        v => Some(v.parse().unwrap_or_else(|_| panic!("{column}: '{v}'"))),
    }
}

fn check(row: &HashMap<String, String>, r: &Reference, what: &str) {
    assert_eq!(
        row["positives"],
        r.positives.to_string(),
        "{what} positives"
    );
    assert_eq!(
        row["negatives"],
        r.negatives.to_string(),
        "{what} negatives"
    );
    for (column, expected) in [
        ("AUROC", r.auroc),
        ("AP", r.ap),
        ("AUCPR_trapezoid", r.trapz),
        ("F1", r.f1_at_half),
        ("best_F1", r.max_f1),
    ] {
        match (value(row, column), expected) {
            (Some(got), Some(want)) => assert!(
                (got - want).abs() <= 1e-9,
                "{what} {column}: {got} vs scikit-learn {want}"
            ),
            (got, want) => assert_eq!(got, want, "{what} {column}"),
        }
    }
    let best = value(row, "best_threshold").map(|t| t as f32);
    assert_eq!(
        best,
        r.best_threshold.map(|t| t as f32),
        "{what} best_threshold"
    );
}

fn run_table(args: &[&str]) -> Rows {
    let out = eval()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    table(&out).0
}

fn key(run: &str, seq: &str) -> (String, String) {
    (run.to_owned(), seq.to_owned())
}

#[test]
fn matches_scikit_learn_with_ties_and_per_sequence() {
    let scores = data("ties.scores.tsv");
    let bed = data("ties.bed");
    // windows do not overlap, so every rule gives the same labels
    for rule in ["best", "contain", "overlap:0.5"] {
        let rows = run_table(&[
            "-s",
            scores.to_str().unwrap(),
            "-l",
            "t",
            "--truth",
            bed.to_str().unwrap(),
            "--rule",
            rule,
        ]);
        check(&rows[&key("t", "all")], &TIES_ALL, rule);
        check(&rows[&key("t", "chrA")], &TIES_CHR_A, rule);
        check(&rows[&key("t", "chrB")], &TIES_CHR_B, rule);
        assert_eq!(rows[&key("t", "all")]["excluded"], "0");
        assert_eq!(rows[&key("t", "all")]["precursors"], "54");
    }
}

#[test]
fn matches_scikit_learn_under_imbalance() {
    let rows = run_table(&[
        "-s",
        data("imbalance.scores.tsv").to_str().unwrap(),
        "--truth",
        data("imbalance.bed").to_str().unwrap(),
        "--curve-points",
        "0",
    ]);
    check(
        &rows[&key("imbalance.scores.tsv", "all")],
        &IMBALANCE,
        "imbalance",
    );
}

#[test]
fn degenerate_cases() {
    for (name, reference) in [
        ("no_positives", &NO_POSITIVES),
        ("all_tied", &ALL_TIED),
        ("one_window", &ONE_WINDOW),
    ] {
        let rows = run_table(&[
            "-s",
            data(&format!("{name}.scores.tsv")).to_str().unwrap(),
            "-l",
            name,
            "--truth",
            data(&format!("{name}.bed")).to_str().unwrap(),
            "--truth-format",
            "bed",
        ]);
        check(&rows[&key(name, "all")], reference, name);
    }
    // no positives: s+ undefined, precision 0 (something is called positive)
    let rows = run_table(&[
        "-s",
        data("no_positives.scores.tsv").to_str().unwrap(),
        "--truth",
        data("no_positives.bed").to_str().unwrap(),
    ]);
    let all = &rows[&key("no_positives.scores.tsv", "all")];
    assert_eq!((all["s+"].as_str(), all["p"].as_str()), ("NA", "0"));
    // an empty stream (header only): nothing to score, every metric NA
    let out = eval()
        .args(["-s", "-", "--truth", data("ties.bed").to_str().unwrap()])
        .write_stdin("seq_id\tstart\tend\tstrand\tscore\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let all = &table(&out).0[&key("stdin", "all")];
    assert_eq!(
        (all["positives"].as_str(), all["AUROC"].as_str()),
        ("0", "NA")
    );
}

#[test]
fn row_order_does_not_matter() {
    let text = std::fs::read_to_string(data("ties.scores.tsv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let body = lines.split_off(2);
    // a fixed shuffle: every 7th row, cycling
    let mut shuffled: Vec<&str> = Vec::new();
    for offset in 0..7 {
        shuffled.extend(body.iter().skip(offset).step_by(7));
    }
    let stream = format!("{}\n{}\n", lines.join("\n"), shuffled.join("\n"));
    let bed = data("ties.bed");
    let ordered = eval()
        .args(["-s", data("ties.scores.tsv").to_str().unwrap(), "-l", "x"])
        .args(["--truth", bed.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let shuffled = eval()
        .args(["-s", "-", "-l", "x", "--truth", bed.to_str().unwrap()])
        .write_stdin(stream)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (a, b) = (table(&ordered).0, table(&shuffled).0);
    assert_eq!(a, b);
}

#[test]
fn several_runs_write_curves_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let out = eval()
        .args([
            "-s",
            data("ties.scores.tsv").to_str().unwrap(),
            "-l",
            "run one",
        ])
        .args([
            "-s",
            data("imbalance.scores.tsv").to_str().unwrap(),
            "-l",
            "run two",
        ])
        .args(["--truth", data("ties.bed").to_str().unwrap()])
        .args(["--report", report.to_str().unwrap(), "-o"])
        .arg(dir.path().join("table.tsv"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(out.is_empty(), "the table went to -o, not stdout");
    let table_text = std::fs::read(dir.path().join("table.tsv")).unwrap();
    assert_eq!(
        std::fs::read(report.join("metrics.tsv")).unwrap(),
        table_text
    );
    let (rows, meta) = table(&table_text);
    assert!(meta[0].starts_with("#mire2e-eval "), "{meta:?}");
    assert!(
        meta.iter().any(|m| m.starts_with("#run=run two ")),
        "{meta:?}"
    );
    assert!(rows.contains_key(&key("run one", "all")));
    assert!(rows.contains_key(&key("run two", "chr1")));
    for (file, columns) in [
        ("pr.tsv", "run\tthreshold\ttp\tfp\tprecision\trecall\tF1"),
        ("roc.tsv", "run\tthreshold\ttp\tfp\tfpr\ttpr"),
    ] {
        let text = std::fs::read_to_string(report.join(file)).unwrap();
        let mut lines = text.lines().skip_while(|l| l.starts_with('#'));
        assert_eq!(lines.next(), Some(columns));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
        assert!(rows.iter().any(|r| r[0] == "run one") && rows.iter().any(|r| r[0] == "run two"));
        // thresholds fall and counts rise within a run; the last point calls every window
        for run in ["run one", "run two"] {
            let points: Vec<(f32, u64, u64)> = rows
                .iter()
                .filter(|r| r[0] == run)
                .map(|r| {
                    (
                        r[1].parse().unwrap(),
                        r[2].parse().unwrap(),
                        r[3].parse().unwrap(),
                    )
                })
                .collect();
            assert!(points
                .windows(2)
                .all(|w| w[0].0 > w[1].0 && w[0].1 <= w[1].1 && w[0].2 <= w[1].2));
            let all = &table(&table_text).0[&key(run, "all")];
            let last = points.last().unwrap();
            assert_eq!(last.1.to_string(), all["positives"]);
            assert_eq!(last.2.to_string(), all["negatives"]);
        }
    }
    for plot in ["pr", "roc"] {
        let png = std::fs::read(report.join(format!("{plot}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(report.join(format!("{plot}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("run one") && svg.contains("run two"));
    }
    // no partial files left behind
    let names: Vec<_> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".mire2e-partial")),
        "{names:?}"
    );
    assert_eq!(names.len(), 7, "{names:?}");
}

#[test]
fn bad_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let scores = data("ties.scores.tsv");
    let bed = data("ties.bed");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // malformed BED line
    let bad_bed = write("bad.bed", "chrA\t10\t70\tm\t0\t+\nchrA\tten\t70\n");
    eval()
        .args([
            "-s",
            scores.to_str().unwrap(),
            "--truth",
            bad_bed.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.bed: line 2: start 'ten' is not a non-negative integer",
        ));
    // malformed GFF3 line
    let bad_gff = write(
        "bad.gff3",
        "##gff-version 3\nchr1\t.\tmiRNA_primary_transcript\t100\t50\t.\t+\t.\tID=x\n",
    );
    eval()
        .args([
            "-s",
            scores.to_str().unwrap(),
            "--truth",
            bad_gff.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bad.gff3: line 2: end 50 is before start 100",
        ));
    // malformed stream rows
    for (row, message) in [
        (
            "c\t0\t100\t+\tabc",
            "line 3, column `score`: 'abc' is not a finite number",
        ),
        (
            "c\t0\t100\t*\t0.5",
            "line 3, column `strand`: '*' is not '+' or '-'",
        ),
        (
            "c\t100\t100\t+\t0.5",
            "line 3, column `end`: '100' is not after start 100",
        ),
        (
            "c\t0\t100\t+",
            "line 3: 4 fields, but the header has 5 columns",
        ),
    ] {
        let stream = format!("seq_id\tstart\tend\tstrand\tscore\nc\t0\t100\t+\t0.1\n{row}\n");
        eval()
            .args(["-s", "-", "--truth", bed.to_str().unwrap()])
            .write_stdin(stream)
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains(format!("stdin: {message}")));
    }
    eval()
        .args(["-s", "-", "--truth", bed.to_str().unwrap()])
        .write_stdin("seq_id\tstart\tend\tstrand\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing column `score`"));
    // usage errors
    eval()
        .args(["-s", scores.to_str().unwrap(), "-l", "a", "-l", "b"])
        .args(["--truth", bed.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("2 --label for 1 --scores"));
    eval()
        .args([
            "-s",
            scores.to_str().unwrap(),
            "--truth",
            bed.to_str().unwrap(),
        ])
        .args(["--rule", "overlap:2"])
        .assert()
        .code(2);
    // a truth whose format cannot be told, and hairpins without a genome
    let odd = write("truth.txt", "");
    eval()
        .args([
            "-s",
            scores.to_str().unwrap(),
            "--truth",
            odd.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--truth-format"));
    let fa = write("hairpins.fa", ">h\nACGUACGUACGUACGUACGU\n");
    eval()
        .args([
            "-s",
            scores.to_str().unwrap(),
            "--truth",
            fa.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("give --genome FASTA"));
    // a failed run leaves no output file
    let out = dir.path().join("out.tsv");
    eval()
        .args([
            "-s",
            "-",
            "--truth",
            bed.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .write_stdin("seq_id\tstart\tend\tstrand\tscore\nc\t0\t100\t+\tx\n")
        .assert()
        .code(1);
    assert!(!out.exists());
}

/// Windows (100 nt, step 20, both strands, with the tail window) over a record of `len` bases,
/// scored by a fixed hash of their position, with ties (3 decimals).
fn synthetic_scores(seq_id: &str, len: u64) -> String {
    let mut starts: Vec<u64> = (0..=len - 100).step_by(20).collect();
    if starts.last().unwrap() + 100 < len {
        starts.push(len - 100);
    }
    let mut out = String::from("#synthetic\nseq_id\tstart\tend\tstrand\tscore\n");
    for (strand, salt) in [("+", 1u64), ("-", 2u64)] {
        for &s in &starts {
            let mut x = (s + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x ^= x >> 32;
            let score = (x % 1001) as f64 / 1000.0;
            out.push_str(&format!("{seq_id}\t{s}\t{}\t{strand}\t{score}\n", s + 100));
        }
    }
    out
}

#[test]
fn real_mhc_clone_with_bed_hairpins_and_gff3() {
    let shared = require_shared!();
    let mhc = shared.join("data/human_mhc");
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("ba.scores.tsv");
    std::fs::write(&scores, synthetic_scores("BA000025.2", 2_229_817)).unwrap();
    let s = scores.to_str().unwrap();
    let body = |args: &[&str]| {
        let out = eval()
            .args(["-s", s, "-l", "ba"])
            .args(args)
            .assert()
            .success();
        let out = out.get_output().stdout.clone();
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The BED: 5 precursors in BA000025.2 (found by exact matching, independently of this tool).
    let bed = mhc.join("hsa_miRBase_v22_hairpins_in_region.bed");
    let from_bed = body(&["--truth", bed.to_str().unwrap()]);
    let rows = run_table(&["-s", s, "-l", "ba", "--truth", bed.to_str().unwrap()]);
    let all = &rows[&key("ba", "all")];
    assert_eq!(all["positives"], "5");
    assert_eq!(all["precursors"], "5");
    assert_eq!(
        all["positives"].parse::<u64>().unwrap()
            + all["negatives"].parse::<u64>().unwrap()
            + all["excluded"].parse::<u64>().unwrap(),
        2 * 111_487
    );
    // The hairpin FASTA located in the clone gives the same table.
    let hairpins = shared.join("data/mirbase_hsa/hsa_hairpins_miRBase_v22.fa");
    let genome = mhc.join("BA000025.2.fa");
    let from_fasta = body(&[
        "--truth",
        hairpins.to_str().unwrap(),
        "--genome",
        genome.to_str().unwrap(),
    ]);
    assert_eq!(from_bed, from_fasta);
    // The GRCh38 GFF3, mapped onto the clone (which runs opposite to chr6): hsa-mir-4646 lies at
    // chr6:31701029-31701091 (-) and at BA000025.2:242936-242998 (+), so record base p is
    // chr6 0-based base 31944025 - p. The clone has indels against GRCh38, so only nearby
    // precursors map onto the same windows; all five are still touched.
    let gff = shared.join("data/mirbase_hsa/hsa_miRBase_v22.gff3");
    let rows = run_table(&[
        "-s",
        s,
        "-l",
        "ba",
        "--truth",
        gff.to_str().unwrap(),
        "--chrom",
        "chr6",
        "--offset",
        "31944025",
        "--reverse",
    ]);
    let all = &rows[&key("ba", "all")];
    assert_eq!(
        (all["positives"].as_str(), all["precursors"].as_str()),
        ("5", "5")
    );
}

#[test]
fn gzipped_stream_and_hairpin_fasta_truth() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    // gzip gives the same table as plain text
    let plain = std::fs::read(data("ties.scores.tsv")).unwrap();
    let gz = dir.path().join("ties.scores.tsv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let bed = data("ties.bed");
    let a = run_table(&[
        "-s",
        data("ties.scores.tsv").to_str().unwrap(),
        "-l",
        "x",
        "--truth",
        bed.to_str().unwrap(),
    ]);
    let b = run_table(&[
        "-s",
        gz.to_str().unwrap(),
        "-l",
        "x",
        "--truth",
        bed.to_str().unwrap(),
    ]);
    assert_eq!(a, b);
    // a hairpin located on the '-' strand of a small genome: the best '-' window is the positive
    let mut x = 88172645463325252u64;
    let genome: String = (0..600)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x % 4) as usize] as char
        })
        .collect();
    let hairpin: String = genome[230..290]
        .chars()
        .rev()
        .map(|c| match c {
            'A' => 'T',
            'T' => 'A',
            'C' => 'G',
            _ => 'C',
        })
        .collect();
    let genome_fa = dir.path().join("g.fa");
    std::fs::write(&genome_fa, format!(">g\n{genome}\n")).unwrap();
    let hairpins = dir.path().join("h.fa");
    std::fs::write(&hairpins, format!(">mir-x\n{hairpin}\n")).unwrap();
    let mut stream = String::from("seq_id\tstart\tend\tstrand\tscore\n");
    for strand in ["+", "-"] {
        for start in (0..=500).step_by(20) {
            let score = if strand == "-" && start == 200 {
                0.9
            } else {
                0.1
            };
            stream.push_str(&format!("g\t{start}\t{}\t{strand}\t{score}\n", start + 100));
        }
    }
    let out = eval()
        .args(["-s", "-", "-l", "h", "--truth", hairpins.to_str().unwrap()])
        .args(["--genome", genome_fa.to_str().unwrap()])
        .write_stdin(stream)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows = table(&out).0;
    let all = &rows[&key("h", "all")];
    // [230, 290) is touched by windows starting 140..280 (8 per strand); [200, 300) and [220, 320)
    // hold it equally near its centre, and the lower start wins
    assert_eq!(
        (
            all["positives"].as_str(),
            all["excluded"].as_str(),
            all["AUROC"].as_str()
        ),
        ("1", "15", "1")
    );
}

/// Runs the doctests of the repository's Python script `path` (relative to the repository root)
/// and checks that those of each named function ran (skips where python3 cannot start).
fn doctests_pass(path: &str, functions: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let args: [&OsStr; 4] = [
        "-m".as_ref(),
        "doctest".as_ref(),
        "-v".as_ref(),
        script.as_ref(),
    ];
    let Some(out) = support::python3(args) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in functions {
        assert!(
            stdout.contains(&format!("tests in {f}")),
            "the doctests of {f} did not run:\n{stdout}"
        );
    }
}

/// `models/evaluate.py` fits the bundles' operating thresholds; its doctests check the fit (the
/// lowest threshold that keeps to the calls-per-Mb rule, merged loci) by the Python that runs it.
#[test]
fn evaluate_py_threshold_fit_doctests_pass() {
    doctests_pass("models/evaluate.py", &["evaluate.fit_threshold"]);
}

/// `models/length_control.py` (the hairpin tests with length taken out): its doctests check the
/// genome pieces (lengths, no N, away from the known loci) and the AUROC.
#[test]
fn length_control_py_doctests_pass() {
    doctests_pass(
        "models/length_control.py",
        &["length_control.pieces", "length_control.auroc"],
    );
}
