//! Codes from a command: a profile's `mfa_process` run instead of asking, with Debian's
//! `oathtool` printing real RFC 6238 codes from the seed the MFA proxy checks.

mod support;

use std::time::Duration;

use support::desktop::{self, Bus, Notifications, Watcher};
use support::*;

fn with_process(process: &str) -> String {
    CONFIG.replace("[profile corp]\n", &format!("[profile corp]\nmfa_process = {process}\n"))
}

#[test]
fn login_takes_the_code_from_mfa_process() {
    let s = Stack::start();
    s.files(CREDENTIALS, &with_process(&format!("oathtool --totp -b {SECRET}")));
    let run = s.run(&["login", "corp"]);
    run.ok();
    assert!(run.stderr.contains("Taking the code for corp from its mfa_process."), "{run:#?}");
    let log = s.proxy_log();
    assert_eq!((log[0]["action"].as_str(), log[0]["code"].as_bool(), log[0]["result"].as_u64()), (Some("GetSessionToken"), Some(true), Some(200)));
    assert_eq!(value(&s.credentials(), "corp", "mfa_tray_holds").as_deref(), Some("mfa-session corp"));
}

#[test]
fn a_failing_or_chatty_mfa_process_is_reported_and_nothing_is_sent() {
    let s = Stack::start();
    for (process, expected) in [
        ("sh -c 'echo no device detected >&2; exit 2'", "failed (exit status 2): no device detected"),
        ("echo not-a-code", "printed something other than a 6-digit code"),
        ("/nonexistent/ykman oath accounts code", "failed (exit status 127)"),
        // No part of the command line is ever shown: the seed may sit anywhere in it,
        // its first word included, and the shell's error may quote it.
        (&*format!("oathtool --totp -b {SECRET} --bogus-option"), "failed (exit status 1)"),
        (&*format!("SEED={SECRET}; oathtool --totp -b $SEED --bogus-option"), "failed (exit status 1)"),
        (&*format!("{SECRET} --totp"), "failed (exit status 127)"),
    ] {
        s.files(CREDENTIALS, &with_process(process));
        let run = s.run(&["login", "corp"]);
        run.fails(2, &format!("the mfa_process of corp {expected}"));
        assert!(!run.stderr.contains(SECRET), "{run:#?}");
        assert_eq!(s.credentials(), CREDENTIALS);
    }
    assert!(s.proxy_log().is_empty(), "no code reached AWS: {:?}", s.proxy_log());
}

/// A seed on mfa_process's command line in a config file others can read is warned
/// about; the same file closed to others, or the seed read from a file by the command
/// (out of the command line), is not.
#[test]
fn status_warns_of_a_seed_other_users_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let s = Stack::start();
    let config = s.path(".aws/config");
    let mode = |m: u32| std::fs::set_permissions(&config, std::fs::Permissions::from_mode(m)).unwrap();
    let warning = format!("its mfa_process has a TOTP seed on its command line, and {} is readable by other users (mode 0644)", config.display());
    s.files(CREDENTIALS, &with_process(&format!("oathtool --totp -b {SECRET}")));
    mode(0o644);
    let status = s.run(&["status"]);
    assert!(status.ok().stdout.contains(&format!("Problems\n  corp: {warning}")), "{status:#?}");
    let json: serde_json::Value = serde_json::from_str(&s.run(&["status", "--json"]).stdout).unwrap();
    assert!(json["problems"][0]["message"].as_str().unwrap().starts_with(&warning), "{json}");
    assert!(!status.stdout.contains(SECRET), "{status:#?}");
    // Closed to others: no warning (the seed still shows in the process list while the
    // command runs; the README shows how to keep it out).
    mode(0o600);
    assert!(!s.run(&["status"]).stdout.contains("TOTP seed"));
    // The seed in a file of its own, read by the command: nothing on the command line.
    std::fs::write(s.path("seed"), SECRET).unwrap();
    s.files(CREDENTIALS, &with_process(&format!("oathtool --totp -b - < {}", s.path("seed").display())));
    mode(0o644);
    assert!(!s.run(&["status"]).stdout.contains("TOTP seed"));
    // ... and it gives codes that log in.
    s.run(&["login", "corp"]).ok();
}

/// With auto_login on, the tray logs a session about to end in again by itself.
#[test]
fn the_tray_logs_in_again_by_itself_with_mfa_process() {
    let s = Stack::start();
    std::fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    std::fs::write(s.path("mfa-tray-config/settings.toml"), "auto_login = true\nnotify_before_minutes = [15]\n").unwrap();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
    let soon = soon.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    let creds = format!("{CREDENTIALS}\n[corp]\naws_access_key_id = ASIASESSION000000001\naws_secret_access_key = s\naws_session_token = t\nmfa_tray_holds = mfa-session corp\nmfa_tray_expiration = {soon}\n");
    s.files(&creds, &with_process(&format!("oathtool --totp -b {SECRET}")));
    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (_watcher, _w) = Watcher::serve(&bus);
    let mut app = s.tray_command(&bus).spawn().expect("start the tray");

    let note = desktop::wait_for(Duration::from_secs(30), "the tray to log in", || notes.all().first().cloned());
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(note.summary, "Logged in corp", "{note:?}");
    assert!(note.body.starts_with("With the code from its mfa_process; the MFA session is valid until "), "{note:?}");
    let text = s.credentials();
    let expires = value(&text, "corp", "mfa_tray_expiration").unwrap();
    assert!(expires > soon, "a new session: {expires}");
    assert!(text.starts_with(CREDENTIALS), "the rest of the file untouched");
    assert_eq!(notes.all().len(), 1, "no expiry warning for a session renewed: {:?}", notes.all());
    assert_eq!(s.proxy_log().iter().filter(|l| l["action"] == "GetSessionToken").count(), 1);
}
