//! Crash safety: a writer is SIGKILLed at random instants while it rewrites a large
//! credentials file, hundreds of times. After every kill the file must be exactly the
//! old version or a complete new one, and still 0600.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn writer() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rewrite-forever"))
}

/// A user's file of 4,000 profiles (about 600 kB), with comments and CRLF lines mixed in.
fn big_file() -> String {
    let mut s = String::from("# hand-written\r\n");
    for i in 0..4000 {
        s.push_str(&format!("[profile-{i}]\naws_access_key_id = AKIA{i:016}\naws_secret_access_key = secret/{i}/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n; note {i}\n\n"));
    }
    s
}

/// Whether `text` is `base` with a complete [corp] section written by writer `tag`.
fn is_base_plus_corp(text: &str, base: &str, tag: &str) -> bool {
    let Some(rest) = text.strip_prefix(base) else { return false };
    let Some(token) = rest.strip_prefix("[corp]\naws_session_token = ") else { return false };
    let Some((value, tail)) = token.split_once('\n') else { return false };
    let Some(n) = value.strip_prefix(tag).and_then(|v| v.strip_prefix('-')) else { return false };
    n.parse::<u64>().is_ok() && tail == "mfa_tray_holds = mfa-session corp\n"
}

fn temporaries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".mfa-tray-tmp")).count()
}

#[test]
fn killed_writers_leave_the_old_file_or_a_whole_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    let base = big_file();
    std::fs::write(&path, &base).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let writer = writer();
    // Kill instants spread over three times what a writer takes to land its first
    // write, however fast this build and this disk are.
    let t = Instant::now();
    let mut child = Command::new(&writer).arg(&path).arg("probe").spawn().unwrap();
    while std::fs::read_to_string(&path).unwrap() == base {
        assert!(t.elapsed() < Duration::from_secs(20), "the writer never wrote");
        std::thread::sleep(Duration::from_micros(200));
    }
    let window = (t.elapsed() * 3).max(Duration::from_millis(40)).as_micros() as u64;
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(&path, &base).unwrap();
    let (mut old_seen, mut new_seen, mut mid_write) = (0, 0, 0);
    let mut seed = 0x2545F4914F6CDD1Du64;
    let start = Instant::now();
    for round in 0..300 {
        let before = std::fs::read_to_string(&path).unwrap();
        let tag = format!("r{round}");
        let mut child = Command::new(&writer).arg(&path).arg(&tag).spawn().unwrap();
        // xorshift: a spread of kill instants over the window.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % window));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "round {round}: mode {mode:o}");
        if text == before {
            old_seen += 1;
        } else {
            assert!(is_base_plus_corp(&text, &base, &tag), "round {round}: neither the old file nor a whole new one ({} bytes)", text.len());
            new_seen += 1;
        }
        // A temporary file left behind means the kill landed in the middle of a write.
        mid_write += usize::from(temporaries(dir.path()) > 0);
    }
    // Kills landed before any write of their round, after one, and in the middle of one.
    assert!(old_seen > 0 && new_seen > 0 && mid_write > 0, "old {old_seen}, new {new_seen}, mid-write {mid_write}");
    eprintln!("300 kills in {:?} (over {} ms each): {old_seen} left the old file, {new_seen} a new one; {mid_write} landed mid-write", start.elapsed(), window / 1000);

    // Temporary files of killed writers are swept by the next write; nothing is left.
    mfa_tray_core::file::update(&path, Duration::from_secs(5), |doc| {
        doc.set("corp", &[("aws_session_token", "final-0")]).map_err(|source| mfa_tray_core::file::FileError::Edit { path: path.clone(), source })
    })
    .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, [".credentials.mfa-tray-previous", ".credentials.mfa-tray.lock", "credentials"]);
}
