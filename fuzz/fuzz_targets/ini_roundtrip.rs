//! Parse → write without edits is the identity, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_tray_core::ini::Document;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::parse(data) {
        assert_eq!(doc.to_bytes(), data);
        // Every read of every section works too.
        for name in doc.section_names() {
            let _ = doc.properties(name);
        }
    }
});
