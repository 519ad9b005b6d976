//! Another writer that takes no lock: while a stand-in for the AWS CLI (read the file,
//! change one value, rewrite it in place, thousands of times) runs, mfa-tray logs in,
//! assumes roles into new sections and refreshes them, hundreds of times. Nothing the
//! other writer or the user wrote is ever lost; every mfa-tray write that reports
//! success is in the final file, or was overwritten by the other writer's later
//! whole-file write based on a read made before it landed (counted, and said which).
//!
//! MFA_TRAY_RACE_BIN runs another build of the CLI (say, an older one) in the same race.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

const SECONDS: f64 = 30.0;

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// One mfa-tray run: what it wrote, when it ran, how it ended.
#[derive(Debug, Clone)]
struct Write {
    target: String,
    start: f64,
    end: f64,
    code: i32,
    stdout: String,
    stderr: String,
}

/// A run that wrote nothing because the file kept changing (or another mfa-tray kept the
/// lock while it waited for the file to be still): said plainly, exit 4.
fn gave_up(w: &Write) -> bool {
    w.code == 4 && (w.stderr.contains("kept changing while mfa-tray wrote it") || w.stderr.contains("is being written by another mfa-tray"))
}

#[test]
fn mfa_tray_loses_nothing_to_a_writer_that_rewrites_in_place() {
    let s = Stack::start();
    // A user's file of 150 profiles (about 20 kB), so writes take a moment.
    let mut user = CREDENTIALS.to_owned();
    for i in 0..150 {
        user.push_str(&format!("\n# team profile {i}\n[team-{i}]\naws_access_key_id = AKIATEAM{i:012}\naws_secret_access_key = team/{i}/secret\n"));
    }
    s.files(&user, CONFIG);
    let bin = std::env::var_os("MFA_TRAY_RACE_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mfa-tray")));
    let run = |args: &[&str]| -> Run {
        let mut cmd = Command::new(&bin);
        s.sandbox(&mut cmd);
        // Straight to moto, which takes any code: hundreds of logins need no TOTP steps.
        cmd.env("AWS_ENDPOINT_URL", &s.moto_url);
        let r = Run::from(cmd.args(args).output().unwrap());
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open("/tmp/race-dbg.log").unwrap();
        let _ = f.write_all(r.stderr.as_bytes());
        r
    };
    run(&["login", "corp", "--code", "123456"]).ok();

    let log = s.path("other-writer.log");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/other_writer.py");
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let markers = ["# My AWS keys. Hand-written; please keep this comment.", "[corp-long-term]", "alice/long/term/secret", "personal-secret", "team/149/secret"];
    let mut writer = Command::new(python);
    writer.arg(script).arg(s.path(".aws/credentials")).arg(&log).args(["--seconds", &SECONDS.to_string()]);
    for m in markers {
        writer.args(["--marker", m]);
    }
    let mut writer = writer.stdout(Stdio::null()).spawn().expect("start the other writer");
    let deadline = now() + SECONDS - 1.0;

    let writes: Arc<Mutex<Vec<Write>>> = Arc::default();
    let record = |target: String, args: Vec<String>| {
        let start = now();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args);
        writes.lock().unwrap().push(Write { target, start, end: now(), code: r.code, stdout: r.stdout, stderr: r.stderr });
    };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while now() < deadline {
                record("corp".into(), vec!["login".into(), "corp".into(), "--code".into(), "123456".into()]);
            }
        });
        scope.spawn(|| {
            let mut i = 0;
            while now() < deadline {
                record(format!("t-{i}"), vec!["assume".into(), "prod-admin".into(), "--to".into(), format!("t-{i}")]);
                i += 1;
            }
        });
        scope.spawn(|| {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_secs_f64(SECONDS / 4.0));
                record("refresh".into(), vec!["refresh".into(), "--force".into()]);
            }
        });
    });
    assert!(writer.wait().unwrap().success(), "the other writer failed");

    let last: Vec<serde_json::Value> = std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let text = s.credentials();
    let writes = writes.lock().unwrap().clone();

    // The other writer never read a file that had lost the user's sections...
    let bad: Vec<_> = last.iter().filter(|w| w["ok"] != true).collect();
    assert!(bad.is_empty(), "{} of the other writer's {} reads found the user's sections gone, the first at {}", bad.len(), last.len(), bad[0]);
    // ... the user's own text is intact, in front, byte for byte ...
    assert!(text.starts_with(&user), "the user's sections changed");
    // ... and the other writer's last write is in the file.
    let counter = last.last().unwrap()["counter"].as_u64().unwrap();
    assert_eq!(value(&text, "other", "counter"), Some(counter.to_string()), "the other writer's last value");

    // Every successful write is in the file, or was overwritten by the other writer's
    // later whole-file write, based on a read made before the write landed.
    let (mut kept, mut overwritten, mut lost, mut busy) = (0, 0, Vec::new(), 0);
    for w in writes.iter().filter(|w| w.target.starts_with("t-")) {
        if w.code != 0 {
            assert!(gave_up(w), "{w:?}");
            busy += 1;
            continue;
        }
        if text.contains(&format!("\n[{}]\n", w.target)) {
            assert_eq!(section(&text, &w.target).len(), 6, "{} is complete", w.target);
            kept += 1;
        } else if last.iter().any(|o| o["read"].as_f64().unwrap() < w.end && o["write_end"].as_f64().unwrap() > w.start && !o["seen"].as_array().unwrap().iter().any(|t| t == &w.target)) {
            overwritten += 1;
        } else {
            lost.push(w.clone());
        }
    }
    let logins = writes.iter().filter(|w| w.target == "corp").count();
    let login_failures: Vec<_> = writes.iter().filter(|w| w.target != "refresh" && w.target == "corp" && w.code != 0).collect();
    for w in &login_failures {
        assert!(gave_up(w), "{w:?}");
    }
    let refreshes: Vec<_> = writes.iter().filter(|w| w.target == "refresh").collect();
    for r in &refreshes {
        assert!(r.code == 0 || gave_up(r), "{r:?}");
    }
    let refreshed = refreshes.iter().map(|r| r.stdout.matches("refreshed ").count()).sum::<usize>();
    let successes = logins - login_failures.len() + kept + overwritten + refreshed;
    assert_eq!(section(&text, "corp").len(), 6, "[corp] is there and complete");
    let assumes = kept + overwritten + lost.len() + busy;
    // Late writes into a displaced version, kept aside by a later write.
    let late = std::fs::read_dir(s.path(".aws")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains("mfa-tray-late-")).count();
    let report = format!(
        "race: the other writer rewrote the file {} times in place while mfa-tray wrote it {successes} times ({logins} logins, {} of which gave up as the file kept changing or stayed locked; {assumes} assumes into new sections, {busy} gave up; {} refreshes rewriting {refreshed} role sections); of the assumes, {kept} are in the final file, {overwritten} were overwritten by the other writer's later write based on an earlier read; lost: {}; late writes into a displaced version kept aside: {late}",
        last.len(),
        login_failures.len(),
        refreshes.len(),
        lost.len()
    );
    println!("{report}");
    let _ = std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-race.txt"), format!("{report}\n"));
    assert!(lost.is_empty(), "{report}\n{lost:#?}");
    assert!(last.len() >= 500 && successes >= 200 && assumes >= 40, "too little happened: {report}");
    assert!(busy + login_failures.len() <= (assumes + logins) / 10, "mfa-tray gave up too often: {report}");
    // The version each write displaced is kept beside the file, private.
    use std::os::unix::fs::PermissionsExt;
    let previous = std::fs::metadata(s.path(".aws/.credentials.mfa-tray-previous")).unwrap();
    assert_eq!(previous.permissions().mode() & 0o777, 0o600);
}
