//! botocore is the reference reader: thousands of files generated from a grammar of the
//! ugly cases (indentation by spaces and tabs at several depths, continuation lines,
//! `:` separators, comments before and after values, CR / LF / CRLF, quoted and
//! multi-space profile and `sso-session` headers, repeated keys and sections, a BOM, empty
//! values, nested blocks, `[DEFAULT]`) are read by mfa-tray and by botocore itself, and
//! must read the same: the same sections, keys and values, the same profiles and
//! Identity Center sessions, and botocore refusing
//! exactly the files mfa-tray refuses. Each readable file is then edited by mfa-tray,
//! and botocore must read the edit as the old file plus exactly the new values.
//!
//! The seed is fixed (MFA_TRAY_DIALECT_SEED overrides it) and the run is bounded by a
//! file count and a time (MFA_TRAY_DIALECT_FILES, MFA_TRAY_DIALECT_SECONDS).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mfa_tray_core::ini::{Document, EditError};
use mfa_tray_core::profiles::{profile_view, sso_session_view};
use serde_json::json;

/// xorshift64*: small, fast, and the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: &[&str] = &["default", "corp", "corp-long-term", "prod-admin", "a", "DEFAULT", "Default", "x y", "profile", "ключ"];
const PROFILE_HEADERS: &[&str] = &["profile {}", "profile \"{}\"", "profile   {}", "profile\t{}", "profile '{}'", "profile \"{}", "profile {} extra", "profilex {}", " profile {}", "profile {} ", "sso-session {}", "sso-session \"{}\"", "sso-session   {}", "sso-sessionx {}", "sso-session {} extra"];
const KEYS: &[&str] = &[
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "mfa_serial", "role_arn", "source_profile", "sso_session", "sso_start_url",
    "Region", "AWS_ACCESS_KEY_ID", "s3", "k", "x y", "ключ", "İd", "[k]", "#k", "k;",
];
const INDENTS: &[&str] = &["", "", "", " ", "  ", "\t", "\t\t", "    ", "\u{a0}", "\x1c", " \t"];
const SEPARATORS: &[&str] = &["=", " = ", "=", ":", " : ", "\t=\t", "  =", "= ", "==", ": ", " =:"];
const VALUES: &[&str] = &[
    "AKIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "eu-west-1", "43200  # optional", "v ; c", "v #c", "arn:aws:iam::111111111111:mfa/alice",
    "a=b", "x:y", "  padded  ", "ünï", "tab\there", "[not] a header", "v\x0bw", "\x1c",
];
const COMMENTS: &[&str] = &["# comment", "; comment", "  # indented", "\t; tabbed", "#", "# [fake]", "#k = v"];
const EOLS: &[&str] = &["\n", "\n", "\n", "\r\n", "\r"];

/// One file from the grammar.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    // Four files in ten carry the deliberate breakage (a BOM, garbage, bad headers,
    // unreadable nested blocks); the rest only what a real file may hold.
    let hostile = rng.chance(40);
    let eol_style = rng.below(4); // 0..2: one ending throughout; 3: mixed
    let fixed = rng.pick(EOLS);
    let eol = |rng: &mut Rng| if eol_style == 3 { rng.pick(EOLS) } else { fixed };
    if hostile && rng.chance(5) {
        text.push('\u{feff}');
    }
    if rng.chance(20) {
        let e = eol(rng);
        let _ = write!(text, "{}{e}", rng.pick(COMMENTS));
    }
    if hostile && rng.chance(8) {
        let e = eol(rng);
        let _ = write!(text, "{}{}{}{e}", rng.pick(INDENTS), rng.pick(KEYS), rng.pick(SEPARATORS));
    }
    for _ in 0..1 + rng.below(5) {
        let name = rng.pick(NAMES);
        let header = if rng.chance(40) { rng.pick(PROFILE_HEADERS).replace("{}", name) } else { name.to_owned() };
        let decorated = match rng.below(40) {
            0..=2 => format!("[ {header} ]"),
            3..=5 => format!("[{header}]   # note [x]"),
            6..=8 => format!("[{header}] trailing"),
            9..=14 => format!("{}[{header}]", rng.pick(INDENTS)),
            15 if hostile => format!("[{header}"),
            16 if hostile => "[]".to_owned(),
            _ => format!("[{header}]"),
        };
        let e = eol(rng);
        let _ = write!(text, "{decorated}{e}");
        for _ in 0..rng.below(6) {
            let e = eol(rng);
            match rng.below(40) {
                0..=3 => {
                    let _ = write!(text, "{}{e}", rng.pick(COMMENTS));
                }
                4..=7 => {
                    let _ = write!(text, "{}{e}", rng.pick(&["", "  ", "\t", "\x0c"]));
                }
                8 | 9 => {
                    // A nested block, now and then with a line botocore cannot read.
                    let _ = write!(text, "{}s3 ={e}", rng.pick(INDENTS));
                    for _ in 0..1 + rng.below(3) {
                        let line = if hostile && rng.chance(15) { "no equals sign" } else { "addressing_style = path" };
                        let e = eol(rng);
                        let _ = write!(text, "{}{line}{e}", rng.pick(&["  ", "\t", "    "]));
                    }
                }
                10 if hostile => {
                    let _ = write!(text, "{}{e}", rng.pick(&["not ini at all", "= v", ": v", "[oops"]));
                }
                _ => {
                    let indent = rng.pick(INDENTS);
                    let _ = write!(text, "{indent}{}{}{}{e}", rng.pick(KEYS), rng.pick(SEPARATORS), rng.pick(VALUES));
                    if rng.chance(20) {
                        // A line that may or may not continue the value, by its depth:
                        // mostly deeper than the key, sometimes not.
                        let e = eol(rng);
                        let deeper = if rng.chance(70) { format!("{indent}{}", rng.pick(&[" ", "\t", "  "])) } else { rng.pick(INDENTS).to_owned() };
                        let _ = write!(text, "{deeper}{}{e}", rng.pick(&["more", "k = v", "[b]", "# c", "x: y"]));
                    }
                }
            }
            if matches!(text.chars().last(), Some(c) if c != '\n' && c != '\r') {
                text.push_str(e);
            }
        }
    }
    if rng.chance(20) {
        // No final line ending.
        while text.ends_with(['\n', '\r']) {
            text.pop();
        }
    }
    text.into_bytes()
}

/// mfa-tray's reading, in the oracle's JSON shape.
fn reading(doc: &Document) -> serde_json::Value {
    json!({ "sections": doc.botocore_view(), "profiles": profile_view(doc), "sso_sessions": sso_session_view(doc) })
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("MFA_TRAY_VENV").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing: run scripts/test, which creates the venv (botocore comes with moto)", python.display());
    python
}

/// botocore's readings of `files`, in order.
fn botocore(dir: &Path, files: &[PathBuf]) -> Vec<serde_json::Value> {
    let list = dir.join("list");
    std::fs::write(&list, files.iter().map(|p| format!("{}\n", p.display())).collect::<String>()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/botocore_oracle.py");
    let out = Command::new(venv_python()).env("PYTHONUTF8", "1").arg(script).arg("--batch").arg(&list).output().expect("run the oracle");
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), files.len());
    answers
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn mfa_tray_reads_every_file_as_botocore_does() {
    let seed = env_number("MFA_TRAY_DIALECT_SEED", 0x6d66_612d_7472_6179);
    let max_files = env_number("MFA_TRAY_DIALECT_FILES", 20_000) as usize;
    let budget = Duration::from_secs(env_number("MFA_TRAY_DIALECT_SECONDS", 60));
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);

    let mut inputs = Vec::new();
    while inputs.len() < max_files && start.elapsed() < budget / 3 {
        inputs.push(generate(&mut rng));
    }
    let paths: Vec<PathBuf> = (0..inputs.len()).map(|i| dir.path().join(format!("f{i}"))).collect();
    for (p, bytes) in paths.iter().zip(&inputs) {
        std::fs::write(p, bytes).unwrap();
    }
    let answers = botocore(dir.path(), &paths);

    // Edits: for every file both read, write three keys into a section and let botocore
    // read the result.
    let entries = [("aws_access_key_id", "ASIAEDITED"), ("aws_session_token", "token+/="), ("mfa_tray_holds", "role x")];
    let mut edited = Vec::new();
    let (mut disagreements, mut refused_by_both, mut edit_refusals) = (Vec::new(), 0, 0);
    let mut why: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (bytes, answer)) in inputs.iter().zip(&answers).enumerate() {
        let ours = Document::parse(bytes);
        match (&ours, answer.get("error")) {
            (Err(e), Some(_)) => {
                refused_by_both += 1;
                *why.entry(format!("{e:?}").split([' ', '{']).next().unwrap_or("").to_owned()).or_insert(0) += 1;
            }
            (Ok(doc), None) => {
                let mine = reading(doc);
                if mine != *answer {
                    disagreements.push(format!("file {i} {:?}\n  mfa-tray: {mine}\n  botocore: {answer}", String::from_utf8_lossy(bytes)));
                    continue;
                }
                let names: Vec<&str> = doc.section_names().collect();
                let section = if names.is_empty() || rng.chance(30) { "mfa-tray-new" } else { names[rng.below(names.len())] };
                let mut doc = doc.clone();
                match doc.set(section, &entries) {
                    Ok(()) => {
                        let path = dir.path().join(format!("e{i}"));
                        std::fs::write(&path, doc.to_bytes()).unwrap();
                        edited.push((i, section.to_owned(), path, reading(&doc)));
                    }
                    Err(EditError::WouldMisread { .. }) => {
                        disagreements.push(format!("file {i}: mfa-tray could not edit [{section}] safely: {:?}", String::from_utf8_lossy(bytes)))
                    }
                    // Names that would break out of a header, and edits that would make a
                    // latent problem bite (a bad nested block in [DEFAULT]): refused by design.
                    Err(_) => edit_refusals += 1,
                }
            }
            (Err(e), None) => disagreements.push(format!("file {i} {:?}\n  mfa-tray refuses it ({e}), botocore reads {answer}", String::from_utf8_lossy(bytes))),
            (Ok(_), Some(err)) => disagreements.push(format!("file {i} {:?}\n  mfa-tray reads it, botocore fails ({err})", String::from_utf8_lossy(bytes))),
        }
    }
    let edit_paths: Vec<PathBuf> = edited.iter().map(|(_, _, p, _)| p.clone()).collect();
    let edit_answers = botocore(dir.path(), &edit_paths);
    for ((i, section, _, mine), answer) in edited.iter().zip(&edit_answers) {
        // Every other section reads as before, and the edited one has the new values
        // (a new section also inherits whatever [DEFAULT] holds).
        let before = &answers[*i];
        let got = &answer["sections"];
        let count = before["sections"].as_object().unwrap().len() + usize::from(before["sections"].get(section).is_none());
        let same_elsewhere = got.as_object().is_some_and(|m| {
            m.len() == count && m.iter().all(|(name, keys)| name == section || before["sections"].get(name) == Some(keys))
        });
        let edited_ok = entries.iter().all(|(k, v)| got[section][*k] == json!(v));
        if answer.get("error").is_some() || !same_elsewhere || !edited_ok || answer != mine {
            disagreements.push(format!("edit of file {i} in [{section}]:\n  before: {before}\n  after (botocore): {answer}\n  after (mfa-tray): {mine}"));
        }
    }

    let report = format!(
        "dialect: seed {seed:#x}, {} files generated and read by mfa-tray and botocore ({} refused by both), {} edits read back by botocore ({} edits refused by mfa-tray), disagreements: {}, in {:.1}s",
        inputs.len(),
        refused_by_both,
        edited.len(),
        edit_refusals,
        disagreements.len(),
        start.elapsed().as_secs_f64()
    );
    println!("{report}");
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-dialect.txt"), format!("{report}\n"));
    assert!(disagreements.is_empty(), "{report}\n{}", disagreements.iter().take(10).cloned().collect::<Vec<_>>().join("\n"));
    assert!(inputs.len() >= 1000, "too few files in the time budget: {report}");
    assert!(refused_by_both < inputs.len() / 2 && edited.len() >= inputs.len() / 4, "the grammar makes too few readable files: {report}\n{why:?}");
}


/// The `credential_process` lines mfa-tray writes split back into their words by
/// botocore's own `compat_shell_split`, for Windows (`platform="win32"`, the C runtime's
/// rules: a POSIX `'…'` would stay part of the program's name) and for everything else.
#[test]
fn credential_process_lines_split_as_botocore_splits_them() {
    let words: &[&[&str]] = &[
        &[r"C:\Users\Ann Lee\AppData\Local\Programs\mfa-tray\mfa-tray.exe", "credential-process", "prod-admin"],
        &[r"C:\tools\mfa-tray.exe", "credential-process", "ci"],
        &[r"D:\it's here\x (86)\mfa-tray.exe", "credential-process", "a.b@c+d=e,f"],
        &[r#"C:\odd "quoted"\ends\"#, "credential-process", "x"],
        &["/home/ann lee/.cargo/bin/mfa-tray", "credential-process", "it's"],
        &["/usr/bin/mfa-tray", "credential-process", "$HOME"],
    ];
    let mut cases = Vec::new();
    for w in words {
        for windows in [true, false] {
            let line = mfa_tray_core::engine::command_line(w, windows);
            cases.push(json!({ "line": line, "platform": if windows { "win32" } else { "linux" }, "words": w }));
        }
    }
    let script = "import json, sys\nfrom botocore.compat import compat_shell_split\nfor case in json.load(sys.stdin):\n    print(json.dumps(compat_shell_split(case['line'], platform=case['platform'])))\n";
    let mut child = Command::new(venv_python()).args(["-c", script]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), serde_json::to_string(&cases).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let splits: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(splits.len(), cases.len());
    for (case, split) in cases.iter().zip(&splits) {
        assert_eq!(split, &case["words"], "{}", case["line"]);
    }
    // The Windows line of a path with a space is double-quoted, as cmd and CreateProcess read it.
    assert_eq!(cases[0]["line"], json!(r#""C:\Users\Ann Lee\AppData\Local\Programs\mfa-tray\mfa-tray.exe" credential-process prod-admin"#));
}
