//! Test helpers shared by the library and CLI test suites.
#![allow(dead_code)]

use std::path::PathBuf;

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
