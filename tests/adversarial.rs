//! Adversarial inputs for every reader: FASTA (plain, gzip, BGZF), the TSV stream at each stage,
//! GFF3/BED truth files, weights files and bundle manifests, from `tests/data/adversarial/` plus
//! large cases made at run time. Each bad input gets exit 1 and exactly one stderr line naming the
//! file and what is wrong (the record, line or column where there is one), no output, and never a
//! panic; inputs with a documented accepted behaviour (docs/reliability.md) succeed. Also the
//! memory bound of one huge record, and the fuzzers' crashers as regressions.

#[path = "support/mod.rs"]
mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};

use assert_cmd::cargo::CommandCargoExt;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/adversarial")
        .join(name)
}

/// Runs `bin args.. input extra.. -q` with no stdin.
fn run(bin: &str, args: &[&str], input: &Path, extra: &[&OsStr]) -> Output {
    Process::cargo_bin(bin)
        .unwrap()
        .args(args)
        .arg(input)
        .args(extra)
        .arg("-q")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `bin args.. input` (with `-q`, so that only errors reach stderr) and checks the error
/// contract; then again with `-o FILE` and checks that no file is left.
fn assert_refused(bin: &str, args: &[&str], input: &Path, message: &str) {
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    assert_refused_naming(bin, args, input, &name, message);
}

/// [`assert_refused`] where the bad file is `name`, given in `args`.
fn assert_refused_naming(bin: &str, args: &[&str], input: &Path, name: &str, message: &str) {
    let out = run(bin, args, input, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let case = format!("{bin} {args:?} {name}");
    assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{case}: {stderr}");
    assert!(
        stderr.len() < 2000,
        "{case}: a {} byte message",
        stderr.len()
    );
    assert!(
        stderr.contains(name),
        "{case}: the file is not named: {stderr}"
    );
    assert!(
        stderr.contains(message),
        "{case}: expected '{message}': {stderr}"
    );
    assert!(out.stdout.is_empty(), "{case}: partial output on stdout");
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.tsv");
    let out = run(bin, args, input, &["-o".as_ref(), target.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{case} -o");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{case}: -o left {left:?}");
}

/// Runs `bin args.. input` and expects success; returns stdout.
fn assert_accepted(bin: &str, args: &[&str], input: &Path) -> Vec<u8> {
    let out = run(bin, args, input, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "{bin} {args:?} {}: {stderr}",
        input.display()
    );
    out.stdout
}

/// Data rows of a stream.
fn rows(stream: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stream)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(str::to_owned)
        .collect()
}

#[test]
fn fasta_readers() {
    let cases = [
        ("junk.fa", "not FASTA: expected a '>' header line"),
        ("blank_lines.fa", "not FASTA"),
        ("reads.fq", "looks like FASTQ"),
        ("truncated.fa.gz", "truncated input"),
        ("gzip_junk_after_magic.fa.gz", "corrupt input"),
        ("truncated_block.fa.bgz", "record 1 (r1): truncated input"),
        ("corrupt_block.fa.bgz", "record 1 (r1): corrupt input"),
        (
            "duplicate_ids.fa",
            "record 3 (chr1): duplicate id (also record 1)",
        ),
        ("bad_letter.fa", "record 1 (r), position 7: '*'"),
        ("protein.fa", "record 1 (p), position 4: 'L'"),
        ("nul_in_sequence.fa", "record 1 (r), position 3: byte 0x00"),
        ("header_only.fa", "record 1 (r): empty sequence"),
        ("invalid_utf8_id.fa", "record 1: the id is not valid UTF-8"),
        ("no_id.fa", "record 1: invalid header line"),
    ];
    for (file, message) in cases {
        assert_refused("mire2e-window", &[], &data(file), message);
    }
    // Accepted: CRLF equals LF, and BGZF with several blocks reads like plain text.
    let crlf = assert_accepted("mire2e-window", &[], &data("crlf.fa"));
    let lf = Process::cargo_bin("mire2e-window")
        .unwrap()
        .arg("-q")
        .write_stdin_text(">r1\nACGT\nACGT\n>r2\nGG\n");
    assert_eq!(crlf, lf);
    let bgzf = assert_accepted("mire2e-window", &["--step", "1000"], &data("ok.fa.bgz"));
    assert_eq!(rows(&bgzf).len(), 2 * (12 + 1) * 2);
}

/// `Process` has no `write_stdin`; a tiny helper for text on stdin.
trait StdinText {
    fn write_stdin_text(&mut self, text: &str) -> Vec<u8>;
}

impl StdinText for Process {
    fn write_stdin_text(&mut self, text: &str) -> Vec<u8> {
        use std::io::Write;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let text = text.to_owned();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

#[test]
fn huge_lines_and_inputs_made_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    // 20 MB without a newline and without a header.
    let headless = dir.path().join("headless_huge_line.fa");
    std::fs::write(&headless, vec![b'A'; 20 << 20]).unwrap();
    assert_refused("mire2e-window", &[], &headless, "not FASTA");
    // A score stream whose score field is 8 MB: the message quotes only its start.
    let huge = dir.path().join("huge_score.tsv");
    let mut text = b"seq_id\tstart\tend\tstrand\tscore\nc\t0\t100\t+\t".to_vec();
    text.extend(std::iter::repeat_n(b'9', 8 << 20));
    text.push(b'\n');
    std::fs::write(&huge, text).unwrap();
    let truth = data("truth_crlf.bed");
    let truth = truth.to_str().unwrap();
    assert_refused(
        "mire2e-eval",
        &["--truth", truth, "-s"],
        &huge,
        "line 2, column `score`: '9999",
    );
    // A 4 MB header line of one column: the message lists only the header's start.
    let wide = dir.path().join("huge_header.tsv");
    std::fs::write(&wide, vec![b'x'; 4 << 20]).unwrap();
    assert_refused(
        "mire2e-eval",
        &["--truth", truth, "-s"],
        &wide,
        "missing column",
    );
}

#[test]
fn score_streams_and_truth_files_of_the_evaluation() {
    let truth = data("truth_crlf.bed");
    let truth = truth.to_str().unwrap();
    let scores = [
        (
            "scores_nan.tsv",
            "line 3, column `score`: 'nan' is not a finite",
        ),
        (
            "scores_inf.tsv",
            "line 2, column `score`: 'inf' is not a finite",
        ),
        ("scores_missing_score.tsv", "missing column `score`"),
        ("scores_end_before_start.tsv", "line 2, column `end`"),
        (
            "scores_duplicate_column.tsv",
            "line 1: header column 6 `score` repeats column 5",
        ),
        ("scores_binary.tsv", "corrupt deflate stream"),
        ("windows_empty.tsv", "empty input: no header line"),
        ("windows_meta_only.tsv", "empty input: no header line"),
        ("windows_binary.tsv", "line 1: not valid UTF-8 text"),
        (
            "scores_invalid_utf8_row.tsv",
            "line 3: not valid UTF-8 text",
        ),
    ];
    for (file, message) in scores {
        assert_refused(
            "mire2e-eval",
            &["--truth", truth, "-s"],
            &data(file),
            message,
        );
    }
    let scores_file = data("scores.tsv");
    let scores_file = scores_file.to_str().unwrap();
    let truths = [
        ("truth_bad_start.gff3", "line 2: start 'ten'"),
        ("truth_few_columns.gff3", "line 2: 5 tab-separated fields"),
        ("truth_bad_strand.bed", "line 1: strand 'x'"),
        ("truth_negative.bed", "line 1: start '-10'"),
        ("truth_few_columns.bed", "line 1: 2 tab-separated fields"),
        ("truth_binary.bed", "line 1: is not valid UTF-8"),
    ];
    for (file, message) in truths {
        let path = data(file);
        let args = ["--truth", path.to_str().unwrap(), "-s"];
        assert_refused_naming("mire2e-eval", &args, &data("scores.tsv"), file, message);
    }
    // Accepted: CRLF scores equal LF scores; a truth locus listed twice counts once.
    let lf = assert_accepted(
        "mire2e-eval",
        &["--truth", truth, "-s"],
        &data("scores.tsv"),
    );
    let crlf = assert_accepted(
        "mire2e-eval",
        &["--truth", truth, "-s"],
        &data("scores_crlf.tsv"),
    );
    let body = |t: &[u8]| rows(t).join("\n").replace("scores_crlf.tsv", "scores.tsv");
    assert_eq!(body(&lf), body(&crlf));
    let twice = assert_accepted(
        "mire2e-eval",
        &["-s", scores_file, "--truth"],
        &data("truth_duplicate_ids.bed"),
    );
    assert_eq!(rows(&twice), rows(&lf));
}

#[test]
fn model_stages_streams_weights_and_manifests() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let w = |f: &str| weights.join(f).display().to_string();
    let (structure, mfe, classifier) = (
        w("synthetic-structure.safetensors"),
        w("hsa-mfe.safetensors"),
        w("synthetic-predictor.safetensors"),
    );
    let fold = ["--weights", structure.as_str()];
    let windows = [
        ("windows_missing_seq.tsv", "missing column `seq`"),
        (
            "windows_duplicate_column.tsv",
            "header column 6 `seq` repeats",
        ),
        (
            "windows_non_numeric_start.tsv",
            "line 2, column `start`: 'zero'",
        ),
        (
            "windows_negative_start.tsv",
            "line 2, column `start`: '-20'",
        ),
        ("windows_bad_strand.tsv", "line 2, column `strand`: '.'"),
        (
            "windows_short_seq.tsv",
            "line 2, column `seq`: 'ACGU' has 4 letters",
        ),
        ("windows_lower_case.tsv", "line 2, column `seq`"),
        (
            "windows_extra_field.tsv",
            "line 2: 6 fields, but the header has 5",
        ),
        (
            "windows_missing_field.tsv",
            "line 3: 3 fields, but the header has 5",
        ),
        ("windows_truncated_row.tsv", "line 2, column `seq`"),
        ("windows_binary.tsv", "line 1: not valid UTF-8 text"),
        (
            "windows_invalid_utf8_row.tsv",
            "line 3: not valid UTF-8 text",
        ),
        ("windows_empty.tsv", "empty input"),
        ("windows_meta_only.tsv", "empty input"),
        (
            "windows_empty_column_name.tsv",
            "line 1: header column 2 has no name",
        ),
        ("fold_twice.tsv", "already has a `structure` column"),
    ];
    for (file, message) in windows {
        assert_refused("mire2e-fold", &fold, &data(file), message);
    }
    let pairing = [
        ("fold_pairing_nan.tsv", "column `pairing`: 'NaN,0.25"),
        ("fold_pairing_inf.tsv", "has 'inf', which is not finite"),
        ("fold_pairing_99_values.tsv", "has 99 values; expected 100"),
        ("fold_pairing_text.tsv", "has 'high', which is not a number"),
        (
            "fold_pairing_empty_value.tsv",
            "has '', which is not a number",
        ),
        ("mfe_missing_pairing.tsv", "missing column `pairing`"),
    ];
    for (file, message) in pairing {
        assert_refused("mire2e-mfe", &["--weights", &mfe], &data(file), message);
    }
    let mfe_values = [
        ("mfe_nan.tsv", "line 2, column `mfe`: 'NaN' is not finite"),
        ("mfe_inf.tsv", "line 2, column `mfe`: '-inf' is not finite"),
        ("mfe_empty.tsv", "line 2, column `mfe`: '' is not a number"),
    ];
    for (file, message) in mfe_values {
        assert_refused(
            "mire2e-classify",
            &["--weights", &classifier],
            &data(file),
            message,
        );
    }
    // Weights files that are not safetensors: the error names the file.
    for file in [
        "weights_junk.safetensors",
        "weights_empty.safetensors",
        "weights_huge_header.safetensors",
        "weights_bad_json.safetensors",
    ] {
        let path = data(file);
        let args = ["--weights", path.to_str().unwrap()];
        let input = data("windows_crlf.tsv");
        let message = "not a readable safetensors file";
        assert_refused_naming("mire2e-fold", &args, &input, file, message);
    }
    // Accepted: CRLF, columns in another order (found by name; extra columns kept in place),
    // duplicate rows (rows are independent), a header without rows.
    let crlf = assert_accepted("mire2e-fold", &fold, &data("windows_crlf.tsv"));
    assert_eq!(rows(&crlf).len(), 2);
    assert!(!String::from_utf8_lossy(&crlf).contains('\r'));
    let misordered = assert_accepted("mire2e-fold", &fold, &data("windows_misordered.tsv"));
    assert!(
        rows(&misordered)[0].starts_with(&format!("{}\t+\tkeep\t100\t0\tr\t", "ACGU".repeat(25)))
    );
    let twice = assert_accepted("mire2e-fold", &fold, &data("windows_duplicate_rows.tsv"));
    let twice = rows(&twice);
    assert_eq!((twice.len(), &twice[0]), (2, &twice[1]));
    assert!(rows(&assert_accepted(
        "mire2e-fold",
        &fold,
        &data("windows_header_only.tsv")
    ))
    .is_empty());

    // `mire2e scan` on bad FASTA: an error after some records were scored leaves no output,
    // not even the checkpointed `.partial` (only a killed run leaves one to resume).
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let made = Process::cargo_bin("mire2e")
        .unwrap()
        .arg("bundle")
        .arg(&good)
        .args(["--name", "good", "--structure", &structure, "--mfe", &mfe])
        .args(["--classifier", &classifier])
        .output()
        .unwrap();
    assert!(made.status.success());
    let scan = ["scan", "--model", good.to_str().unwrap()];
    for (file, message) in [
        ("duplicate_ids.fa", "record 3 (chr1): duplicate id"),
        ("truncated_block.fa.bgz", "record 1 (r1): truncated input"),
        ("junk.fa", "not FASTA"),
    ] {
        assert_refused("mire2e", &scan, &data(file), message);
    }

    // Bundle manifests: each in its own bundle folder, used by a stage and by scan.
    for (file, named, message) in [
        (
            "manifest_not_json.json",
            "manifest.json",
            "invalid manifest",
        ),
        (
            "manifest_wrong_types.json",
            "manifest.json",
            "invalid manifest",
        ),
        ("manifest_binary.json", "manifest.json", "valid UTF-8"),
        (
            "manifest_wrong_architecture.json",
            "manifest.json",
            "'mire2e-9'",
        ),
        (
            "manifest_missing_file.json",
            "nope.safetensors",
            "No such file",
        ),
    ] {
        let bundle = dir.path().join(file);
        std::fs::create_dir(&bundle).unwrap();
        std::fs::copy(data(file), bundle.join("manifest.json")).unwrap();
        let model = ["--model", bundle.to_str().unwrap()];
        let input = data("windows_crlf.tsv");
        assert_refused_naming("mire2e-fold", &model, &input, named, message);
        let scan = ["scan", "--model", bundle.to_str().unwrap()];
        assert_refused_naming("mire2e", &scan, &data("crlf.fa"), named, message);
    }
}

/// Peak RSS of one huge record through `mire2e-window`: the reader holds one part of the record
/// (about a megabase) and the windows stream out, so the peak does not depend on the record.
#[test]
fn memory_does_not_grow_with_the_record() {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but /usr/bin/time (Debian package time) is missing: peak RSS cannot be measured"
        );
        eprintln!("SKIP: /usr/bin/time not found, cannot measure peak RSS");
        return;
    }
    const BASES: usize = 50_000_000;
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("one_record.fa");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&fasta).unwrap());
        out.write_all(b">chrBig one 50 Mb record\n").unwrap();
        let line: Vec<u8> = (0..60).map(|i| b"ACGT"[(i * 7 + i / 3) % 4]).collect();
        for _ in 0..BASES / 60 {
            out.write_all(&line).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    let window = Process::cargo_bin("mire2e-window").unwrap();
    let out = Process::new(time)
        .arg("-v")
        .arg(window.get_program())
        .args(["-q", "--step", "500"])
        .arg(&fasta)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in: {stderr}"));
    let record_mb = BASES as f64 / 1e6;
    let peak_mb = kb as f64 * 1024.0 / 1e6;
    eprintln!("peak RSS {peak_mb:.1} MB for a {record_mb} Mb record");
    // The bound stated in docs/reliability.md: records are read in parts of about a megabase, so
    // memory does not grow with the record (whole, this one took 136 MB).
    assert!(
        peak_mb < 40.0,
        "peak RSS {peak_mb:.1} MB for a {record_mb} Mb record"
    );
}

/// Every corpus file through every library reader (what the fuzz targets call): errors are fine,
/// panics are not. Crashers the fuzzers find go into the corpus and are replayed here.
#[test]
fn library_readers_replay_the_corpus() {
    use mire2e::fasta::{self, Record};
    use mire2e::model::Kind;
    use mire2e::stream::{self, Reader, Row, WindowColumns};

    let dir = data("");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 50, "{}", dir.display());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        if let Ok(mut reader) = fasta::reader("corpus", &bytes[..]) {
            let mut record = Record::default();
            while let Ok(true) = reader.read_record(&mut record) {}
        }
        if let Ok(mut reader) = Reader::new("corpus", &bytes[..]) {
            let columns = WindowColumns::find(&reader).ok();
            let pairing = reader.header().position("pairing");
            let mut row = Row::default();
            let mut values = Vec::new();
            while let Ok(true) = reader.read_row(&mut row) {
                if let Some(c) = columns {
                    let _ = c.parse(&reader, &row, 100);
                }
                if let Some(p) = pairing {
                    let _ = stream::parse_f32_list(&row.fields[p], 100, &mut values);
                }
            }
        }
        for kind in [Kind::Structure, Kind::Mfe, Kind::Classifier] {
            assert!(mire2e::import::read_checkpoint(path, kind).is_err());
        }
    }
}
