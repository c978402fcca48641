//! CLI tests of `mire2e-window`: windows against an independent computation, compression,
//! line endings, tail and short records, bad input, stdin, and the real MHC record.

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::process::{Command as Process, Stdio};

use assert_cmd::Command;

fn window() -> Command {
    Command::cargo_bin("mire2e-window").unwrap()
}

/// The expected rows, computed independently of the library: forward windows every `step` while a
/// whole window fits, then (tail) one ending at the record end, or one padded window if shorter;
/// then the same intervals reverse-complemented.
fn expected_rows(id: &str, seq: &str, length: usize, step: usize, tail: bool) -> Vec<String> {
    let rna: Vec<u8> = seq
        .bytes()
        .map(|b| if b == b'T' { b'U' } else { b })
        .collect();
    let mut starts = Vec::new();
    let mut s = 0;
    while s + length <= rna.len() {
        starts.push(s);
        s += step;
    }
    if starts.is_empty() {
        starts.push(0);
    } else if tail && starts.last().unwrap() + length < rna.len() {
        starts.push(rna.len() - length);
    }
    let mut rows = Vec::new();
    for strand in ["+", "-"] {
        for &start in &starts {
            let end = (start + length).min(rna.len());
            let mut w: Vec<u8> = rna[start..end].to_vec();
            if strand == "-" {
                w = w
                    .iter()
                    .rev()
                    .map(|b| match b {
                        b'A' => b'U',
                        b'U' => b'A',
                        b'C' => b'G',
                        b'G' => b'C',
                        _ => b'N',
                    })
                    .collect();
            }
            w.resize(length, b'N');
            rows.push(format!(
                "{id}\t{start}\t{end}\t{strand}\t{}",
                String::from_utf8(w).unwrap()
            ));
        }
    }
    rows
}

fn data_rows(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    let mut lines = text.lines().skip_while(|l| l.starts_with('#'));
    assert_eq!(lines.next(), Some("seq_id\tstart\tend\tstrand\tseq"));
    lines.map(str::to_owned).collect()
}

fn fasta(records: &[(&str, &str)], eol: &str) -> String {
    records
        .iter()
        .map(|(id, seq)| {
            let lines: Vec<&str> = seq
                .as_bytes()
                .chunks(60)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(">{id} description{eol}{}{eol}", lines.join(eol))
        })
        .collect()
}

fn records() -> Vec<(String, String)> {
    [
        (1, 3010),
        (2, 537),
        (3, 100),
        (4, 119),
        (5, 120),
        (6, 57),
        (7, 1000),
    ]
    .iter()
    .map(|&(seed, len)| (format!("rec{seed}"), support::random_dna(len, seed)))
    .collect()
}

#[test]
fn windows_match_an_independent_computation() {
    let recs = records();
    let refs: Vec<(&str, &str)> = recs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let input = fasta(&refs, "\n");
    for (args, step, tail) in [
        (vec![], 20, true),
        (vec!["--no-tail"], 20, false),
        (vec!["--step", "7"], 7, true),
    ] {
        let out = window()
            .args(&args)
            .write_stdin(input.clone())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let expected: Vec<String> = recs
            .iter()
            .flat_map(|(id, seq)| expected_rows(id, seq, 100, step, tail))
            .collect();
        assert_eq!(data_rows(&out), expected, "args {args:?}");
    }
}

#[test]
fn tail_window_and_short_record() {
    let seq = support::random_dna(3010, 9);
    let input = fasta(&[("r", &seq)], "\n");
    let out = window()
        .write_stdin(input.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows = data_rows(&out);
    assert_eq!(rows.len(), 2 * 147);
    assert!(rows[146].starts_with("r\t2910\t3010\t+\t"), "{}", rows[146]);
    let out = window()
        .arg("--no-tail")
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows = data_rows(&out);
    assert_eq!(rows.len(), 2 * 146);
    assert!(rows[145].starts_with("r\t2900\t3000\t+\t"));

    let out = window()
        .write_stdin(">s\nACGTT\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let n95 = "N".repeat(95);
    assert_eq!(
        data_rows(&out),
        [
            format!("s\t0\t5\t+\tACGUU{n95}"),
            format!("s\t0\t5\t-\tAACGU{n95}")
        ]
    );
}

#[test]
fn strands_lower_case_and_iupac() {
    let out = window()
        .args(["--strands", "reverse", "--length", "6", "--step", "6"])
        .write_stdin(">s\nacgtRY\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(data_rows(&out), ["s\t0\t6\t-\tNNACGU"]);
    let out = window()
        .args([
            "--length",
            "4",
            "--step",
            "4",
            "--strands",
            "forward",
            "--skip-masked",
            "0.5",
        ])
        .write_stdin(">s\nACGTacgtACgt\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(data_rows(&out), ["s\t0\t4\t+\tACGU", "s\t8\t12\t+\tACGU"]);
}

#[test]
fn gzip_bgzip_crlf_and_files_equal_plain_stdin() {
    let recs = records();
    let refs: Vec<(&str, &str)> = recs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let plain = fasta(&refs, "\n");
    let dir = tempfile::tempdir().unwrap();
    let expected = window()
        .write_stdin(plain.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let mut bgzf = noodles_bgzf::io::Writer::new(Vec::new());
    bgzf.write_all(plain.as_bytes()).unwrap();
    let bgzf = bgzf.finish().unwrap();
    let crlf = fasta(&refs, "\r\n");

    for (name, bytes) in [
        ("in.fa.gz", gz),
        ("in.bgz", bgzf),
        ("crlf.fa", crlf.into_bytes()),
        ("plain.txt", plain.into_bytes()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = window()
            .arg(&path)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(out, expected, "{name}");
        let out = window()
            .write_stdin(bytes)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(out, expected, "{name} on stdin");
    }
    // -o writes the same bytes to a file and leaves no temporary file behind.
    let out_path = dir.path().join("windows.tsv");
    let input = dir.path().join("plain.txt");
    window()
        .arg(&input)
        .arg("-o")
        .arg(&out_path)
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(&out_path).unwrap(), expected);
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".mire2e")
        })
        .count();
    assert_eq!(leftovers, 0);
}

/// `-o` onto a FIFO (as `/dev/null` or a process substitution's `/dev/fd/N`) streams into it and
/// leaves it a FIFO: the temporary-file-and-rename of regular files would replace it with a file.
#[cfg(unix)]
#[test]
fn output_to_a_fifo_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.fa");
    std::fs::write(&input, fasta(&[("r", &"ACGU".repeat(60))], "\n")).unwrap();
    let expected = window()
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let fifo = dir.path().join("fifo");
    let made = Process::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    window()
        .arg(&input)
        .arg("-o")
        .arg(&fifo)
        .assert()
        .success()
        .stdout("");
    // checked first: were the FIFO replaced, the reader would wait on it forever
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(reader.join().unwrap(), expected);
}

/// Each bad input: exit 1, one error line naming the problem, nothing on stdout, no panic.
#[test]
fn bad_inputs_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(fasta(&[("r", &support::random_dna(5000, 3))], "\n").as_bytes())
        .unwrap();
    let gz = gz.finish().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.fa.gz", gz[..gz.len() / 2].to_vec(), "truncated"),
        ("junk.bin", vec![0u8, 159, 146, 150, 7, 255, 3], "not FASTA"),
        ("reads.fq", b"@read1\nACGT\n+\nIIII\n".to_vec(), "FASTQ"),
        (
            "letters.fa",
            b">ok\nACGT\n>bad\nACGU\nAC*G\n".to_vec(),
            "record 2 (bad), position 7: '*'",
        ),
        (
            "headless.fa",
            b"ACGT\n>r\nACGT\n".to_vec(),
            "expected a '>' header line",
        ),
        ("empty.fa", Vec::new(), "contains no FASTA record"),
        (
            "empty_record.fa",
            b">a\n>b\nACGU\n".to_vec(),
            "record 1 (a): empty sequence",
        ),
    ];
    for (name, bytes, message) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = window().arg(&path).assert().code(1).get_output().clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(message) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: partial output on stdout");
        // A file output is not created at all.
        let target = dir.path().join(format!("{name}.tsv"));
        window().arg(&path).arg("-o").arg(&target).assert().code(1);
        assert!(!target.exists(), "{name}: output file left behind");
    }
    window()
        .args(["--step", "0"])
        .write_stdin(">r\nACGT\n")
        .assert()
        .code(1);
    window()
        .args(["--max-n", "2"])
        .write_stdin(">r\nACGT\n")
        .assert()
        .code(1);
    window().args(["--strands", "up"]).assert().code(2);
    window()
        .arg(dir.path().join("missing.fa"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("missing.fa"));
}

#[test]
fn closed_stdout_ends_quietly() {
    let input = fasta(&[("r", &support::random_dna(200_000, 5))], "\n");
    let mut child = Process::new(env!("CARGO_BIN_EXE_mire2e-window"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn golden_windows_without_tail() {
    let shared = require_shared!();
    let golden = shared.join("reference/golden");
    let out = window()
        .arg("--no-tail")
        .arg(golden.join("input.fa"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ours = data_rows(&out);
    let text = std::fs::read_to_string(golden.join("hsa/windows.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (rec, start, end, strand, seq) = (
        col("record"),
        col("start"),
        col("end"),
        col("strand"),
        col("seq"),
    );
    // golden/ also holds the unmodified chr19 example as a third record, fed separately.
    let chr19 = window()
        .arg("--no-tail")
        .arg(shared.join("data/mire2e_examples/chr19_13836201_13836660_true.fa"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ours: Vec<String> = ours.into_iter().chain(data_rows(&chr19)).collect();
    let golden_rows: Vec<String> = lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // The original keeps case and writes - windows as DNA; ours are upper-case RNA.
            let s: String = f[seq]
                .chars()
                .map(|c| match c.to_ascii_uppercase() {
                    'T' => 'U',
                    c @ ('A' | 'C' | 'G' | 'U') => c,
                    _ => 'N',
                })
                .collect();
            format!("{}\t{}\t{}\t{}\t{s}", f[rec], f[start], f[end], f[strand])
        })
        .collect();
    assert_eq!(golden_rows.len(), 372);
    assert_eq!(ours, golden_rows);
}

/// A record longer than a part (about a megabase) gives the same windows, each once, with each
/// strand in start order; `--whole-records` gives them in the original's order.
#[test]
fn long_records_come_in_parts() {
    let seq = support::random_dna(2_345_678, 11);
    let input = fasta(&[("long", &seq), ("short", "ACGTACGT")], "\n");
    let mut expected = expected_rows("long", &seq, 100, 20, true);
    expected.extend(expected_rows("short", "ACGTACGT", 100, 20, true));
    let run = |args: &[&str]| {
        let out = window()
            .args(args)
            .write_stdin(input.clone())
            .assert()
            .success();
        data_rows(&out.get_output().stdout)
    };
    assert_eq!(run(&["--whole-records"]), expected);
    let parts = run(&[]);
    let field = |row: &String, i: usize| row.split('\t').nth(i).unwrap().to_owned();
    // In parts: the first '-' window comes before the last '+' one.
    let first_minus = parts.iter().position(|r| field(r, 3) == "-").unwrap();
    let last_plus = parts.iter().rposition(|r| field(r, 3) == "+").unwrap();
    assert!(first_minus < last_plus, "{first_minus} {last_plus}");
    for strand in ["+", "-"] {
        let starts: Vec<u64> = parts
            .iter()
            .filter(|r| field(r, 0) == "long" && field(r, 3) == strand)
            .map(|r| field(r, 1).parse().unwrap())
            .collect();
        assert!(starts.windows(2).all(|p| p[0] < p[1]), "strand {strand}");
    }
    let (mut got, mut want) = (parts, expected);
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn human_mhc_record() {
    let shared = require_shared!();
    let path = shared.join("data/human_mhc/BA000025.2.fa");
    let out = window()
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows = data_rows(&out);
    assert_eq!(rows.len(), 222_974);
    assert_eq!(
        rows.iter()
            .filter(|r| r.split('\t').nth(3) == Some("+"))
            .count(),
        111_487
    );
    // Sampled windows equal the record (read here with no library code) and its reverse complement.
    let text = std::fs::read_to_string(&path).unwrap();
    let seq: String = text
        .lines()
        .skip(1)
        .collect::<String>()
        .to_ascii_uppercase()
        .replace('T', "U");
    for row in rows.iter().step_by(997) {
        let f: Vec<&str> = row.split('\t').collect();
        let (start, end): (usize, usize) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        let interval = &seq[start..end];
        let expected: String = if f[3] == "+" {
            interval.into()
        } else {
            interval
                .chars()
                .rev()
                .map(|c| match c {
                    'A' => 'U',
                    'U' => 'A',
                    'C' => 'G',
                    'G' => 'C',
                    _ => 'N',
                })
                .collect()
        };
        let expected: String = expected
            .chars()
            .map(|c| if "ACGU".contains(c) { c } else { 'N' })
            .collect();
        assert_eq!(f[4], expected, "{row}");
    }
}
