//! The tray owns the state: settings saved in the window reach the running tray at once
//! (over its local channel), and settings edited by hand in settings.toml within
//! seconds. Each setting is observed where the tray acts on it: auto-refresh (a role
//! due for refresh is re-assumed, or not), lead times (the notice they schedule), the
//! target profile (where the next switch from the menu writes). Bad settings, from the
//! window or by hand, are refused with the reason and change nothing.

mod support;

use std::fs;
use std::process::{Child, Stdio};
use std::time::Duration;

use support::desktop::{self, wait_for, Bus, Notifications, Watcher};
use support::webdriver::Driver;
use support::*;

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rfc3339_in(secs: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    at.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A role section written earlier by mfa-tray, expiring in `secs`.
fn role_section(name: &str, role: &str, secs: i64) -> String {
    format!(
        "\n[{name}]\naws_access_key_id = ASIAROLE000000000001\naws_secret_access_key = s\naws_session_token = t\nmfa_tray_holds = role {role}\nmfa_tray_expiration = {}\n",
        rfc3339_in(secs)
    )
}

fn assume_calls(s: &Stack) -> usize {
    s.proxy_log().iter().filter(|e| e["action"] == "AssumeRole").count()
}

fn write_settings(s: &Stack, toml: &str) {
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    // Through a rename, as editors save: the tray must notice either way.
    let tmp = s.path("mfa-tray-config/.settings.toml.tmp");
    fs::write(&tmp, toml).unwrap();
    fs::rename(&tmp, s.path("mfa-tray-config/settings.toml")).unwrap();
}

#[test]
fn settings_from_the_window_and_by_hand_reach_the_running_tray() {
    assert!(std::env::var_os("DISPLAY").is_some(), "no DISPLAY: run the tests with scripts/test (it starts Xvfb)");
    let s = Stack::start();
    write_settings(&s, "auto_refresh = false\nnotify_before_minutes = [2]\n");
    s.files(CREDENTIALS, CONFIG);
    // A real MFA session of 15 minutes, and a role in [default] due for refresh.
    s.run(&["login", "corp", "--code", &s.code(0), "--duration", "900"]).ok();
    fs::write(s.path(".aws/credentials"), format!("{}{}", s.credentials(), role_section("default", "prod-admin", 300))).unwrap();

    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (watcher, _w) = Watcher::serve(&bus);
    let mut cmd = s.tray_command(&bus);
    cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
    let _tray = App(cmd.spawn().unwrap());
    let (item_bus, item_path) = watcher.item(Duration::from_secs(30));
    let conn = bus.connect();

    // Auto-refresh is off, and the 2-minute notice is not due: nothing happens.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(assume_calls(&s), 0, "auto_refresh = false");
    assert!(notes.all().is_empty(), "{:?}", notes.all());

    // The window: auto-refresh on, notices 15 minutes ahead, the active role to [work].
    let d = Driver::start(&s, &bus, "settings");
    wait_for(Duration::from_secs(15), "the settings form to fill", || {
        (d.script("return document.getElementById('s-notify').value").as_str() == Some("2")).then_some(())
    });
    // The tray turned start at login on at once (a session was already valid): shown so.
    let start = wait_for(Duration::from_secs(10), "start at login shown on", || {
        let v = d.script("const c = document.getElementById('s-start'); return c.checked && !c.indeterminate");
        (v.as_bool() == Some(true)).then_some(v)
    });
    assert_eq!(start, serde_json::json!(true));
    d.click("#s-auto");
    d.script("document.getElementById('s-notify').value = ''; document.getElementById('s-target').value = ''; return null");
    d.type_into("#s-notify", "15");
    d.type_into("#s-target", "work");
    d.click("#settings-form button[type=submit]");
    let saved = d.text("#settings-saved");
    assert_eq!(saved, "Saved. The tray uses them now.");
    let file = fs::read_to_string(s.path("mfa-tray-config/settings.toml")).unwrap();
    assert!(file.contains("auto_refresh = true") && file.contains("notify_before_minutes = [15]") && file.contains("target_profile = \"work\""), "{file}");
    assert!(file.contains("\nstart_at_login = true\n"), "the choice is kept by a save from the window: {file}");

    // The tray refreshes the due role...
    let refreshed = wait_for(Duration::from_secs(15), "the tray to refresh [default]", || {
        let text = s.credentials();
        (value(&text, "default", "aws_access_key_id").as_deref() != Some("ASIAROLE000000000001")).then_some(text)
    });
    assert_eq!(value(&refreshed, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));
    // ... raises the notice the new lead time schedules ...
    let note = wait_for(Duration::from_secs(15), "the 15-minute notice", || notes.all().first().cloned());
    assert_eq!(note.summary, "MFA session corp ends in 15m");
    // ... and a switch from the menu writes the new target profile.
    wait_for(Duration::from_secs(15), "the menu", || desktop::menu(&conn, &item_bus, &item_path).1.iter().any(|e| e.label == "short").then_some(()));
    desktop::click_label(&conn, &item_bus, &item_path, "short");
    let text = wait_for(Duration::from_secs(20), "[work] to hold short", || {
        let text = s.credentials();
        text.contains("\n[work]\n").then_some(text)
    });
    assert_eq!(value(&text, "work", "mfa_tray_holds").as_deref(), Some("role short"));
    assert_eq!(value(&text, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"), "[default] is no longer the target");

    // Bad settings from the window: the reason, and nothing saved or applied.
    d.script("document.getElementById('s-refresh').value = ''; return null");
    d.type_into("#s-refresh", "90");
    d.click("#settings-form button[type=submit]");
    let error = d.text("#settings-error");
    assert!(error.contains("refresh_before_minutes: 90 minutes must be at least 1 minute and shorter than a role session"), "{error}");
    assert_eq!(fs::read_to_string(s.path("mfa-tray-config/settings.toml")).unwrap(), file);
    drop(d);

    // By hand: auto-refresh off. A role section due now is left alone...
    let calls = assume_calls(&s);
    write_settings(&s, "auto_refresh = false\nnotify_before_minutes = [15]\ntarget_profile = \"work\"\n");
    std::thread::sleep(Duration::from_secs(2));
    fs::write(s.path(".aws/credentials"), format!("{}{}", s.credentials(), role_section("ops", "short", 300))).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(assume_calls(&s), calls, "auto_refresh = false by hand: no refresh");
    // ... a bad hand edit is refused with its reason, and the tray keeps its settings ...
    write_settings(&s, "auto_refresh = true\nrefresh_before_minutes = 600\n");
    let note = wait_for(Duration::from_secs(10), "the bad-settings notice", || notes.all().into_iter().find(|n| n.summary == "mfa-tray settings not applied"));
    assert!(note.body.contains("refresh_before_minutes: 600 minutes must be at least 1 minute"), "{}", note.body);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(assume_calls(&s), calls, "the bad edit did not turn auto-refresh on");
    // ... and auto-refresh on by hand refreshes it.
    write_settings(&s, "auto_refresh = true\ntarget_profile = \"work\"\n");
    let text = wait_for(Duration::from_secs(15), "the tray to refresh [ops]", || {
        let text = s.credentials();
        (value(&text, "ops", "aws_access_key_id").as_deref() != Some("ASIAROLE000000000001")).then_some(text)
    });
    assert_eq!(value(&text, "ops", "mfa_tray_holds").as_deref(), Some("role short"));
    assert!(text.starts_with(CREDENTIALS), "the user's sections are untouched");
}
