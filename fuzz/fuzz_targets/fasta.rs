//! FASTA reader over arbitrary bytes (plain, gzip or BGZF: detected from the bytes), then windows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mire2e::fasta::{self, Record};
use mire2e::window::{Params, Windows};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = fasta::reader("fuzz", data) else {
        return;
    };
    let params = Params::default();
    let mut record = Record::default();
    let mut records = 0;
    while let Ok(true) = reader.read_record(&mut record) {
        for w in Windows::new(&record.seq, &params) {
            assert_eq!(w.seq.len(), params.length);
        }
        records += 1;
        if records > 64 {
            break;
        }
    }
});
