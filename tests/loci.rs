//! What a scan gives a biologist besides scores: GFF3 loci that read back (noodles-gff) as the BED
//! of the same run, from `mire2e scan` and from the piped stages alike; bedGraph and bigWig tracks
//! that hold every window's best covering score; a seeded decoy with its q-values; the report.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use noodles_gff as gff;

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

fn reference_bundle(shared: &Path, dir: &Path) -> PathBuf {
    let weights = shared.join("reference/weights");
    let bundle = dir.join("reference");
    run(bin("mire2e")
        .arg("bundle")
        .arg(&bundle)
        .args(["--name", "reference", "--structure"])
        .arg(weights.join("synthetic-structure.safetensors"))
        .arg("--mfe")
        .arg(weights.join("hsa-mfe.safetensors"))
        .arg("--classifier")
        .arg(weights.join("synthetic-predictor.safetensors")));
    bundle
}

fn genome(dir: &Path) -> PathBuf {
    let fasta = dir.join("genome.fa");
    let mut text = String::new();
    for (i, len) in [3000, 12_000, 130].into_iter().enumerate() {
        let seq = support::random_dna(len, i as u64 + 40);
        text.push_str(&format!(">chr{i}\n{seq}\n"));
    }
    std::fs::write(&fasta, text).unwrap();
    fasta
}

/// (record, 1-based start, end, strand, score to 3 decimals, q-value text) per BED line.
fn bed_loci(path: &Path) -> Vec<(String, u64, u64, String, u32, Option<String>)> {
    let mut loci: Vec<_> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let q = f[3].split_once("|q=").map(|(_, q)| q.to_owned());
            let start: u64 = f[1].parse().unwrap();
            (
                f[0].to_owned(),
                start + 1,
                f[2].parse().unwrap(),
                f[5].to_owned(),
                f[4].parse().unwrap(),
                q,
            )
        })
        .collect();
    loci.sort();
    loci
}

fn gff_records(path: &Path) -> Vec<gff::feature::RecordBuf> {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = gff::io::Reader::new(&bytes[..]);
    reader.record_bufs().map(|r| r.unwrap()).collect()
}

fn attribute(r: &gff::feature::RecordBuf, tag: &str) -> Option<String> {
    r.attributes()
        .get(tag.as_bytes())
        .and_then(|v| v.as_string())
        .map(|v| v.to_string())
}

fn gff_loci(
    records: &[gff::feature::RecordBuf],
) -> Vec<(String, u64, u64, String, u32, Option<String>)> {
    let mut loci: Vec<_> = records
        .iter()
        .map(|r| {
            let strand = match r.strand() {
                gff::feature::record::Strand::Forward => "+",
                gff::feature::record::Strand::Reverse => "-",
                s => panic!("strand {s:?}"),
            };
            let score = (r.score().unwrap().clamp(0.0, 1.0) * 1000.0).round() as u32;
            (
                r.reference_sequence_name().to_string(),
                r.start().get() as u64,
                r.end().get() as u64,
                strand.to_owned(),
                score,
                attribute(r, "q_value"),
            )
        })
        .collect();
    loci.sort();
    loci
}

/// Rows of a scores TSV: (record, start, end, strand, score).
fn windows(path: &Path) -> Vec<(String, u64, u64, String, f32)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (id, start, end, strand, score) = (
        col("seq_id"),
        col("start"),
        col("end"),
        col("strand"),
        col("score"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[id].to_owned(),
                f[start].parse().unwrap(),
                f[end].parse().unwrap(),
                f[strand].to_owned(),
                f[score].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn gff3_bedgraph_decoy_and_report() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = reference_bundle(&shared, dir.path());
    let fasta = genome(dir.path());
    let scan = |name: &str, extra: &[&str]| -> PathBuf {
        let out = dir.path().join(name);
        run(bin("mire2e")
            .arg("scan")
            .arg(&fasta)
            .arg("--model")
            .arg(&bundle)
            .args(["--threshold", "0.3", "-o"])
            .arg(out.with_extension("tsv"))
            .arg("--bed")
            .arg(out.with_extension("bed"))
            .arg("--gff3")
            .arg(out.with_extension("gff3"))
            .args(extra));
        out
    };
    let a = scan("a", &["--decoy=0.6", "--decoy-seed", "3"]);
    let b = scan("b", &["--decoy=0.6", "--decoy-seed", "3"]);
    let c = scan("c", &["--decoy=0.6", "--decoy-seed", "4"]);

    // GFF3 read back = BED of the same run (coordinates, strand, score, q-value)
    let records = gff_records(&a.with_extension("gff3"));
    assert!(
        records.len() >= 3,
        "too few loci to test: {}",
        records.len()
    );
    assert_eq!(gff_loci(&records), bed_loci(&a.with_extension("bed")));
    for r in &records {
        assert_eq!(r.ty(), "miRNA_primary_transcript");
        let structure = attribute(r, "structure").expect("structure");
        assert_eq!(structure.len(), 100);
        assert!(structure.chars().all(|c| "().".contains(c)));
        let windows: usize = attribute(r, "windows").unwrap().parse().unwrap();
        assert!(windows >= 1);
        let best = attribute(r, "best_window").unwrap();
        assert!(
            best.starts_with(&format!("{}:", r.reference_sequence_name())),
            "{best}"
        );
    }
    // the GFF3 is a truth mire2e-eval reads (miRBase's feature type): every locus is positive
    let metrics = run(bin("mire2e-eval")
        .arg("-s")
        .arg(a.with_extension("tsv"))
        .arg("--truth")
        .arg(a.with_extension("gff3")));
    let metrics = String::from_utf8(metrics).unwrap();
    let all = metrics
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("all"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let positives: usize = all.split('\t').nth(2).unwrap().parse().unwrap();
    assert_eq!(positives, records.len(), "{metrics}");
    // the same seed gives the same decoy, another seed another one
    assert_eq!(
        std::fs::read(a.with_extension("bed")).unwrap(),
        std::fs::read(b.with_extension("bed")).unwrap()
    );
    let q = |p: &Path| {
        bed_loci(&p.with_extension("bed"))
            .into_iter()
            .map(|l| l.5)
            .collect::<Vec<_>>()
    };
    assert!(q(&a).iter().all(Option::is_some));
    assert_ne!(q(&a), q(&c), "decoy seeds 3 and 4 gave the same q-values");
}

#[test]
fn tracks_and_report() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = reference_bundle(&shared, dir.path());
    let fasta = genome(dir.path());
    let out = dir.path().join("scores.tsv");
    let report = dir.path().join("report");
    run(bin("mire2e")
        .arg("scan")
        .arg(&fasta)
        .arg("--model")
        .arg(&bundle)
        .args(["--threshold", "0.3", "--report-top", "7", "-o"])
        .arg(&out)
        .arg("--bedgraph")
        .arg(dir.path().join("tracks"))
        .arg("--bigwig")
        .arg(dir.path().join("tracks"))
        .arg("--report")
        .arg(&report)
        .arg("--decoy"));
    let rows = windows(&out);
    // every base of a track carries the best score of the windows covering it
    for (strand, name) in [("+", "plus"), ("-", "minus")] {
        let text =
            std::fs::read_to_string(dir.path().join(format!("tracks.{name}.bedgraph"))).unwrap();
        let mut by_base: BTreeMap<(String, u64), f32> = BTreeMap::new();
        for (id, start, end, _, score) in rows.iter().filter(|r| r.3 == strand) {
            for base in *start..*end {
                let v = by_base
                    .entry((id.clone(), base))
                    .or_insert(f32::NEG_INFINITY);
                *v = v.max(*score);
            }
        }
        let mut covered = 0;
        let mut last: Option<(String, u64)> = None;
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let (start, end): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let value: f32 = f[3].parse().unwrap();
            if let Some((id, e)) = &last {
                assert!(
                    id != f[0] || *e <= start,
                    "lines overlap or go back: {line}"
                );
            }
            for base in start..end {
                assert_eq!(
                    by_base[&(f[0].to_owned(), base)],
                    value,
                    "{name} {} {base}",
                    f[0]
                );
            }
            covered += end - start;
            last = Some((f[0].to_owned(), end));
        }
        assert_eq!(covered as usize, by_base.len(), "{name}: bases covered");
        // the bigWig, read back with bigtools, holds the same values base for base
        let bw = dir.path().join(format!("tracks.{name}.bw"));
        let mut bw = bigtools::BigWigRead::open_file(&bw).unwrap();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let (start, end): (u32, u32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let value: f32 = f[3].parse().unwrap();
            let got = bw.values(f[0], start, end).unwrap();
            assert!(got.iter().all(|v| *v == value), "{name} bigWig {line}");
        }
    }
    // the report: self-contained, the run's numbers, the FDR table, 7 loci with hairpins
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("<link"));
    assert!(
        page.contains(&format!("<td>{}</td>", rows.len())),
        "window count"
    );
    assert!(page.contains("estimated FDR"));
    assert_eq!(page.matches("<pre>").count(), 7);
    assert!(page.contains("|"), "pairs drawn");
}

/// The piped stages give the same GFF3 loci (and structures) as `mire2e scan`.
#[test]
fn classify_writes_the_same_gff3() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let bundle = reference_bundle(&shared, dir.path());
    let fasta = genome(dir.path());
    let scan_gff = dir.path().join("scan.gff3");
    run(bin("mire2e")
        .arg("scan")
        .arg(&fasta)
        .arg("--model")
        .arg(&bundle)
        .args(["--threshold", "0.3", "--gff3"])
        .arg(&scan_gff));
    let windows = run(bin("mire2e-window").arg(&fasta));
    let folded = run(bin("mire2e-fold")
        .arg("--model")
        .arg(&bundle)
        .write_stdin(windows));
    let mfe = run(bin("mire2e-mfe")
        .arg("--model")
        .arg(&bundle)
        .write_stdin(folded));
    let pipe_gff = dir.path().join("pipe.gff3");
    run(bin("mire2e-classify")
        .arg("--model")
        .arg(&bundle)
        .args(["--threshold", "0.3", "--gff3"])
        .arg(&pipe_gff)
        .write_stdin(mfe));
    let (a, b) = (gff_records(&scan_gff), gff_records(&pipe_gff));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}
