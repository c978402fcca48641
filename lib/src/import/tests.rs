//! Corrupted copies of the reference checkpoints: every one is read or refused, never a panic.

#[path = "../../../tests/support/mod.rs"]
mod support;

use std::path::Path;

use super::read_checkpoint;
use crate::model::Kind;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads `variants` corrupted copies of `name`; how many were refused (`None`: no shared data).
fn corrupt_and_read(
    name: &str,
    kind: Kind,
    region: std::ops::Range<usize>,
    variants: usize,
) -> Option<usize> {
    let shared = support::shared_dir()?;
    let original = std::fs::read(shared.join("reference/weights").join(name)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ original.len() as u64);
    let mut refused = 0;
    for i in 0..variants {
        let mut bytes = original.clone();
        let end = region.end.min(bytes.len());
        if i % 4 == 3 {
            bytes.truncate(region.start + rng.below(end - region.start));
        } else {
            for _ in 0..1 + rng.below(4) {
                let at = region.start + rng.below(end - region.start);
                bytes[at] = rng.next() as u8;
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = read_checkpoint(Path::new(&path), kind) {
            assert!(
                e.to_string().contains(name),
                "error does not name the file: {e}"
            );
            refused += 1;
        }
    }
    Some(refused)
}

#[test]
fn corrupt_legacy_pickles_are_refused_not_panics() {
    // the five pickles take the first ~11 KB of mfe.pkl
    if let Some(refused) = corrupt_and_read("mfe.pkl", Kind::Mfe, 0..11_002, 400) {
        assert!(refused > 200, "only {refused} of 400 refused");
    }
}

#[test]
fn corrupt_legacy_storages_are_read_or_refused() {
    corrupt_and_read("mfe-hsa.pkl", Kind::Mfe, 10_000..640_274, 100);
}

#[test]
fn corrupt_zip_directories_are_refused_not_panics() {
    // the central directory sits at the end of the archive
    let len = 11_684_495;
    corrupt_and_read(
        "synthetic-predictor.pkl",
        Kind::Classifier,
        len - 40_000..len,
        60,
    );
}
