//! What only Windows does, on the Windows build under Wine: a file another program holds
//! open (Windows refuses to replace it, where Linux never does), the files under
//! %USERPROFILE%\.aws, the installer, and tools asking the tray over its named pipe.
//!
//! Not checked here: the DACL mfa-tray gives a file it writes on Windows (protected, the
//! user alone, in place of mode 0600). Wine 8 keeps no DACL for a file: it turns one
//! into Unix mode bits (the user-only DACL becomes 0775) and reports a DACL made from
//! those, so no test under Wine can tell a right DACL from a wrong one. There is no Windows build in `scripts/test`, so these are ignored there;
//! `scripts/test-windows` runs them with `MFA_TRAY_TEST_EXE` (mfa-tray.exe),
//! `MFA_TRAY_TEST_RUNNER` (Wine), `MFA_TRAY_TEST_PROBE` (probe.exe) and
//! `MFA_TRAY_TEST_INSTALLER` (the NSIS installer).

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::windows::{finish, probe, profile_lock, wine, windows_path};
use support::*;

const WINDOWS_ONLY: &str = "needs the Windows build under Wine: scripts/test-windows";

fn login(s: &Stack) -> Run {
    s.run(&["login", "corp", "--code", &s.code(0)])
}

fn credentials_win(s: &Stack) -> String {
    windows_path(&s.path(".aws/credentials"))
}

#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn a_file_another_program_holds_open_is_replaced_once_it_lets_go() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    // Python's open() (botocore reading the file), Notepad: sharing read and write, not
    // delete. The probe lets go 300 ms after mfa-tray is seen waiting (holding its lock).
    let lock = windows_path(&s.path(".aws/.credentials.mfa-tray.lock"));
    let holder = probe(&["contend", &credentials_win(&s), &lock, "300"]);
    let run = login(&s);
    assert_eq!(finish(holder).trim(), "contended", "mfa-tray never waited for the file");
    run.ok();
    let now = s.credentials();
    assert!(now.starts_with(CREDENTIALS) && now.contains("\n[corp]\n"), "{now}");
}

#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn a_file_held_open_for_long_is_refused_before_the_code_is_spent() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let holder = probe(&["hold", &credentials_win(&s), "8000"]);
    let run = login(&s);
    run.fails(4, "cannot be replaced: another program keeps it open");
    assert!(run.stderr.contains("Nothing was written"), "{}", run.stderr);
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(s.proxy_log().is_empty(), "the code was sent to AWS: {:?}", s.proxy_log());
    let leftovers: Vec<_> = fs::read_dir(s.path(".aws")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| n.contains("tmp") || n.contains("linking")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    finish(holder);
    // Once it lets go, the same code works.
    login(&s).ok();
    assert!(s.credentials().contains("\n[corp]\n"));
}

/// %USERPROFILE% under Wine (`C:\users\NAME`).
fn wine_userprofile() -> String {
    let out = wine().args(["cmd", "/c", "echo", "%USERPROFILE%"]).output().unwrap();
    let profile = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(profile.starts_with("C:\\"), "USERPROFILE under Wine: {profile:?}");
    profile
}

/// The Wine prefix's profile directory of the user, as a Linux path.
fn wine_profile() -> PathBuf {
    let prefix = PathBuf::from(std::env::var_os("WINEPREFIX").expect("WINEPREFIX"));
    prefix.join("drive_c").join(wine_userprofile()[3..].replace('\\', "/"))
}

#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn without_aws_variables_the_files_are_under_userprofile() {
    let _profile = profile_lock();
    let s = Stack::start();
    let aws = wine_profile().join(".aws");
    let _restore = Restore::aside(&aws);
    fs::create_dir_all(&aws).unwrap();
    fs::write(aws.join("credentials"), CREDENTIALS.replace('\n', "\r\n")).unwrap();
    fs::write(aws.join("config"), CONFIG.replace('\n', "\r\n")).unwrap();
    let mut cmd = s.command();
    // As a Windows user starts it: no AWS file variables (and Wine passes no HOME, and
    // sets USERPROFILE to the prefix's user).
    cmd.env_remove("AWS_CONFIG_FILE").env_remove("AWS_SHARED_CREDENTIALS_FILE");
    let run = Run::from(cmd.args(["login", "corp", "--code", &s.code(0)]).output().unwrap());
    run.ok();
    let written = fs::read_to_string(aws.join("credentials")).unwrap();
    assert!(written.starts_with(&CREDENTIALS.replace('\n', "\r\n")), "{written}");
    assert!(written.contains("\r\n[corp]\r\n"), "CRLF kept: {written:?}");
    assert!(!s.path(".aws").exists());
}

/// Moves a directory aside for a test and puts it back afterwards.
struct Restore(PathBuf, PathBuf);

impl Restore {
    fn aside(dir: &Path) -> Restore {
        let aside = dir.with_extension(format!("before-test-{}", std::process::id()));
        if dir.exists() {
            fs::rename(dir, &aside).unwrap();
        }
        Restore(dir.to_owned(), aside)
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        if self.1.exists() {
            let _ = fs::rename(&self.1, &self.0);
        }
    }
}

fn reg(args: &[&str]) -> (bool, String) {
    let out = wine().arg("reg").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The user's PATH value (None: there is none), byte for byte.
fn user_path() -> Option<String> {
    let (found, out) = reg(&["query", r"HKCU\Environment", "/v", "Path"]);
    let line = out.lines().find(|l| l.trim_start().starts_with("Path ")).filter(|_| found)?;
    Some(line.split_once("_SZ").map_or("", |(_, v)| v).trim_start_matches(' ').trim_end_matches(['\r', '\n']).to_owned())
}

fn set_user_path(path: Option<&str>) {
    let ok = match path {
        Some(p) => reg(&["add", r"HKCU\Environment", "/v", "Path", "/t", "REG_EXPAND_SZ", "/d", p, "/f"]).0,
        None => reg(&["delete", r"HKCU\Environment", "/v", "Path", "/f"]).0 || user_path().is_none(),
    };
    assert!(ok, "cannot set PATH to {path:?}");
}

/// Puts the user's PATH back as it was when dropped.
struct RestorePath(Option<String>);

impl Drop for RestorePath {
    fn drop(&mut self) {
        set_user_path(self.0.as_deref());
    }
}

#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn the_installer_installs_and_uninstalls_leaving_the_users_files() {
    let installer = std::env::var("MFA_TRAY_TEST_INSTALLER").expect(WINDOWS_ONLY);
    let _profile = profile_lock();
    let _path = RestorePath(user_path());
    let profile = wine_profile();
    let local = profile.join("AppData/Local/Programs/mfa-tray");
    let aws = profile.join(".aws");
    let _restore = Restore::aside(&aws);
    fs::create_dir_all(&aws).unwrap();
    fs::write(aws.join("credentials"), CREDENTIALS).unwrap();
    // A user's PATH with an empty entry and a trailing separator, kept byte for byte.
    let users = r"C:\tools;;C:\other;";
    set_user_path(Some(users));
    let install = || {
        let out = wine().args([installer.as_str(), "/S"]).output().unwrap();
        assert!(out.status.success(), "install: {out:?}");
    };
    let uninstall = || {
        let out = wine().arg(local.join("uninstall.exe")).arg("/S").output().unwrap();
        assert!(out.status.success(), "uninstall: {out:?}");
        // The NSIS uninstaller copies itself to a temporary directory and returns at once.
        let start = std::time::Instant::now();
        while local.join("uninstall.exe").exists() && start.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };

    install();
    for exe in ["mfa-tray.exe", "mfa-tray-app.exe", "mfa-tray-window.exe", "uninstall.exe"] {
        assert!(local.join(exe).is_file(), "{exe} not installed in {}", local.display());
    }
    let version = wine().arg(local.join("mfa-tray.exe")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("mfa-tray {}", env!("CARGO_PKG_VERSION")));
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\mfa-tray";
    let (found, entry) = reg(&["query", key]);
    assert!(found && entry.contains("uninstall.exe") && entry.contains(env!("CARGO_PKG_VERSION")), "{entry}");
    let dir = format!(r"{}\AppData\Local\Programs\mfa-tray", wine_userprofile());
    assert_eq!(user_path().as_deref(), Some(format!("{users};{dir}").as_str()), "the CLI on the user's PATH");
    // Installed twice: still one PATH entry.
    install();
    assert_eq!(user_path().as_deref(), Some(format!("{users};{dir}").as_str()));
    // The tray's start-at-login entry, as the auto-launch crate writes it.
    let run_key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
    assert!(reg(&["add", run_key, "/v", "mfa-tray", "/d", &windows_path(&local.join("mfa-tray-app.exe")), "/f"]).0);

    uninstall();
    assert!(!local.join("mfa-tray.exe").exists() && !local.join("mfa-tray-app.exe").exists(), "the programs stay");
    assert!(!reg(&["query", key]).0, "the uninstall entry stays");
    assert!(!reg(&["query", run_key, "/v", "mfa-tray"]).0, "start at login stays");
    assert_eq!(user_path().as_deref(), Some(users), "PATH not given back byte for byte");
    assert_eq!(fs::read_to_string(aws.join("credentials")).unwrap(), CREDENTIALS, "the user's file");

    // A PATH longer than the installer can hold (1024 characters) is never touched.
    let long: String = (0..140).map(|i| format!(r"C:\dir{i:03}")).collect::<Vec<_>>().join(";");
    set_user_path(Some(&long));
    install();
    assert!(local.join("mfa-tray.exe").is_file());
    assert_eq!(user_path().as_deref(), Some(long.as_str()), "a long PATH changed on install");
    uninstall();
    assert_eq!(user_path().as_deref(), Some(long.as_str()), "a long PATH changed on uninstall");
    assert!(!local.join("mfa-tray.exe").exists());
}

/// The tray (`mfa-tray-app.exe`) under Wine, on the sandbox's files; killed when dropped.
struct Tray(std::process::Child);

impl Tray {
    fn start(s: &Stack) -> Tray {
        let exe = PathBuf::from(std::env::var_os("MFA_TRAY_TEST_EXE").expect(WINDOWS_ONLY)).with_file_name("mfa-tray-app.exe");
        let mut cmd = wine();
        cmd.arg(exe);
        s.sandbox(&mut cmd);
        Tray(cmd.stdout(std::process::Stdio::null()).spawn().unwrap())
    }
}

impl Drop for Tray {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tools ask the running tray over its named pipe (`\\.\pipe\mfa-tray-SID-…`): the tray
/// takes corp's code from its mfa_process, keeps the MFA session and the role in its
/// memory and answers again from there; nothing is written to the credentials file.
#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn tools_ask_the_tray_over_its_named_pipe() {
    let _profile = profile_lock();
    let s = Stack::start();
    let code = s.path("code.txt");
    let config = CONFIG
        .replace("[profile corp]\n", &format!("[profile corp]\nmfa_process = type {}\n", windows_path(&code)))
        .replace("role_arn = arn:aws:iam::123456789012:role/Admin\n", "credential_process = mfa-tray credential-process prod-admin\nmfa_tray_role_arn = arn:aws:iam::123456789012:role/Admin\n");
    s.files(CREDENTIALS, &config);
    // Not registered to start at login: wineboot would start it in later tests.
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "start_at_login = false\n").unwrap();
    fs::write(&code, s.code(0)).unwrap();
    assert!(s.run(&["status"]).ok().stdout.contains("\nTray: not running\n"));

    let tray = Tray::start(&s);
    support::desktop::wait_for(std::time::Duration::from_secs(90), "the tray to answer on its pipe", || {
        s.run(&["status"]).stdout.contains("\nTray: running (mfa-tray ").then_some(())
    });
    let json: serde_json::Value = serde_json::from_str(&s.run(&["status", "--json"]).ok().stdout).unwrap();
    assert!(json["tray"].as_str().unwrap().starts_with("mfa-tray "), "{json}");

    let first = s.run(&["credential-process", "prod-admin"]);
    first.ok();
    let creds: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(creds["Version"], 1);
    assert!(creds["AccessKeyId"].as_str().unwrap().starts_with("ASIA"), "{creds}");
    // Again: from the tray's memory, with no new call to AWS and no code (the CLI on its
    // own would need one: it keeps nothing, below).
    fs::remove_file(&code).unwrap();
    let second = s.run(&["credential-process", "prod-admin"]);
    second.ok();
    let again: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(again["AccessKeyId"], creds["AccessKeyId"]);
    let actions: Vec<String> = s.proxy_log().iter().map(|e| e["action"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(actions, ["GetSessionToken", "AssumeRole"]);
    assert_eq!(s.credentials(), CREDENTIALS);

    // Without the tray the CLI is on its own: it runs the command itself, which now
    // fails, and says so.
    drop(tray);
    let alone = s.run(&["credential-process", "prod-admin"]);
    assert_ne!(alone.code, 0);
    assert!(alone.stderr.contains("the mfa_process of corp failed"), "{}", alone.stderr);
    assert!(s.run(&["status"]).ok().stdout.contains("\nTray: not running\n"));
}

/// The `credential_process` line written on Windows is one botocore on Windows can run:
/// split by botocore's own `compat_shell_split(..., platform="win32")`, its words run
/// under Wine print the credentials. The program's path has a space (double quotes, never
/// POSIX single quotes, which Windows keeps as part of the name); and an `mfa-tray.exe`
/// on the PATH is found (with PATHEXT) and named plainly.
#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn the_credential_process_line_runs_as_botocore_splits_it_on_windows() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    login(&s).ok();
    let dir = s.path("Programs/mfa tray");
    fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("mfa-tray.exe");
    fs::copy(std::env::var_os("MFA_TRAY_TEST_EXE").expect(WINDOWS_ONLY), &exe).unwrap();
    let installed = |args: &[&str], path: Option<&str>| {
        let mut cmd = wine();
        cmd.arg(&exe).args(args);
        s.sandbox(&mut cmd);
        if let Some(p) = path {
            cmd.env("WINEPATH", p);
        }
        Run::from(cmd.output().unwrap())
    };
    installed(&["role", "add", "ci", "--arn", ROLE_ARN, "--source", "corp", "--credential-process"], None).ok();
    let config = fs::read_to_string(s.path(".aws/config")).unwrap();
    let line = value(&config, "profile ci", "credential_process").unwrap();
    assert_eq!(line, format!("\"{}\" credential-process ci", windows_path(&exe)));
    // botocore on Windows splits it back into the program and its arguments...
    let script = "import json, sys\nfrom botocore.compat import compat_shell_split\nprint(json.dumps(compat_shell_split(sys.argv[1], platform='win32')))";
    let out = std::process::Command::new(venv().join("bin/python")).args(["-c", script, &line]).output().unwrap();
    let words: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(words, [windows_path(&exe), "credential-process".into(), "ci".into()]);
    // ... which run and print credentials (the role through the session in [corp]).
    let mut cmd = wine();
    cmd.args(&words);
    s.sandbox(&mut cmd);
    let run = Run::from(cmd.output().unwrap());
    let json: serde_json::Value = serde_json::from_str(&run.ok().stdout).unwrap();
    assert_eq!(json["Version"], 1);

    // With its directory on the PATH, `mfa-tray` is found as mfa-tray.exe and named plainly.
    installed(&["role", "add", "ci2", "--arn", ROLE_ARN, "--source", "corp", "--credential-process"], Some(&windows_path(&dir))).ok();
    let config = fs::read_to_string(s.path(".aws/config")).unwrap();
    assert_eq!(value(&config, "profile ci2", "credential_process").as_deref(), Some("mfa-tray credential-process ci2"));
}

/// `exec` on Windows waits for the command and hands on its exit status; the command
/// gets the role's credentials and not the stale profile; a command that cannot be
/// found exits 127; `exec --server` hands the command an endpoint instead of keys.
#[test]
#[ignore = "needs the Windows build under Wine: scripts/test-windows"]
fn exec_waits_for_the_command_and_hands_on_its_status() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    login(&s).ok();
    let before = s.credentials_bytes();
    let run = |args: &[&str]| {
        let mut cmd = s.command();
        Run::from(cmd.env("AWS_PROFILE", "corp").args(["exec", "prod-admin"]).args(args).output().unwrap())
    };
    let shown = run(&["--", "cmd", "/c", "echo %AWS_ACCESS_KEY_ID% %AWS_PROFILE% %MFA_TRAY_EXEC% & exit 3"]);
    assert_eq!(shown.code, 3, "{shown:#?}");
    assert!(shown.stdout.starts_with("ASIA") && shown.stdout.contains(" %AWS_PROFILE% prod-admin"), "{shown:#?}");
    run(&["--", "no-such-command-here"]).fails(127, "cannot run no-such-command-here");
    let served = run(&["--server", "--", "cmd", "/c", "echo %AWS_CONTAINER_CREDENTIALS_FULL_URI% %AWS_SECRET_ACCESS_KEY%"]);
    assert!(served.ok().stdout.starts_with("http://127.0.0.1:") && served.stdout.contains("/credentials %AWS_SECRET_ACCESS_KEY%"), "{served:#?}");
    assert_eq!(s.credentials_bytes(), before);
}
