//! The file promise where other people and other moments meet it: owners kept when root
//! writes a user's file (sudo with the user's HOME), files of another owner and
//! directories that cannot be written refused before any code is spent, and a
//! background refresh that never undoes a newer write.
//!
//! The owner tests need root (to make files of other owners, and to drop to `nobody`
//! with setpriv); CI runs as root.

mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::*;

const NOBODY: u32 = 65534;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc_geteuid() }, 0, "these tests make files of other owners: run them as root (CI does)");
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn chown_tree(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

fn owner(path: &std::path::Path) -> (u32, u32, u32) {
    let m = fs::metadata(path).unwrap();
    (m.uid(), m.gid(), m.permissions().mode() & 0o777)
}

/// The CLI run as `nobody`, in the sandbox.
fn as_nobody(s: &Stack, args: &[&str]) -> Run {
    let mut cmd = Command::new("setpriv");
    s.sandbox(&mut cmd);
    cmd.args([&format!("--reuid={NOBODY}"), &format!("--regid={NOBODY}"), "--clear-groups", env!("CARGO_BIN_EXE_mfa-tray")]).args(args);
    Run::from(cmd.output().unwrap())
}

#[test]
fn root_rewriting_a_users_file_keeps_it_theirs() {
    require_root();
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    chown_tree(s.home.path(), NOBODY);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    assert!(s.credentials().starts_with(CREDENTIALS));
    for file in [".aws/credentials", ".aws/.credentials.mfa-tray.lock", ".aws/.credentials.mfa-tray-previous"] {
        assert_eq!(owner(&s.path(file)), (NOBODY, NOBODY, 0o600), "{file}");
    }
    // The user can go on using (and rewriting) it themselves.
    as_nobody(&s, &["assume", "prod-admin"]).ok();
    assert_eq!(owner(&s.path(".aws/credentials")), (NOBODY, NOBODY, 0o600));
}

#[test]
fn a_file_of_another_owner_is_refused_before_any_code_is_spent() {
    require_root();
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    chown_tree(s.home.path(), NOBODY);
    // The credentials file stays root's (readable to all, as a careless `sudo aws
    // configure` leaves it); mfa-tray runs as nobody.
    let path = s.path(".aws/credentials");
    std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let run = as_nobody(&s, &["login", "corp", "--code", &s.code(0)]);
    run.fails(4, "belongs to root, but mfa-tray runs as nobody: a rewrite would make it nobody's");
    assert!(run.stderr.contains("sudo chown nobody"), "{}", run.stderr);
    assert_eq!(s.credentials(), CREDENTIALS);
    assert_eq!(owner(&path), (0, 0, 0o644));
    assert!(s.proxy_log().is_empty(), "no code spent");
}

#[test]
fn a_directory_that_cannot_take_a_file_is_refused_before_any_code_is_spent() {
    require_root();
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    chown_tree(s.home.path(), NOBODY);
    fs::set_permissions(s.path(".aws"), fs::Permissions::from_mode(0o500)).unwrap();
    let run = as_nobody(&s, &["login", "corp", "--code", &s.code(0)]);
    run.fails(4, &format!("cannot write {}: Permission denied", s.path(".aws").display()));
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(s.proxy_log().is_empty(), "no code spent");
    fs::set_permissions(s.path(".aws"), fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_role_switched_during_a_slow_refresh_is_kept() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin"]).ok();
    // The refresh's AssumeRole waits 3 s at STS; meanwhile the user switches to short.
    s.fault(json!({ "action": "AssumeRole", "kind": "delay", "seconds": 3, "times": 1 }));
    let refresh = s.command().args(["refresh", "--force"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    s.run(&["assume", "short"]).ok();
    let switched = s.credentials();
    let out = refresh.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("kept newer   prod-admin in [default]"), "{stdout}");
    assert_eq!(s.credentials(), switched, "the switch is kept, byte for byte");
    assert_eq!(value(&s.credentials(), "default", "mfa_tray_holds").as_deref(), Some("role short"));

    // A section the user deleted while a refresh ran is not brought back.
    s.run(&["assume", "prod-admin", "--to", "scratch"]).ok();
    s.fault(json!({ "action": "AssumeRole", "kind": "delay", "seconds": 3, "times": 1 }));
    let refresh = s.command().args(["refresh", "--force"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let text = s.credentials();
    let cut = text.find("\n[scratch]").unwrap();
    fs::write(s.path(".aws/credentials"), &text[..cut + 1]).unwrap();
    let deleted = s.credentials();
    let out = refresh.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!s.credentials().contains("[scratch]"), "the deleted section stays deleted");
    assert!(s.credentials().starts_with(&deleted[..deleted.find("\n[default]").unwrap()]));

    // Keys another tool set in the section meanwhile (`aws configure set`, which keeps
    // the keys it does not know) are not overwritten either.
    s.fault(json!({ "action": "AssumeRole", "kind": "delay", "seconds": 3, "times": 1 }));
    let refresh = s.command().args(["refresh", "--force"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let text = s.credentials();
    let old = value(&text, "default", "aws_secret_access_key").unwrap();
    fs::write(s.path(".aws/credentials"), text.replace(&old, "set-by-another-tool")).unwrap();
    let edited = s.credentials();
    let out = refresh.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kept newer   short in [default]"), "{stdout}");
    assert_eq!(s.credentials(), edited, "the other tool's key is kept, byte for byte");
}
