//! The reference-reader oracle: every input is read by mfa-tray and by botocore itself
//! (tests/support/botocore_oracle.py, kept running beside the fuzzer), and the two
//! readings must agree: both refuse the file, or both read the same sections, keys,
//! values and profiles. Needs the test venv (`scripts/setup test`) or MFA_TRAY_VENV.
#![no_main]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use mfa_tray_core::ini::Document;
use mfa_tray_core::profiles::{profile_view, sso_session_view};

fn oracle() -> &'static Mutex<Child> {
    static ORACLE: OnceLock<Mutex<Child>> = OnceLock::new();
    ORACLE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let venv = std::env::var_os("MFA_TRAY_VENV").map(PathBuf::from).unwrap_or_else(|| root.join(".venv"));
        let child = Command::new(venv.join("bin/python"))
            .env("PYTHONUTF8", "1")
            .arg(root.join("tests/support/botocore_oracle.py"))
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the botocore oracle (run scripts/setup test for the venv)");
        Mutex::new(child)
    })
}

fn botocore(data: &[u8]) -> serde_json::Value {
    let mut child = oracle().lock().unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    stdin.write_all(&(data.len() as u32).to_be_bytes()).unwrap();
    stdin.write_all(data).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.as_mut().unwrap();
    let mut head = [0u8; 4];
    stdout.read_exact(&mut head).unwrap();
    let mut answer = vec![0; u32::from_be_bytes(head) as usize];
    stdout.read_exact(&mut answer).unwrap();
    serde_json::from_slice(&answer).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let theirs = botocore(data);
    match Document::parse(data) {
        Ok(doc) => {
            let ours = serde_json::json!({ "sections": doc.botocore_view(), "profiles": profile_view(&doc), "sso_sessions": sso_session_view(&doc) });
            assert_eq!(ours, theirs, "readings differ for {:?}", String::from_utf8_lossy(data));
        }
        Err(e) => assert!(theirs.get("error").is_some(), "mfa-tray refuses ({e}) what botocore reads: {theirs}"),
    }
});
