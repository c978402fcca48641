//! The TSV stream reader, the window columns' typed parse and the float-list parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mire2e::stream::{self, Reader, Row, WindowColumns};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new("fuzz", data) else {
        return;
    };
    let columns = WindowColumns::find(&reader).ok();
    let pairing = reader.header().position("pairing");
    let mfe = reader.header().position("mfe");
    let mut row = Row::default();
    let mut values = Vec::new();
    while let Ok(true) = reader.read_row(&mut row) {
        if let Some(columns) = columns {
            let _ = columns.parse(&reader, &row, 100);
            let _ = columns.parse(&reader, &row, 4);
        }
        if let Some(col) = pairing {
            if stream::parse_f32_list(&row.fields[col], 100, &mut values).is_ok() {
                assert!(values.iter().all(|v| v.is_finite()));
            }
        }
        if let Some(col) = mfe {
            if let Ok(v) = stream::parse_f32(&row.fields[col]) {
                assert!(v.is_finite());
            }
        }
    }
    // The float-list parser on the raw text too.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stream::parse_f32_list(text, 100, &mut values);
        let _ = stream::parse_f32_list(text, 3, &mut values);
    }
});
