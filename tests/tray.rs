//! The tray app end to end, as a desktop would see it: the real binary under Xvfb on a
//! private D-Bus session bus, against moto behind the MFA proxy. The test plays the
//! panel (StatusNotifierWatcher + dbusmenu) and the notification daemon.
//! Needs a display: scripts/test runs the suite under xvfb-run.

mod support;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::desktop::{self, Bus, Notifications, Watcher};
use support::*;

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_tray(stack: &Stack, bus: &Bus) -> App {
    start_tray_with_stderr(stack, bus, Stdio::inherit())
}

fn start_tray_with_stderr(stack: &Stack, bus: &Bus, stderr: Stdio) -> App {
    let mut cmd: Command = stack.tray_command(bus);
    cmd.stdout(Stdio::null()).stderr(stderr);
    App(cmd.spawn().expect("start the tray app"))
}

#[test]
fn a_first_run_opens_the_window_on_adding_an_account() {
    // An empty HOME: no ~/.aws at all.
    let s = Stack::start();
    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let app = start_tray(&s, &bus);
    let (item_bus, item_path) = watcher.item(Duration::from_secs(30));
    let (window_pid, window) = desktop::window_child(app.0.id());
    assert!(window.ends_with("mfa-tray-window --window account "), "{window:?}");
    let conn = bus.connect();
    let entries = desktop::wait_for(Duration::from_secs(15), "the first-run menu", || {
        let (_, entries) = desktop::menu(&conn, &item_bus, &item_path);
        entries.iter().any(|e| e.label == "Add your AWS account…").then_some(entries)
    });
    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).filter(|l| !l.is_empty()).collect();
    assert_eq!(labels, ["No MFA session profile configured", "Add your AWS account…", "Refresh now", "Who am I / S3 buckets", "Settings…", "mfa-tray 0.1.0", "Quit"]);
    assert!(!s.path(".aws").exists(), "a first run writes nothing by itself");

    // A tray killed (it cannot close its window) takes its window with it.
    drop(app);
    desktop::wait_for(Duration::from_secs(10), "the window to end with its tray", || {
        let stat = fs::read_to_string(format!("/proc/{window_pid}/stat")).unwrap_or_default();
        // Gone, or a zombie its new parent has yet to reap.
        (stat.is_empty() || stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z')).then_some(())
    });
}

#[test]
fn of_two_trays_started_at_once_one_stays_and_shows_its_window() {
    // As at login, with the user clicking the launcher while autostart starts it too.
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let mut trays = [start_tray(&s, &bus), start_tray(&s, &bus)];
    let (gone, status) = desktop::wait_for(Duration::from_secs(20), "one of the two to exit", || {
        trays.iter_mut().enumerate().find_map(|(i, t)| t.0.try_wait().unwrap().map(|status| (i, status)))
    });
    assert!(status.success(), "the second hands over and exits 0: {status:?}");
    let stays = &mut trays[1 - gone].0;
    watcher.item(Duration::from_secs(30));
    assert_eq!(stays.try_wait().unwrap(), None, "the other keeps running");
    assert_eq!(watcher.0.lock().unwrap().len(), 1, "one tray icon, not two");
    let window = desktop::window_process(stays.id());
    assert!(window.ends_with("mfa-tray-window --window code "), "{window:?}");
}

#[test]
fn a_tray_started_while_another_holds_the_lock_waits_and_becomes_the_tray() {
    // Another tray still starting (it holds tray.lock and listens on no socket yet), or
    // quitting (its socket gone, its lock not yet): the new one waits, then takes over.
    use std::os::unix::fs::PermissionsExt;
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let dir = s.path("run/mfa-tray");
    fs::create_dir_all(&dir).unwrap();
    for d in [s.path("run"), dir.clone()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let other = fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("tray.lock")).unwrap();
    other.try_lock().unwrap();
    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let mut app = start_tray(&s, &bus);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(app.0.try_wait().unwrap(), None, "it waits for the other tray");
    drop(other);
    watcher.item(Duration::from_secs(30));
    assert_eq!(app.0.try_wait().unwrap(), None, "and is the tray");
    assert!(dir.join("tray.sock").exists());
}

fn settings(stack: &Stack, toml: &str) {
    fs::create_dir_all(stack.path("mfa-tray-config")).unwrap();
    fs::write(stack.path("mfa-tray-config/settings.toml"), toml).unwrap();
}

/// Logs corp in for real and puts role credentials for prod-admin in [default], due
/// for refresh (five minutes left); returns the file.
fn session_and_a_role_due(s: &Stack) -> String {
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(5)).replace_nanosecond(0).unwrap();
    let soon = soon.format(&time::format_description::well_known::Rfc3339).unwrap();
    let creds = format!("{}\n[default]\naws_access_key_id = ASIAROLE000000000001\naws_secret_access_key = s\naws_session_token = t\nmfa_tray_holds = role prod-admin\nmfa_tray_expiration = {soon}\n", s.credentials());
    fs::write(s.path(".aws/credentials"), &creds).unwrap();
    creds
}

fn assume_log(s: &Stack) -> Vec<serde_json::Value> {
    s.proxy_log().into_iter().filter(|e| e["action"] == "AssumeRole").collect()
}

/// A managed MFA session for corp in the credentials file, expiring `secs` from now.
fn session_expiring_in(secs: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    let at = at.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap();
    format!(
        "{CREDENTIALS}\n[corp]\naws_access_key_id = ASIASESSION000000001\naws_secret_access_key = s\naws_session_token = t\nmfa_tray_holds = mfa-session corp\nmfa_tray_expiration = {at}\n"
    )
}

#[test]
fn the_menu_lists_roles_and_a_click_switches_the_active_role() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let mut app = start_tray(&s, &bus);
    let (item_bus, item_path) = watcher.item(Duration::from_secs(30));
    let conn = bus.connect();

    let (menu_path, entries) = desktop::wait_for(Duration::from_secs(15), "the menu to list the roles", || {
        let (path, entries) = desktop::menu(&conn, &item_bus, &item_path);
        entries.iter().any(|e| e.label == "prod-admin").then_some((path, entries))
    });
    let labels: Vec<&str> = entries.iter().map(|e| e.label.as_str()).filter(|l| !l.is_empty()).collect();
    assert!(labels[0].starts_with("MFA session corp: 12h"), "status line: {labels:?}");
    assert_eq!(
        labels[1..],
        ["Enter MFA code…", "prod-admin", "short", "Refresh now", "Who am I / S3 buckets", "Move your keys to the keychain…", "Settings…", "mfa-tray 0.1.0", "Quit"]
    );
    assert!(!entries.iter().find(|e| e.label.starts_with("MFA session")).unwrap().enabled, "the status line is not clickable");
    let admin = entries.iter().find(|e| e.label == "prod-admin").unwrap();
    assert_eq!(admin.toggle_state, Some(0));

    let before = s.credentials();
    desktop::click(&conn, &item_bus, &menu_path, admin.id);
    let after = desktop::wait_for(Duration::from_secs(20), "[default] to hold prod-admin", || {
        let text = s.credentials();
        text.contains("mfa_tray_holds = role prod-admin").then_some(text)
    });
    assert!(after.starts_with(&before), "the rest of the file is untouched");
    assert_eq!(value(&after, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));
    let last = s.proxy_log().pop().unwrap();
    assert_eq!((last["action"].as_str(), last["session_signed"].as_bool(), last["code"].as_bool()), (Some("AssumeRole"), Some(true), Some(false)));

    // The menu is rebuilt: prod-admin is checked and the status line names it.
    desktop::wait_for(Duration::from_secs(15), "the check mark on prod-admin", || {
        let (_, entries) = desktop::menu(&conn, &item_bus, &item_path);
        let checked = entries.iter().any(|e| e.label == "prod-admin" && e.toggle_state == Some(1));
        let status = entries.iter().any(|e| e.label.starts_with("prod-admin (1h 00m left) · MFA session corp"));
        (checked && status).then_some(())
    });

    // A second launch hands over to the first (which shows its window) and exits.
    let mut second = start_tray(&s, &bus);
    let status = desktop::wait_for(Duration::from_secs(20), "the second instance to exit", || second.0.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    assert_eq!(watcher.0.lock().unwrap().len(), 1, "one tray icon, not two");
    // ... and the first one opened its window, in a window process of its own.
    let window = desktop::window_process(app.0.id());
    assert!(window.ends_with("mfa-tray-window --window code "), "{window:?}");

    // "Quit" ends the app.
    let (menu_path, entries) = desktop::menu(&conn, &item_bus, &item_path);
    let quit = entries.iter().find(|e| e.label == "Quit").unwrap().id;
    desktop::click(&conn, &item_bus, &menu_path, quit);
    let status = desktop::wait_for(Duration::from_secs(10), "the app to quit", || app.0.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
}

#[test]
fn notifications_before_and_at_expiry_each_once() {
    let s = Stack::start();
    settings(&s, "notify_before_minutes = [1]\n");
    // A session written earlier (the app resumes from the file) with 65 s left.
    s.files(&session_expiring_in(65), CONFIG);
    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (_watcher, _w) = Watcher::serve(&bus);
    let _app = start_tray(&s, &bus);

    let first = desktop::wait_for(Duration::from_secs(40), "the 1-minute warning", || notes.all().first().cloned());
    assert_eq!(first.summary, "MFA session corp ends in 1m");
    assert_eq!(first.body, "Enter a new MFA code from the mfa-tray menu to keep your roles working.");
    assert_eq!(first.app, "mfa-tray");
    assert_eq!(first.actions, ["enter-code", "Enter MFA code"]);
    let second = desktop::wait_for(Duration::from_secs(60), "the expiry notice", || notes.all().get(1).cloned());
    assert_eq!(second.summary, "MFA session corp has expired");
    assert_eq!(second.urgency, Some(2));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(notes.all().len(), 2, "no repeats: {:?}", notes.all());
}

#[test]
fn a_failed_background_refresh_is_notified() {
    let s = Stack::start();
    // A valid session the proxy never saw (so AssumeRole through it is denied), and
    // role credentials in [default] due for refresh.
    let mut creds = session_expiring_in(3600);
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(5)).replace_nanosecond(0).unwrap();
    let soon = soon.format(&time::format_description::well_known::Rfc3339).unwrap();
    creds.push_str(&format!("\n[default]\naws_access_key_id = ASIAROLE000000000001\naws_secret_access_key = s\naws_session_token = t\nmfa_tray_holds = role prod-admin\nmfa_tray_expiration = {soon}\n"));
    s.files(&creds, CONFIG);
    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (_watcher, _w) = Watcher::serve(&bus);
    let _app = start_tray(&s, &bus);
    let note = desktop::wait_for(Duration::from_secs(30), "the refresh failure", || notes.all().first().cloned());
    assert_eq!(note.summary, "Could not refresh prod-admin");
    assert!(note.body.contains("AWS denied access while assuming prod-admin"), "{}", note.body);
    assert_eq!(s.credentials(), creds, "a failed refresh writes nothing");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(notes.all().len(), 1, "reported once");
}

#[test]
fn a_refresh_that_fails_in_passing_is_retried_without_a_notice() {
    let s = Stack::start();
    let before = session_and_a_role_due(&s);
    // AWS is unavailable for the first refresh (all three of the SDK's attempts), as
    // after a resume before the network is back.
    s.fault(serde_json::json!({ "action": "AssumeRole", "kind": "status", "status": 503, "times": 3 }));
    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (_watcher, _w) = Watcher::serve(&bus);
    let _app = start_tray(&s, &bus);
    desktop::wait_for(Duration::from_secs(30), "the first refresh to fail", || (assume_log(&s).len() >= 3).then_some(()));
    let failed_at = std::time::Instant::now();
    assert_eq!(s.credentials(), before, "a failed refresh writes nothing");
    let after = desktop::wait_for(Duration::from_secs(40), "the retry to refresh [default]", || {
        let text = s.credentials();
        (value(&text, "default", "aws_access_key_id").as_deref() != Some("ASIAROLE000000000001")).then_some(text)
    });
    let waited = failed_at.elapsed();
    assert!(waited >= Duration::from_secs(10), "retried after a pause (15 s), not at once: {waited:?}");
    assert_eq!(value(&after, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));
    let log: Vec<String> = assume_log(&s).iter().map(|e| e["fault"].as_str().map_or_else(|| e["result"].to_string(), str::to_owned)).collect();
    assert_eq!(log, ["status", "status", "status", "200"], "three attempts failed, then one retry");
    std::thread::sleep(Duration::from_secs(1));
    assert!(notes.all().is_empty(), "a failure in passing that a retry mends is not notified: {:?}", notes.all());
}

#[test]
fn background_failures_reach_notifications_and_the_log_without_secrets() {
    let s = Stack::start();
    let before = session_and_a_role_due(&s);
    let token = value(&before, "corp", "aws_session_token").unwrap();
    let secret = value(&before, "corp", "aws_secret_access_key").unwrap();
    // First a malformed answer carrying credentials (in passing: retried), then a refusal
    // that echoes the request, the session token among it (notified at once).
    s.fault(serde_json::json!({ "action": "AssumeRole", "kind": "malformed", "times": 1 }));
    s.fault(serde_json::json!({ "action": "AssumeRole", "kind": "echo", "times": 1 }));
    let log = s.path("tray.log");
    let bus = Bus::start();
    let (notes, _n) = Notifications::serve(&bus);
    let (_watcher, _w) = Watcher::serve(&bus);
    let app = start_tray_with_stderr(&s, &bus, Stdio::from(fs::File::create(&log).unwrap()));
    let note = desktop::wait_for(Duration::from_secs(45), "the refusal's notice", || notes.all().first().cloned());
    drop(app);
    assert_eq!(note.summary, "Could not refresh prod-admin");
    assert!(note.body.contains("AWS refused the request while assuming prod-admin") && note.body.contains("token=[redacted]"), "{}", note.body);
    let faults: Vec<String> = assume_log(&s).iter().map(|e| e["fault"].as_str().unwrap_or("-").to_owned()).collect();
    assert_eq!(faults, ["malformed", "echo"], "the malformed answer was retried, the refusal was not");
    let stderr = fs::read_to_string(&log).unwrap();
    for (what, text) in [("notice", format!("{} {}", note.summary, note.body)), ("stderr", stderr)] {
        for leak in ["LEAK", "alice/long/term/secret", &token, &secret] {
            assert!(!text.contains(leak), "{what} shows a secret ({leak:?}): {text}");
        }
    }
    assert_eq!(s.credentials(), before, "nothing written");
}

/// The XDG autostart entries in the sandbox's HOME, with their text.
fn autostart_entries(s: &Stack) -> Vec<(String, String)> {
    let Ok(dir) = fs::read_dir(s.path(".config/autostart")) else { return vec![] };
    dir.filter_map(|e| {
        let e = e.ok()?;
        Some((e.file_name().to_string_lossy().into_owned(), fs::read_to_string(e.path()).ok()?))
    })
    .collect()
}

/// Saves settings through the tray's channel, as the window does.
fn save_settings(s: &Stack, toml: &str) {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(s.path("run/mfa-tray/tray.sock")).unwrap();
    let request = serde_json::json!({ "v": 2, "op": "save_settings", "toml": toml });
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert!(line.contains("\"result\":\"ok\""), "{line}");
}

#[test]
fn start_at_login_comes_on_after_the_first_login_and_follows_the_setting() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    settings(&s, "# mine: keep this\nauto_refresh = true");
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _app = start_tray(&s, &bus);
    desktop::wait_for(Duration::from_secs(30), "the tray's socket", || s.path("run/mfa-tray/tray.sock").exists().then_some(()));
    // Starting the tray registers nothing by itself.
    std::thread::sleep(Duration::from_secs(2));
    assert!(autostart_entries(&s).is_empty(), "{:?}", autostart_entries(&s));

    // The first login (here in a terminal): the tray turns it on and records the choice.
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let entries = desktop::wait_for(Duration::from_secs(15), "the autostart entry", || Some(autostart_entries(&s)).filter(|e| !e.is_empty()));
    let exe = fs::canonicalize(env!("CARGO_BIN_EXE_mfa-tray-app")).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let (name, text) = &entries[0];
    assert_eq!(name, "mfa-tray.desktop");
    assert!(text.starts_with("[Desktop Entry]\n") && text.lines().any(|l| l.trim() == format!("Exec={}", exe.display())), "{text}");
    // Added to the file as it was, the user's comment kept.
    let settings = fs::read_to_string(s.path("mfa-tray-config/settings.toml")).unwrap();
    assert_eq!(settings, "# mine: keep this\nauto_refresh = true\nstart_at_login = true\n");

    // Off with one click in the settings: the entry goes; on again: it comes back.
    save_settings(&s, &settings.replace("start_at_login = true", "start_at_login = false"));
    desktop::wait_for(Duration::from_secs(15), "the entry to go", || autostart_entries(&s).is_empty().then_some(()));
    save_settings(&s, &settings);
    desktop::wait_for(Duration::from_secs(15), "the entry to come back", || (autostart_entries(&s).len() == 1).then_some(()));
    // The user's choice of off is kept across logins.
    save_settings(&s, &settings.replace("start_at_login = true", "start_at_login = false"));
    desktop::wait_for(Duration::from_secs(15), "the entry to go", || autostart_entries(&s).is_empty().then_some(()));
    s.run(&["login", "corp", "--code", &s.code(1)]).ok();
    std::thread::sleep(Duration::from_secs(2));
    assert!(autostart_entries(&s).is_empty());
    assert!(fs::read_to_string(s.path("mfa-tray-config/settings.toml")).unwrap().contains("\nstart_at_login = false\n"));
}
