//! Many writers at once, and hostile input: the credentials file ends with every write
//! present and nothing else moved, and no name or value can inject a section or key.

mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::desktop::{self, Bus};
use support::*;

#[test]
fn concurrent_writers_and_the_tray_lose_nothing() {
    let s = Stack::start();
    // A role section due for refresh, which the tray's background loop will rewrite
    // while the CLI processes write theirs.
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "refresh_before_minutes = 59\n").unwrap();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin", "--duration", "3000"]).ok();
    let before = s.credentials();
    let old_default = value(&before, "default", "mfa_tray_expiration").unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // so a refresh gets a new expiry second

    let bus = Bus::start();
    let mut tray = s.tray_command(&bus);
    tray.stderr(Stdio::null());
    let mut tray = tray.spawn().unwrap();

    let writers: Vec<_> = (0..12)
        .map(|i| {
            let mut cmd: Command = s.command();
            cmd.args(["assume", if i % 2 == 0 { "prod-admin" } else { "short" }, "--to", &format!("target-{i}")]);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for (i, w) in writers.into_iter().enumerate() {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "writer {i}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let after = desktop::wait_for(Duration::from_secs(30), "the tray's refresh of [default]", || {
        let text = s.credentials();
        (value(&text, "default", "mfa_tray_expiration")? != old_default).then_some(text)
    });
    let _ = tray.kill();
    let _ = tray.wait();

    // Everything that was there is still there, byte for byte, in order...
    assert!(after.starts_with(&before[..before.find("\n[default]").unwrap()]), "the user's sections and [corp] moved");
    assert_eq!(section(&after, "default").len(), 6);
    // ... and every writer's section is present and complete.
    for i in 0..12 {
        let role = if i % 2 == 0 { "prod-admin" } else { "short" };
        assert_eq!(value(&after, &format!("target-{i}"), "mfa_tray_holds"), Some(format!("role {role}")), "target-{i}");
        assert_eq!(section(&after, &format!("target-{i}")).len(), 6, "target-{i}");
    }
    assert_eq!(after.matches('[').count(), before.matches('[').count() + 12);
}

#[test]
fn hostile_names_cannot_inject_sections_or_keys() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let before = s.credentials_bytes();
    // (NUL cannot even reach a process's arguments; the INI unit tests cover it.)
    for target in ["x]\n[evil", "evil]", "[evil", "x\naws_access_key_id = AKIAEVIL", " padded", "#comment", "a\rb"] {
        let run = s.run(&["assume", "prod-admin", "--to", target]);
        run.fails(2, "cannot be a section name");
        assert_eq!(s.credentials_bytes(), before, "{target:?}");
    }
    // A profile whose name holds `=` cannot be read as anything but its own section.
    fs::write(s.path(".aws/config"), format!("{CONFIG}\n[profile a=b]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = corp\n")).unwrap();
    s.run(&["assume", "a=b", "--to", "a=b"]).ok();
    let text = s.credentials();
    assert_eq!(value(&text, "a=b", "mfa_tray_holds").as_deref(), Some("role a=b"));
}

#[test]
fn an_oversized_file_is_refused() {
    let s = Stack::start();
    let huge = format!("{CREDENTIALS}{}", "# padding padding padding padding padding padding padding\n".repeat(300_000));
    s.files(&huge, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).fails(4, "more than the 16777216 mfa-tray will edit");
    assert_eq!(s.credentials().len(), huge.len());
    assert!(s.proxy_log().is_empty());
}
