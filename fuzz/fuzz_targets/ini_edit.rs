//! Editing one section never changes a byte outside it, the result parses again and
//! reads back the values written, and nothing panics.
//!
//! Input: a section name, a key and a value (each up to a 0xFF byte), then the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_tray_core::ini::{py_space, Document};

/// The text without the lines of section `name` (header to next header), by a simple
/// reading of headers independent of the parser: a line whose trimmed text starts with
/// `[` names the section up to its last `]` (botocore's rule).
fn without_section(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive(['\n', '\r']) {
        let t = line.trim_matches(py_space);
        if let Some(inner) = t.strip_prefix('[') {
            if let Some(close) = inner.rfind(']').filter(|&c| c > 0) {
                inside = &inner[..close] == name;
            }
        }
        if !inside {
            out.push_str(line);
        }
    }
    out.trim_end_matches(['\n', '\r']).to_owned()
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0xFF);
    let (Some(name), Some(key), Some(value), Some(file)) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return };
    let (Ok(name), Ok(key), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(key), std::str::from_utf8(value)) else { return };
    let Ok(mut doc) = Document::parse(file) else { return };
    let text = String::from_utf8_lossy(file).into_owned();
    // Indented lines can be continuations, which the simple reading above cannot tell
    // from headers; leave those files to the round-trip target.
    if text.split(['\n', '\r']).any(|l| l.starts_with(py_space) && l.contains('[')) {
        return;
    }
    if doc.set(name, &[(key, value)]).is_err() {
        assert_eq!(doc.to_bytes(), file, "a refused edit changed the document");
        return;
    }
    let after = doc.to_bytes();
    let reparsed = Document::parse(&after).expect("an edited document parses");
    assert_eq!(reparsed.get(name, key).as_deref(), Some(value), "the value reads back");
    let after = String::from_utf8(after).expect("utf-8");
    let (a, b) = (without_section(&text, name), without_section(&after, name));
    assert_eq!(a, b, "bytes outside [{name}] changed");
});
