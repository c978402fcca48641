//! Test helpers shared by the library and CLI test suites.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Output;

/// The `shared/` folder beside the repository (or `$MIRE2E_SHARED`).
///
/// Under CI (`CI=true`) a missing folder fails the test; elsewhere the test is skipped with a
/// printed reason, so a checkout without the data still runs the rest of the suite.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MIRE2E_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    if dir.join("reference").is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false);
    assert!(
        !ci,
        "CI=true but the shared data folder {} is missing (set MIRE2E_SHARED)",
        dir.display()
    );
    eprintln!(
        "SKIP: shared data folder {} not found (set MIRE2E_SHARED to run this test)",
        dir.display()
    );
    None
}

/// `shared_dir()` or return from the calling test (skipping it with the printed reason).
#[macro_export]
macro_rules! require_shared {
    () => {
        match $crate::support::shared_dir() {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// `python3 ARGS` run to its end, for the repository's Python scripts; `None` (the test skips,
/// with the printed reason) where python3 cannot start. Under CI a missing python3 fails.
pub fn python3<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Option<Output> {
    match std::process::Command::new("python3").args(args).output() {
        Ok(out) => Some(out),
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI=true but python3 cannot run ({e})"
            );
            eprintln!("SKIP: python3 not found ({e})");
            None
        }
    }
}

/// Deterministic pseudo-random DNA (xorshift), so tests need no data files.
pub fn random_dna(len: usize, seed: u64) -> String {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"ACGT"[(x % 4) as usize] as char
        })
        .collect()
}
