//! CLI tests of `mire2e import`: the four reference checkpoints (legacy and zip) round-trip to the
//! shipped safetensors bit for bit; wrong or corrupt input fails with one line naming the file or
//! tensor, exit 1, and leaves no output behind.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use mire2e::import::{read_safetensors, Dtype, Tensor};
use predicates::prelude::*;

fn mire2e() -> Command {
    Command::cargo_bin("mire2e").unwrap()
}

fn weights(shared: &Path) -> PathBuf {
    shared.join("reference/weights")
}

/// Runs `mire2e import` and checks it fails with exit 1, one error line containing every one of
/// `needles`, and no file left in `dir` besides `keep`.
fn assert_fails(input: &Path, kind: &str, dir: &Path, keep: &[&str], needles: &[&str]) {
    let out = dir.join("out.safetensors");
    let assert = mire2e()
        .args(["import", "--kind", kind, "-o"])
        .arg(&out)
        .arg(input)
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line expected, got:\n{stderr}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{needle:?} not in {:?}",
            errors[0]
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    let mut left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect();
    left.sort();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn round_trips_all_four_reference_checkpoints() {
    let shared = require_shared!();
    let w = weights(&shared);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("mfe.pkl", "mfe", "animals-mfe.safetensors"),
        ("mfe-hsa.pkl", "mfe", "hsa-mfe.safetensors"),
        (
            "synthetic-structure.pkl",
            "structure",
            "synthetic-structure.safetensors",
        ),
        (
            "synthetic-predictor.pkl",
            "classifier",
            "synthetic-predictor.safetensors",
        ),
    ];
    for (pkl, kind, reference) in cases {
        let out = dir.path().join(format!("{pkl}.safetensors"));
        mire2e()
            .args(["import", "--kind", kind, "-o"])
            .arg(&out)
            .arg(w.join(pkl))
            .assert()
            .success()
            .stdout("");
        let got = read_safetensors(&out).unwrap();
        let want = read_safetensors(&w.join(reference)).unwrap();
        assert_eq!(
            got.iter().map(|t| &t.name).collect::<Vec<_>>(),
            want.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "{pkl}: names"
        );
        for (g, r) in got.iter().zip(&want) {
            assert_eq!(
                (g.dtype, &g.shape),
                (r.dtype, &r.shape),
                "{pkl}: {}",
                g.name
            );
            assert!(g.data == r.data, "{pkl}: bytes of {} differ", g.name);
        }
        assert!(
            got.iter().any(|t| t.dtype == Dtype::I64),
            "{pkl}: num_batches_tracked kept as i64"
        );
    }
}

#[test]
fn predictor_is_an_alias_of_classifier() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.safetensors");
    mire2e()
        .args(["import", "--kind", "predictor", "-o"])
        .arg(&out)
        .arg(weights(&shared).join("synthetic-predictor.pkl"))
        .assert()
        .success();
    assert_eq!(read_safetensors(&out).unwrap().len(), 244);
}

#[test]
fn refuses_another_models_checkpoint() {
    let shared = require_shared!();
    let w = weights(&shared);
    let dir = tempfile::tempdir().unwrap();
    let mfe = w.join("mfe.pkl");
    let cases: [(&Path, &str, &[&str]); 4] = [
        (
            &mfe,
            "structure",
            &[
                "mfe.pkl",
                "not a structure checkpoint",
                "it fits the mfe model instead",
            ],
        ),
        (
            &mfe,
            "classifier",
            &["mfe.pkl", "tensor", "it fits the mfe model instead"],
        ),
        (
            &w.join("synthetic-predictor.pkl"),
            "mfe",
            &[
                "synthetic-predictor.pkl",
                "unexpected tensor",
                "it fits the classifier model instead",
            ],
        ),
        (
            &w.join("synthetic-structure.pkl"),
            "classifier",
            &[
                "synthetic-structure.pkl",
                "not a classifier checkpoint",
                "it fits the structure model instead",
            ],
        ),
    ];
    for (input, kind, needles) in cases {
        assert_fails(input, kind, dir.path(), &[], needles);
    }
}

#[test]
fn refuses_truncated_files() {
    let shared = require_shared!();
    let w = weights(&shared);
    let dir = tempfile::tempdir().unwrap();
    let legacy = std::fs::read(w.join("mfe.pkl")).unwrap();
    let zip = std::fs::read(w.join("synthetic-structure.pkl")).unwrap();
    let cases: [(&[u8], &str, &[&str]); 5] = [
        (
            &legacy[..10],
            "mfe",
            &["cut.pkl", "truncated inside the magic number"],
        ),
        (
            &legacy[..400],
            "mfe",
            &["cut.pkl", "truncated inside the state dict pickle"],
        ),
        (
            &legacy[..legacy.len() / 2],
            "mfe",
            &["cut.pkl", "truncated", "tensor "],
        ),
        (
            &legacy[..legacy.len() - 1],
            "mfe",
            &["cut.pkl", "truncated", "tensor "],
        ),
        (
            &zip[..zip.len() / 2],
            "structure",
            &["cut.pkl", "zip archive"],
        ),
    ];
    for (bytes, kind, needles) in cases {
        let input = dir.path().join("cut.pkl");
        std::fs::write(&input, bytes).unwrap();
        assert_fails(&input, kind, dir.path(), &["cut.pkl"], needles);
    }
}

#[test]
fn refuses_junk() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut pickle_noise = vec![0x80, 0x02];
    pickle_noise.extend_from_slice(&noise);
    let cases: [(&[u8], &[&str]); 6] = [
        (b"", &["junk.pkl", "empty file"]),
        (b">seq1\nACGU\n", &["junk.pkl", "not a PyTorch checkpoint"]),
        (&noise, &["junk.pkl", "not a PyTorch checkpoint"]),
        (
            &pickle_noise,
            &["junk.pkl", "not a PyTorch checkpoint", "pickle byte"],
        ),
        (b"PK\x03\x04 not really a zip", &["junk.pkl", "zip archive"]),
        // a pickle of a plain int where the magic number belongs
        (b"\x80\x02K\x07.", &["junk.pkl", "wrong magic number"]),
    ];
    for (bytes, needles) in cases {
        let input = dir.path().join("junk.pkl");
        std::fs::write(&input, bytes).unwrap();
        assert_fails(&input, "mfe", dir.path(), &["junk.pkl"], needles);
    }
}

#[test]
fn refuses_corrupt_zip_storage() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(weights(&shared).join("synthetic-predictor.pkl")).unwrap();
    // inside the storages, far past data.pkl: the entry's CRC no longer matches
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let input = dir.path().join("flipped.pkl");
    std::fs::write(&input, bytes).unwrap();
    assert_fails(
        &input,
        "classifier",
        dir.path(),
        &["flipped.pkl"],
        &["flipped.pkl", "tensor ", "checksum"],
    );
}

#[test]
fn a_failed_import_keeps_an_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("junk.pkl");
    std::fs::write(&input, b"junk").unwrap();
    let out = dir.path().join("out.safetensors");
    std::fs::write(&out, b"previous").unwrap();
    mire2e()
        .args(["import", "--kind", "mfe", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(1);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn refuses_stdout_and_missing_kind() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x.pkl");
    std::fs::write(&input, b"x").unwrap();
    mire2e()
        .args(["import", "--kind", "mfe"])
        .arg(&input)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("-o/--output"));
    mire2e()
        .args(["import", "--kind", "mfe", "-o", "-"])
        .arg(&input)
        .assert()
        .code(2)
        .stdout("");
    mire2e()
        .args(["import", "-o"])
        .arg(dir.path().join("o"))
        .arg(&input)
        .assert()
        .code(2);
    mire2e()
        .args(["import", "--kind", "nonsense", "-o"])
        .arg(dir.path().join("o"))
        .arg(&input)
        .assert()
        .code(2);
}

#[test]
fn refuses_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_fails(
        &dir.path().join("nope.pkl"),
        "mfe",
        dir.path(),
        &[],
        &["nope.pkl"],
    );
}

// ---- checkpoints written here, in the legacy format, to vary one tensor at a time ----

/// A legacy `torch.save(state_dict)` of `tensors` (protocol 2, one storage per tensor), written the
/// way PyTorch writes it; `generated_legacy_checkpoint_round_trips` shows the reader agrees.
fn legacy_checkpoint(tensors: &[Tensor]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.push(b'X');
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn int(out: &mut Vec<u8>, v: usize) {
        out.push(b'J');
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
    fn ints(out: &mut Vec<u8>, vs: &[usize]) {
        out.push(b'(');
        vs.iter().for_each(|&v| int(out, v));
        out.push(b't');
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."); // magic
    out.extend_from_slice(b"\x80\x02M\xe9\x03."); // protocol version 1001
    out.extend_from_slice(b"\x80\x02}(X\x0d\x00\x00\x00little_endian\x88u."); // sys_info
    out.extend_from_slice(b"\x80\x02ccollections\nOrderedDict\n)R(");
    for (i, t) in tensors.iter().enumerate() {
        let numel = t.shape.iter().product::<usize>();
        let class = match t.dtype {
            Dtype::F32 => "FloatStorage",
            Dtype::F64 => "DoubleStorage",
            Dtype::I64 => "LongStorage",
            other => panic!("no storage class for {other}"),
        };
        string(&mut out, &t.name);
        out.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        out.push(b'(');
        string(&mut out, "storage");
        out.extend_from_slice(format!("ctorch\n{class}\n").as_bytes());
        string(&mut out, &i.to_string());
        string(&mut out, "cpu");
        int(&mut out, numel);
        out.extend_from_slice(b"NtQ");
        int(&mut out, 0);
        ints(&mut out, &t.shape);
        let mut stride = vec![1; t.shape.len()];
        for d in (0..t.shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * t.shape[d + 1];
        }
        ints(&mut out, &stride);
        out.extend_from_slice(b"\x89ccollections\nOrderedDict\n)RtR");
    }
    out.extend_from_slice(b"u.");
    out.extend_from_slice(b"\x80\x02](");
    (0..tensors.len()).for_each(|i| string(&mut out, &i.to_string()));
    out.extend_from_slice(b"e.");
    for t in tensors {
        let numel = t.shape.iter().product::<usize>();
        out.extend_from_slice(&(numel as i64).to_le_bytes());
        out.extend_from_slice(&t.data);
    }
    out
}

fn hsa_mfe(shared: &Path) -> Vec<Tensor> {
    read_safetensors(&weights(shared).join("hsa-mfe.safetensors")).unwrap()
}

fn import_ok(tensors: &[Tensor], dir: &Path) -> Vec<Tensor> {
    let input = dir.join("gen.pkl");
    std::fs::write(&input, legacy_checkpoint(tensors)).unwrap();
    let out = dir.join("gen.safetensors");
    mire2e()
        .args(["import", "--kind", "mfe", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    read_safetensors(&out).unwrap()
}

fn import_fails(tensors: &[Tensor], dir: &Path, needles: &[&str]) {
    let input = dir.join("gen.pkl");
    std::fs::write(&input, legacy_checkpoint(tensors)).unwrap();
    assert_fails(&input, "mfe", dir, &["gen.pkl"], needles);
}

#[test]
fn generated_legacy_checkpoint_round_trips() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let tensors = hsa_mfe(&shared);
    assert_eq!(import_ok(&tensors, dir.path()), tensors);
}

#[test]
fn refuses_a_missing_tensor() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = hsa_mfe(&shared);
    tensors.retain(|t| t.name != "hidden2first.weight");
    import_fails(
        &tensors,
        dir.path(),
        &["gen.pkl", "missing tensor hidden2first.weight"],
    );
}

#[test]
fn accepts_a_missing_unused_tensor() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = hsa_mfe(&shared);
    tensors.retain(|t| t.name != "bn1.num_batches_tracked");
    assert_eq!(import_ok(&tensors, dir.path()), tensors);
}

#[test]
fn refuses_a_wrong_shape() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = hsa_mfe(&shared);
    let t = tensors
        .iter_mut()
        .find(|t| t.name == "hidden2first.bias")
        .unwrap();
    assert_eq!(t.shape, [100]);
    t.shape = vec![10, 10];
    import_fails(
        &tensors,
        dir.path(),
        &[
            "gen.pkl",
            "tensor hidden2first.bias has shape [10, 10] in the checkpoint",
            "expects [100]",
        ],
    );
}

#[test]
fn refuses_an_unexpected_tensor() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = hsa_mfe(&shared);
    tensors.push(Tensor {
        name: "extra.weight".into(),
        dtype: Dtype::F32,
        shape: vec![1],
        data: vec![0; 4],
    });
    import_fails(
        &tensors,
        dir.path(),
        &["gen.pkl", "unexpected tensor extra.weight"],
    );
}

#[test]
fn refuses_a_wrong_dtype() {
    let shared = require_shared!();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = hsa_mfe(&shared);
    let t = tensors.iter_mut().find(|t| t.name == "FF1.bias").unwrap();
    t.dtype = Dtype::F64;
    t.data = t
        .data
        .chunks_exact(4)
        .flat_map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes())
        .collect();
    import_fails(
        &tensors,
        dir.path(),
        &["gen.pkl", "tensor FF1.bias is f64", "expects f32"],
    );
}
