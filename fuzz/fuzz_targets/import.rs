//! The checkpoint importer (zip and legacy pickle) over arbitrary bytes, for each model kind.
//!
//! `read_checkpoint` takes a path (it seeks and hashes the file), so the bytes go to a temporary
//! file first; the kind is taken from the first byte so all three models' checks are reached.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mire2e::import::read_checkpoint;
use mire2e::model::Kind;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let kind = match selector % 3 {
        0 => Kind::Structure,
        1 => Kind::Mfe,
        _ => Kind::Classifier,
    };
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(bytes).expect("write");
    file.flush().expect("flush");
    let _ = read_checkpoint(file.path(), kind);
});
