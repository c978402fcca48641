//! `training/classifier_set.py`, which builds the default Classifier's training set from the
//! prepared data: every positive also bare, as many negatives cut to the bare lengths, hard
//! negatives kept, the validation set built the same way, the same bytes on a second run.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::Path;

/// (header, sequence) of a FASTA file with one line per sequence.
fn records(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect()
}

fn rna(len: usize, seed: u64) -> String {
    support::random_dna(len, seed).replace('T', "U")
}

/// A prepared-data folder: positives.tsv/.fa (train: hairpins of 60, 70, 80 and 120 nt; val: 65
/// and 75), negatives.fa (10 windows, the last one hard) and negatives.val.fa (4).
fn data(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut tsv = String::from(
        "id\tname\tspecies\thairpin_len\toffset\theld\tflank\tsplit\tmfe\tbest_stem_bp\t\
         hairpin_like\tstructure\twindow\thairpin\n",
    );
    let (mut pos, mut pos_val, mut hairpins) = (String::new(), String::new(), Vec::new());
    for (i, (len, split)) in [(60, "train"), (70, "train"), (80, "train"), (120, "train")]
        .into_iter()
        .chain([(65, "val"), (75, "val")])
        .enumerate()
    {
        let (acc, hairpin, window) = (
            format!("MI000000{i}"),
            rna(len, i as u64),
            rna(100, 50 + i as u64),
        );
        tsv += &format!("{acc}.w1\tx-mir-{i}\txxx\t{len}\t0\t1.0\tf\t{split}\t-30\t20\ttrue\t.\t{window}\t{hairpin}\n");
        let fa = if split == "train" {
            &mut pos
        } else {
            &mut pos_val
        };
        *fa += &format!(">{acc}.w1 x-mir-{i}\n{window}\n");
        hairpins.push(hairpin);
    }
    let neg: Vec<String> = (0..10).map(|i| rna(100, 100 + i)).collect();
    let mut fa = String::new();
    for (i, s) in neg.iter().enumerate() {
        let kind = if i == 9 { "hard" } else { "flat" };
        fa += &format!(
            ">c:{}-{}+ source=fly kind={kind}\n{s}\n",
            i * 100,
            i * 100 + 100
        );
    }
    let val: String = (0..4)
        .map(|i| format!(">v:{i}-100+ kind=flat\n{}\n", rna(100, 200 + i)))
        .collect();
    for (name, text) in [
        ("positives.tsv", tsv),
        ("positives.fa", pos),
        ("positives.val.fa", pos_val),
        ("negatives.fa", fa),
        ("negatives.val.fa", val),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    (hairpins, neg)
}

/// Runs the script on `data` into `out` (asserting success); `None` where python3 cannot start
/// (the test skips).
fn run(data: &Path, out: &Path) -> Option<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../training/classifier_set.py");
    let args: [&OsStr; 5] = [
        script.as_ref(),
        data.as_ref(),
        out.as_ref(),
        "--negatives".as_ref(),
        "4".as_ref(),
    ];
    let run = support::python3(args)?;
    assert!(
        run.status.success(),
        "classifier_set.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(())
}

#[test]
fn every_positive_also_bare_and_negatives_cut_to_the_bare_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let (hairpins, neg) = data(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    if run(dir.path(), &out).is_none() {
        return;
    }
    let seqs =
        |name: &str| -> Vec<String> { records(&out.join(name)).into_iter().map(|r| r.1).collect() };

    // positives: the 4 training windows and the 4 training hairpins, cut to 100 nt
    let pos: HashSet<String> = seqs("classifier_pos.fa").into_iter().collect();
    let windows: HashSet<String> = records(&dir.path().join("positives.fa"))
        .into_iter()
        .map(|r| r.1)
        .collect();
    let bare: HashSet<String> = hairpins[..4]
        .iter()
        .map(|h| h[..h.len().min(100)].to_string())
        .collect();
    assert_eq!(pos, &windows | &bare);

    // negatives: 4 whole windows (the hard one among them) and 4 pieces (named `.trim`) cut from
    // 4 other windows, each to a bare training length
    let negs = records(&out.join("classifier_neg.fa"));
    let (cut, whole): (Vec<_>, Vec<_>) = negs.iter().partition(|(h, _)| h.contains(".trim"));
    assert_eq!((cut.len(), whole.len()), (4, 4));
    let whole: Vec<&String> = whole.iter().map(|(_, s)| s).collect();
    assert!(whole.iter().all(|s| neg.contains(s)));
    assert!(whole.contains(&&neg[9]), "the hard negative is kept");
    let mut sources = HashSet::new();
    for (_, s) in &cut {
        assert!(
            [60, 70, 80, 100].contains(&s.len()),
            "cut to {} nt",
            s.len()
        );
        let from = (0..10)
            .find(|&i| neg[i].contains(s.as_str()))
            .expect("a piece of a negative");
        assert!(!whole.contains(&&neg[from]), "cut from a kept window");
        sources.insert(from);
    }
    assert_eq!(sources.len(), 4, "each cut from its own window");

    // validation: windows and bare hairpins; half the negatives whole, half cut to 65 or 75 nt
    let vp: HashSet<String> = seqs("classifier_val_pos.fa").into_iter().collect();
    assert!(hairpins[4..].iter().all(|h| vp.contains(h)) && vp.len() == 4);
    let mut lens: Vec<usize> = seqs("classifier_val_neg.fa")
        .iter()
        .map(|s| s.len())
        .collect();
    lens.sort();
    assert_eq!(lens.len(), 4);
    assert!(
        lens[..2].iter().all(|l| [65, 75].contains(l)) && lens[2..] == [100, 100],
        "{lens:?}"
    );

    // deterministic
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    run(dir.path(), &again);
    for name in [
        "classifier_pos.fa",
        "classifier_neg.fa",
        "classifier_val_pos.fa",
        "classifier_val_neg.fa",
    ] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(again.join(name)).unwrap(),
            "{name}"
        );
    }
}
