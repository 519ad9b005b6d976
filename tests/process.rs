//! Tools that ask (`credential_process`): the real AWS CLI and boto3 from the test venv
//! run `mfa-tray credential-process` and call STS (moto behind the MFA proxy) with what
//! it printed. With a session, no prompt; with the tray running, its window asks and the
//! tool waits (WebDriver types the code); without a tray, mfa_process or the terminal.
//! Nothing temporary is written: the credentials file keeps its bytes throughout.
//! The tests with a tray need a display: scripts/test runs the suite under xvfb-run.

mod support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::desktop::{self, wait_for, Bus, Watcher};
use support::webdriver::Driver;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_mfa-tray");

/// CONFIG with prod-admin fetched by tools, as users write it (`mfa-tray` on the PATH).
fn process_config() -> String {
    let on_demand = "credential_process = mfa-tray credential-process prod-admin\nmfa_tray_role_arn = arn:aws:iam::123456789012:role/Admin\n";
    CONFIG.replace("role_arn = arn:aws:iam::123456789012:role/Admin\n", on_demand)
}

/// PATH with the built binaries first (as an installed mfa-tray would be).
fn path_with_bin() -> String {
    let dir = std::path::Path::new(BIN).parent().unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

/// The AWS CLI from the venv, in the sandbox. `setsid` takes the controlling terminal
/// away, as for a tool started from a desktop.
fn aws(s: &Stack, args: &[&str]) -> Command {
    let mut cmd = Command::new("setsid");
    cmd.arg("-w").arg(venv().join("bin/aws")).args(args);
    s.sandbox(&mut cmd);
    cmd.env("AWS_DEFAULT_REGION", "eu-west-1").env("PATH", path_with_bin()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn boto3(s: &Stack, profile: &str) -> Run {
    let script = format!("import boto3; print(boto3.Session(profile_name={profile:?}).client('sts').get_caller_identity()['Arn'])");
    let mut cmd = Command::new("setsid");
    cmd.arg("-w").arg(venv().join("bin/python")).args(["-c", &script]);
    s.sandbox(&mut cmd);
    cmd.env("AWS_DEFAULT_REGION", "eu-west-1").env("PATH", path_with_bin());
    Run::from(cmd.output().unwrap())
}

fn caller_arn(run: &Run) -> String {
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("not JSON: {run:#?}"));
    v["Arn"].as_str().unwrap().to_owned()
}

fn assumed(role_session: &str) -> String {
    format!("arn:aws:sts::123456789012:assumed-role/Admin/{role_session}")
}

/// The JSON `mfa-tray credential-process` printed, checked against the AWS format.
fn process_output(run: &Run) -> serde_json::Value {
    run.ok();
    assert_eq!(run.stdout.lines().count(), 1, "one line of JSON and nothing else: {run:#?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["Version"], 1);
    // (moto hands out AWS's documentation key as every MFA session's.)
    let id = v["AccessKeyId"].as_str().unwrap();
    assert!(id.len() >= 16 && (id.starts_with("ASIA") || id.starts_with("AKIA")), "{v}");
    assert!(!v["SecretAccessKey"].as_str().unwrap().is_empty() && !v["SessionToken"].as_str().unwrap().is_empty());
    let expires = time::OffsetDateTime::parse(v["Expiration"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::minutes(15), "at least 15 minutes left, not {left}");
    v
}

fn actions(s: &Stack) -> Vec<(String, bool)> {
    s.proxy_log().iter().map(|l| (l["action"].as_str().unwrap_or("").to_owned(), l["code"].as_bool().unwrap_or(false))).collect()
}

#[test]
fn tools_get_a_role_through_the_mfa_session_and_nothing_is_written() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    // `role add --credential-process` writes the profile, appended and nothing else touched.
    s.run(&["role", "add", "ci", "--arn", ROLE_ARN, "--source", "corp", "--session-name", "ci-tool", "--credential-process"]).ok();
    let config = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    let expected = format!(
        "{CONFIG}\n[profile ci]\ncredential_process = {BIN} credential-process ci\nmfa_tray_role_arn = {ROLE_ARN}\nsource_profile = corp\nrole_session_name = ci-tool\n"
    );
    assert_eq!(config, expected);
    let status = s.run(&["status"]);
    assert!(status.stdout.contains("ci          on demand"), "{status:#?}");
    assert!(status.stdout.contains("\nTray: not running\n"), "{status:#?}");
    s.run(&["assume", "ci"]).fails(2, "ci is fetched by tools with credential_process and never written to the credentials file");

    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let before = s.credentials_bytes();

    // The AWS CLI and boto3 run the command botocore found in the profile.
    let cli = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "ci"]).output().unwrap());
    assert_eq!(caller_arn(cli.ok()), assumed("ci-tool"));
    let py = boto3(&s, "ci");
    assert_eq!(py.ok().stdout.trim(), assumed("ci-tool"));
    // Through the session in [corp]: no code was sent with AssumeRole.
    let assumes: Vec<_> = actions(&s).into_iter().filter(|(a, _)| a == "AssumeRole").collect();
    assert_eq!(assumes, [("AssumeRole".to_owned(), false), ("AssumeRole".to_owned(), false)]);

    // The command itself prints one line of version 1 JSON; a session profile gets its
    // session from the file.
    process_output(&s.run(&["credential-process", "ci"]));
    let session = process_output(&s.run(&["credential-process", "corp"]));
    assert_eq!(session["AccessKeyId"].as_str(), value(&s.credentials(), "corp", "aws_access_key_id").as_deref());
    assert_eq!(s.credentials_bytes(), before, "nothing written");
    s.run(&["credential-process", "nope"]).fails(2, "there is no role or MFA session profile named nope");
}

#[test]
fn with_no_tray_and_no_terminal_the_tool_is_told_how_to_log_in() {
    let s = Stack::start();
    s.files(CREDENTIALS, &process_config());
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_ne!(run.code, 0, "{run:#?}");
    // botocore shows the process's stderr in its error.
    assert!(run.stderr.contains("no tray running to ask for it and no terminal: start the tray (mfa-tray-app), or run `mfa-tray login corp`"), "{run:#?}");
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(actions(&s).is_empty(), "nothing sent to AWS: {:?}", actions(&s));
}

#[test]
fn with_no_tray_mfa_process_gives_the_code_and_nothing_is_written() {
    let s = Stack::start();
    let config = process_config().replace("[profile corp]\n", &format!("[profile corp]\nmfa_process = oathtool --totp -b {SECRET}\n"));
    s.files(CREDENTIALS, &config);
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_eq!(caller_arn(run.ok()), assumed("alice"));
    // With no tray to keep a session, the role is assumed with the code itself.
    assert_eq!(actions(&s)[0], ("AssumeRole".to_owned(), true));
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(!s.path(".aws/.credentials.mfa-tray-previous").exists());
}

/// Without a tray, one code serves the calls after it too: the MFA session is kept in
/// the keychain (an item of its own), used by the next call without a code, replaced
/// once it has run out, and removed by `logout`. The credentials file keeps its bytes.
#[test]
fn with_no_tray_one_code_serves_the_calls_after_it() {
    let s = Stack::start();
    let kr = s.keyring();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let call = || {
        let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
        assert!(caller_arn(run.ok()).starts_with("arn:aws:sts::123456789012:assumed-role/Admin/"), "{run:#?}");
    };
    call();
    call();
    let codes = |s: &Stack| actions(s).iter().filter(|(_, code)| *code).count();
    let sts: Vec<_> = actions(&s).into_iter().filter(|(a, _)| a != "GetCallerIdentity").collect();
    assert_eq!(sts, [("GetSessionToken".to_owned(), true), ("AssumeRole".to_owned(), false), ("AssumeRole".to_owned(), false)]);
    let item = "corp MFA session";
    let kept = kr.lookup(item).expect("the session is kept in the keychain");
    let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
    assert!(v["session_token"].as_str().is_some_and(|t| !t.is_empty()) && v["key"].as_str().unwrap().contains("arn:aws:iam::123456789012:mfa/alice"), "{v}");
    assert_eq!(s.credentials(), CREDENTIALS);

    // Run out: replaced by a new session, for one new code.
    let mut expired = v.clone();
    expired["expiration"] = "2020-01-01T00:00:00Z".into();
    let attributes = ["store", "--label=mfa-tray", "service", "mfa-tray", "username", item, "target", "default", "application", "rust-keyring"];
    assert!(kr.secret_tool_with(&attributes, expired.to_string().as_bytes()).status.success());
    assert!(kr.lookup(item).unwrap().contains("2020-01-01"), "the item was replaced");
    call();
    assert_eq!(codes(&s), 2, "{:?}", actions(&s));
    assert!(!kr.lookup(item).unwrap().contains("2020-01-01"));

    // `logout` removes it, and only it: the next call asks for a code again.
    let run = s.run(&["logout", "corp"]);
    assert_eq!(run.ok().stdout, "Logged out corp: removed the MFA session kept for tools in the keychain.\n");
    assert_eq!(kr.lookup(item), None);
    assert!(kr.lookup("corp").is_none() && s.credentials() == CREDENTIALS);
    call();
    assert_eq!(codes(&s), 3, "{:?}", actions(&s));
}

/// A session profile with the shortest duration AWS allows still hands tools 15 minutes.
#[test]
fn a_short_session_profile_still_hands_out_fifteen_minutes() {
    let s = Stack::start();
    let config = CONFIG.replace("[profile corp]\n", &format!("[profile corp]\nduration_seconds = 900\nmfa_process = oathtool --totp -b {SECRET}\n"));
    s.files(CREDENTIALS, &config);
    let mut cmd = Command::new("setsid");
    cmd.arg("-w").arg(BIN).args(["credential-process", "corp"]);
    s.sandbox(&mut cmd);
    process_output(&Run::from(cmd.output().unwrap()));
    assert_eq!(s.credentials(), CREDENTIALS);
}

/// With no tray, the command asks on the terminal itself (botocore keeps its stderr).
#[test]
fn with_no_tray_the_terminal_is_asked() {
    let s = Stack::start();
    s.files(CREDENTIALS, &process_config());
    // A pseudo-terminal, as a shell in a terminal window gives.
    let (code, text) = s.on_a_terminal(&["credential-process", "prod-admin"], &format!("{}\n", s.code(0)));
    assert_eq!(code, 0, "{text}");
    let prompt = text.find("mfa-tray: python (pid ").unwrap_or_else(|| panic!("{text}"));
    assert!(text[prompt..].contains(") asks for prod-admin. MFA code for corp (arn:aws:iam::123456789012:mfa/alice): "), "{text}");
    let json = text.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON: {text}"));
    process_output(&Run { code: 0, stdout: format!("{json}\n"), stderr: String::new() });
    assert_eq!(actions(&s)[0], ("AssumeRole".to_owned(), true));
    assert_eq!(s.credentials(), CREDENTIALS);
}

struct Tray(Child);

impl Drop for Tray {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_tray(s: &Stack, bus: &Bus) -> Tray {
    let mut cmd = s.tray_command(bus);
    cmd.env("PATH", path_with_bin()).stdout(Stdio::null());
    let tray = Tray(cmd.spawn().expect("start the tray"));
    wait_for(Duration::from_secs(30), "the tray's socket", || s.path("run/mfa-tray/tray.sock").exists().then_some(()));
    tray
}

/// What the tray says waits for a code, asked over its socket as the window asks.
fn tray_asks(s: &Stack) -> serde_json::Value {
    use std::io::{BufRead, BufReader};
    let mut stream = std::os::unix::net::UnixStream::connect(s.path("run/mfa-tray/tray.sock")).unwrap();
    stream.write_all(b"{\"v\":2,\"op\":\"asks\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str::<serde_json::Value>(&line).unwrap()["asks"].clone()
}

/// Waits for a tool started in the background, with what it printed.
fn finish(mut child: Child, timeout: Duration) -> Run {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < timeout, "the tool is still waiting after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn the_tray_asks_for_the_code_while_the_tool_waits() {
    let s = Stack::start();
    s.files(CREDENTIALS, &process_config());
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let tray = start_tray(&s, &bus);
    // `status` says which tray answers tools.
    let status = s.run(&["status"]);
    assert!(status.stdout.contains(&format!("\nTray: running (mfa-tray {})\n", env!("CARGO_PKG_VERSION"))), "{status:#?}");
    let json: serde_json::Value = serde_json::from_str(&s.run(&["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["tray"], format!("mfa-tray {}", env!("CARGO_PKG_VERSION")));

    // No session: the AWS CLI's call waits, and the tray opens its window on the ask.
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    let window = desktop::window_process(tray.0.id());
    assert!(window.ends_with("mfa-tray-window --window ask "), "{window:?}");
    // The same window, driven: it names the tool and the profile.
    let d = Driver::start(&s, &bus, "ask");
    let who = wait_for(Duration::from_secs(20), "the ask", || Some(d.text("#ask-who")).filter(|t| t.contains("asks for")));
    assert!(who.starts_with("aws (pid ") && who.ends_with(" asks for prod-admin. Type the MFA code of corp (arn:aws:iam::123456789012:mfa/alice)."), "{who}");
    // A wrong code: told, and the tool keeps waiting.
    d.type_into("#ask-code", &s.code(10));
    let error = d.text("#ask-error");
    assert!(error.contains("AWS rejected the MFA code"), "{error}");
    d.save_screenshot("ask.png");
    d.type_into("#ask-code", &s.code(0));
    let done = d.text("#ask-done");
    assert_eq!(done, "Code accepted for corp: the tools that asked have their credentials.");
    let run = finish(tool, Duration::from_secs(60));
    assert_eq!(caller_arn(run.ok()), assumed("alice"));

    // One code: the next tools get the role and the session from the tray's memory.
    let again = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_eq!(caller_arn(again.ok()), assumed("alice"));
    let mut cmd = s.command();
    let session = Run::from(cmd.env("PATH", path_with_bin()).args(["credential-process", "corp"]).output().unwrap());
    process_output(&session);
    let log = actions(&s);
    assert_eq!(log.iter().filter(|(a, code)| a == "GetSessionToken" && *code).count(), 2, "one wrong code, one right: {log:?}");
    assert_eq!(log.iter().filter(|(a, _)| a == "AssumeRole").count(), 1, "the second call was served from memory: {log:?}");
    // Never on disk.
    assert_eq!(s.credentials(), CREDENTIALS);
}

#[test]
fn the_tray_takes_the_code_from_mfa_process_and_opens_no_window() {
    let s = Stack::start();
    let config = process_config().replace("[profile corp]\n", &format!("[profile corp]\nmfa_process = oathtool --totp -b {SECRET}\n"));
    s.files(CREDENTIALS, &config);
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let tray = start_tray(&s, &bus);
    // Four tools at once: one run of the command, one code (AWS takes each once).
    let tools: Vec<Child> = (0..4).map(|_| aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap()).collect();
    for tool in tools {
        assert_eq!(caller_arn(finish(tool, Duration::from_secs(60)).ok()), assumed("alice"));
    }
    // One code from the command, a session kept in memory, and the role from it (tools
    // asking at once for a role not in memory wait for one AssumeRole).
    let sts = || actions(&s).into_iter().filter(|(a, _)| a != "GetCallerIdentity").collect::<Vec<_>>();
    let log = sts();
    assert_eq!(log, [("GetSessionToken".to_owned(), true), ("AssumeRole".to_owned(), false)], "one code, one AssumeRole");
    // The next tool gets the role from memory.
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_eq!(caller_arn(run.ok()), assumed("alice"));
    assert_eq!(sts(), log);
    let children = desktop::children(tray.0.id());
    assert!(children.is_empty(), "no window: {children:?}");
    assert_eq!(s.credentials(), CREDENTIALS);
}

#[test]
fn a_closed_window_or_no_code_in_time_fails_the_tool_with_the_reason() {
    let s = Stack::start();
    s.files(CREDENTIALS, &process_config());
    s.env.lock().unwrap().push(("MFA_TRAY_ASK_TIMEOUT".into(), "8".into()));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let tray = start_tray(&s, &bus);

    // The user closes the code window: the tool is told at once.
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    let (window, _) = desktop::window_child(tray.0.id());
    // Closed once seen (a window closing as a tool asks is not taken as an answer).
    std::thread::sleep(Duration::from_secs(3));
    assert!(Command::new("kill").arg(window.to_string()).status().unwrap().success());
    let run = finish(tool, Duration::from_secs(20));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("asked for prod-admin, and mfa-tray's window was closed without a code"), "{run:#?}");

    // Cancelled from the window.
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    let d = Driver::start(&s, &bus, "ask");
    wait_for(Duration::from_secs(20), "the ask", || Some(d.text("#ask-who")).filter(|t| t.contains("asks for")));
    d.click_closing("#ask-cancel");
    let run = finish(tool, Duration::from_secs(20));
    assert!(run.code != 0 && run.stderr.contains("asked for prod-admin, and the MFA code was cancelled in mfa-tray's window"), "{run:#?}");
    drop(d);

    // Nobody answers: the tool gives up when the tray does.
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    let run = finish(tool, Duration::from_secs(30));
    assert!(run.code != 0 && run.stderr.contains("no MFA code for corp was typed within 8 s"), "{run:#?}");

    // A tool that stops waiting (killed, Ctrl-C) is no longer asked for.
    let mut cmd = s.command();
    let mut quitter = cmd.args(["credential-process", "prod-admin"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let asks = wait_for(Duration::from_secs(10), "the ask", || Some(tray_asks(&s)).filter(|a| a.as_array().is_some_and(|a| !a.is_empty())));
    assert_eq!(asks[0]["profiles"], serde_json::json!(["prod-admin"]));
    assert!(asks[0]["tools"][0].as_str().unwrap().ends_with(&format!(" (pid {})", std::process::id())), "named by the tray: {asks}");
    quitter.kill().unwrap();
    quitter.wait().unwrap();
    wait_for(Duration::from_secs(5), "the ask to go with its tool", || (tray_asks(&s) == serde_json::json!([])).then_some(()));
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(actions(&s).is_empty(), "nothing sent to AWS: {:?}", actions(&s));

    // A login meanwhile (in a terminal, say) answers a waiting tool.
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    wait_for(Duration::from_secs(10), "the ask", || Some(()).filter(|_| tray_asks(&s).as_array().is_some_and(|a| !a.is_empty())));
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let run = finish(tool, Duration::from_secs(20));
    assert_eq!(caller_arn(run.ok()), assumed("alice"));
    assert_eq!(tray_asks(&s), serde_json::json!([]));
}

/// An ask does not take over a window the user has open (what was typed in it stays);
/// that window shows the ask in a banner that leads to the code.
#[test]
fn an_open_window_shows_the_ask_instead_of_being_replaced() {
    let s = Stack::start();
    s.files(CREDENTIALS, &process_config());
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let tray = start_tray(&s, &bus);
    // The user opens the window (a second launch), on the code.
    let mut second = s.tray_command(&bus);
    assert!(second.stdout(Stdio::null()).status().unwrap().success());
    let (window, line) = desktop::window_child(tray.0.id());
    assert!(line.ends_with("--window code "), "{line}");
    let d = Driver::start(&s, &bus, "code");
    let tool = aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).spawn().unwrap();
    let banner = wait_for(Duration::from_secs(15), "the banner", || Some(d.text("#ask-banner-text")).filter(|t| t.contains("asks for")));
    assert!(banner.starts_with("aws (pid ") && banner.contains(" asks for prod-admin."), "{banner}");
    assert_eq!(desktop::window_child(tray.0.id()).0, window, "the open window was not replaced");
    d.click("#ask-banner-go");
    d.type_into("#ask-code", &s.code(0));
    let run = finish(tool, Duration::from_secs(30));
    assert_eq!(caller_arn(run.ok()), assumed("alice"));
    assert_eq!(s.credentials(), CREDENTIALS);
}

/// A role that tools now fetch (converted by hand) is no longer refreshed into the file,
/// and the section left from before is reported: botocore would read it first.
#[test]
fn a_role_turned_on_demand_is_not_refreshed_and_its_old_section_is_reported() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin"]).ok();
    std::fs::write(s.path(".aws/config"), process_config()).unwrap();
    let before = s.credentials_bytes();
    let run = s.run(&["refresh", "--force"]);
    run.fails(2, "prod-admin is now fetched by tools with credential_process, so mfa-tray no longer refreshes [default]; delete that section");
    assert_eq!(s.credentials_bytes(), before);
    let status = s.run(&["status"]);
    assert!(status.stdout.contains("prod-admin: [default] in the credentials file still holds its credentials from before tools fetched it with credential_process"), "{status:#?}");
}

/// The socket is the user's alone: its directory is closed to others, and the tray
/// answers only peers of its own user even if the modes were opened.
#[test]
fn the_tray_answers_no_other_user() {
    if euid() != 0 {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _tray = start_tray(&s, &bus);
    let socket = s.path("run/mfa-tray/tray.sock");
    let ask = |path: &std::path::Path| {
        let script = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused:", e.strerror); sys.exit(0)
try:
    s.sendall(b'{"v":2,"op":"credentials","profile":"corp","tool":"x"}\n')
    s.settimeout(10)
    data = s.recv(65536)
except OSError:
    data = b""  # closed on it
print("answer:", data.decode() or "<none>")
"#;
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(venv().join("bin/python"))
            .args(["-c", script])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    // The directory keeps another user out.
    assert_eq!(ask(&socket).trim(), "refused: Permission denied");
    // Opened up by mistake, the socket still answers nothing to another user.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(s.path("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(s.path("run/mfa-tray"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(ask(&socket).trim(), "answer: <none>");
    // Its own user gets an answer.
    let mine = s.run(&["credential-process", "corp"]);
    process_output(&mine);
}

fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// `mfa-tray credential-process PROFILE` started in the background, as a tool runs it.
fn asking(s: &Stack, profile: &str) -> Child {
    let mut cmd = s.command();
    cmd.env("PATH", path_with_bin()).args(["credential-process", profile]).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// process_config() with corp's codes from oathtool.
fn seeded(config: &str) -> String {
    config.replace("[profile corp]\n", &format!("[profile corp]\nmfa_process = oathtool --totp -b {SECRET}\n"))
}

/// A tool with a config file of its own (a project's, a CI job's) gets that file's
/// profile, not the tray's profile of the same name; and a profile edited while the tray
/// holds its role gets the new role at once.
#[test]
fn a_tool_gets_the_profile_its_own_files_define() {
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _tray = start_tray(&s, &bus);
    // The tray's prod-admin, now in its memory.
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_eq!(caller_arn(run.ok()), assumed("alice"));

    // A project's config: the same names, prod-admin another role.
    let project = s.path("project/config");
    std::fs::create_dir_all(project.parent().unwrap()).unwrap();
    std::fs::write(&project, seeded(&process_config()).replace("role/Admin", "role/Other")).unwrap();
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).env("AWS_CONFIG_FILE", &project).output().unwrap());
    assert_eq!(caller_arn(run.ok()), "arn:aws:sts::123456789012:assumed-role/Other/alice");
    // The CLI says why it answers on its own (here, that the project has no such profile).
    let mut cmd = s.command();
    let own = Run::from(cmd.env("PATH", path_with_bin()).env("AWS_CONFIG_FILE", &project).args(["credential-process", "nope"]).output().unwrap());
    own.fails(2, &format!("there is no role or MFA session profile named nope in {}", project.display()));
    assert!(own.stderr.contains(&format!("the config file {} (the tray reads {}); answering here instead", project.display(), s.path(".aws/config").display())), "{own:#?}");

    // The tray's own file edited: prod-admin is now another role, and the tray's memory
    // of the old one is not handed out.
    std::fs::write(s.path(".aws/config"), seeded(&process_config()).replace("role/Admin", "role/Edited")).unwrap();
    let run = Run::from(aws(&s, &["sts", "get-caller-identity", "--profile", "prod-admin"]).output().unwrap());
    assert_eq!(caller_arn(run.ok()), "arn:aws:sts::123456789012:assumed-role/Edited/alice");
    assert_eq!(s.credentials(), CREDENTIALS);
}

/// Forty tools asking the tray at once all get the role: one code from mfa_process, one
/// GetSessionToken and one AssumeRole in all, nobody turned away.
#[test]
fn forty_tools_at_once_get_one_role_from_one_code() {
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _tray = start_tray(&s, &bus);
    let tools: Vec<Child> = (0..40).map(|_| asking(&s, "prod-admin")).collect();
    let keys: Vec<String> = tools.into_iter().map(|t| process_output(&finish(t, Duration::from_secs(120)))["AccessKeyId"].as_str().unwrap().to_owned()).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "one role session for all: {keys:?}");
    let log = actions(&s);
    assert_eq!(log, [("GetSessionToken".to_owned(), true), ("AssumeRole".to_owned(), false)], "one code, one AssumeRole");
    assert_eq!(s.credentials(), CREDENTIALS);
}

/// Without a tray, tools asking at once take turns at mfa_process: each sends AWS a code
/// of its own (one code twice is refused), and all succeed.
#[test]
fn with_no_tray_tools_at_once_never_send_one_code_twice() {
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let tools: Vec<Child> = (0..2).map(|_| asking(&s, "prod-admin")).collect();
    for tool in tools {
        process_output(&finish(tool, Duration::from_secs(90)));
    }
    let results: Vec<_> = s.proxy_log().iter().map(|l| (l["action"].as_str().unwrap_or("").to_owned(), l["code"].as_bool(), l["result"].as_u64())).collect();
    assert_eq!(results, [("AssumeRole".to_owned(), Some(true), Some(200)), ("AssumeRole".to_owned(), Some(true), Some(200))]);
    assert_eq!(s.credentials(), CREDENTIALS);
}

/// The CLI checks what it hands on: credentials with less than 15 minutes left (from an
/// old or broken tray) are not given to the tool; it gets fresh ones itself.
#[test]
fn credentials_with_less_than_fifteen_minutes_are_not_handed_on() {
    use std::io::{BufRead, BufReader};
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    // A "tray" that hands out credentials with 6 minutes left.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(6)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let answer = format!(r#"{{"v":2,"result":"credentials","access_key_id":"ASIASHORTLIVED000001","secret_access_key":"s","session_token":"t","expiration":"{soon}"}}"#);
    let script = "import socket, sys, os\ns = socket.socket(socket.AF_UNIX)\nos.makedirs(os.path.dirname(sys.argv[1]), mode=0o700, exist_ok=True)\ns.bind(sys.argv[1])\ns.listen()\nprint('ready', flush=True)\nwhile True:\n    c, _ = s.accept()\n    c.recv(65536)\n    c.sendall(sys.argv[2].encode() + b'\\n')\n    c.close()\n";
    let mut fake = Command::new(venv().join("bin/python")).args(["-c", script]).arg(s.path("run/mfa-tray/tray.sock")).arg(&answer).stdout(Stdio::piped()).spawn().unwrap();
    let mut ready = String::new();
    BufReader::new(fake.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let mut cmd = s.command();
    let run = Run::from(cmd.env("PATH", path_with_bin()).args(["credential-process", "prod-admin"]).output().unwrap());
    let _ = fake.kill();
    let _ = fake.wait();
    let v = process_output(&run);
    assert_ne!(v["AccessKeyId"], "ASIASHORTLIVED000001");
    assert!(run.stderr.contains("the tray's credentials for prod-admin have 5m left") || run.stderr.contains("the tray's credentials for prod-admin have 6m left"), "{run:#?}");
}

/// A tool started without XDG_RUNTIME_DIR (cron, su, an IDE) finds the tray of a desktop
/// session, whose runtime directory is /run/user/UID. (As root: it makes /run/user/0 if
/// there is none, and removes it again.)
#[test]
fn a_tool_without_xdg_runtime_dir_finds_the_tray() {
    if euid() != 0 {
        eprintln!("skipped: needs root to make /run/user/0");
        return;
    }
    /// /run/user/0, removed again when dropped if this test made it.
    struct RunDir(bool);
    impl Drop for RunDir {
        fn drop(&mut self) {
            if self.0 {
                let _ = std::fs::remove_dir_all("/run/user/0");
            }
        }
    }
    let run_dir = std::path::Path::new("/run/user/0");
    if run_dir.join("mfa-tray/tray.sock").exists() {
        eprintln!("skipped: a tray already runs in /run/user/0");
        return;
    }
    let _made = RunDir(!run_dir.exists());
    if _made.0 {
        std::fs::create_dir_all(run_dir).unwrap();
        std::fs::set_permissions(run_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    }
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let mut cmd = s.tray_command(&bus);
    cmd.env("PATH", path_with_bin()).env("XDG_RUNTIME_DIR", run_dir).stdout(Stdio::null());
    let tray = Tray(cmd.spawn().unwrap());
    wait_for(Duration::from_secs(30), "the tray's socket", || run_dir.join("mfa-tray/tray.sock").exists().then_some(()));
    let mut status = s.command();
    let status = Run::from(status.env_remove("XDG_RUNTIME_DIR").arg("status").output().unwrap());
    let mut tool = s.command();
    let tool = Run::from(tool.env_remove("XDG_RUNTIME_DIR").env("PATH", path_with_bin()).args(["credential-process", "prod-admin"]).output().unwrap());
    drop(tray);
    assert!(status.stdout.contains("\nTray: running (mfa-tray "), "{status:#?}");
    process_output(&tool);
    // The tray took the code (one GetSessionToken, kept in its memory).
    assert_eq!(actions(&s)[0], ("GetSessionToken".to_owned(), true));
}

/// Tools asking at once behind a failing STS fail together with its answer: one
/// AssumeRole (and the SDK's retries) for all of them, not one after another.
#[test]
fn tools_waiting_on_one_failing_call_share_its_failure() {
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(&process_config()));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _tray = start_tray(&s, &bus);
    s.fault(serde_json::json!({"action": "AssumeRole", "kind": "status", "status": 500}));
    let tools: Vec<Child> = (0..10).map(|_| asking(&s, "prod-admin")).collect();
    for tool in tools {
        let run = finish(tool, Duration::from_secs(120));
        assert_eq!(run.code, 5, "{run:#?}");
        assert!(run.stderr.contains("assuming prod-admin"), "{run:#?}");
    }
    let attempts = actions(&s).iter().filter(|(a, _)| a == "AssumeRole").count();
    // One call is the SDK's three attempts; a tool that started late may make a second.
    assert!((3..=6).contains(&attempts), "{attempts} AssumeRole attempts for 10 tools");
}

/// `mfa-tray exec PROFILE -- CMD` with the sandbox, a stale AWS_PROFILE and stale keys
/// in the environment (which exec must take away).
fn exec(s: &Stack, extra: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = s.command();
    cmd.env("PATH", path_with_bin()).env("AWS_PROFILE", "corp").env("AWS_ACCESS_KEY_ID", "AKIASTALE00000000000").env("AWS_SECRET_ACCESS_KEY", "stale");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.arg("exec").args(args).output().unwrap()
}

/// `exec` runs a command with a role's credentials in its environment, and nothing is
/// written: the AWS CLI and boto3 through it, the variables that would pick other
/// credentials removed, the command's exit status and signals its own, a command that
/// is not found exits 127, and exec inside exec is refused unless asked for.
#[test]
fn exec_runs_a_command_as_the_role_and_writes_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let s = Stack::start();
    // prod-admin is fetched on demand (never in the file); corp is an MFA session.
    s.files(CREDENTIALS, &process_config());
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let before = s.credentials_bytes();
    let aws_bin = venv().join("bin/aws");
    let cli = Run::from(exec(&s, &[], &["prod-admin", "--", aws_bin.to_str().unwrap(), "sts", "get-caller-identity"]));
    assert_eq!(caller_arn(cli.ok()), assumed("alice"));
    let python = venv().join("bin/python");
    let py = Run::from(exec(&s, &[], &["prod-admin", "--", python.to_str().unwrap(), "-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"]));
    assert_eq!(py.ok().stdout.trim(), assumed("alice"));
    let session = Run::from(exec(&s, &[], &["corp", "--", aws_bin.to_str().unwrap(), "sts", "get-caller-identity"]));
    assert!(caller_arn(session.ok()).contains(":123456789012:"), "{session:#?}");
    let env = "echo \"${AWS_PROFILE-none} $AWS_REGION $AWS_DEFAULT_REGION $MFA_TRAY_EXEC\"; test \"$AWS_ACCESS_KEY_ID\" != AKIASTALE00000000000 && test -n \"$AWS_SESSION_TOKEN\" && test -n \"$AWS_CREDENTIAL_EXPIRATION\" && echo fresh";
    let run = Run::from(exec(&s, &[], &["prod-admin", "--region", "eu-central-1", "--", "sh", "-c", env]));
    assert_eq!(run.ok().stdout, "none eu-central-1 eu-central-1 prod-admin\nfresh\n");
    // Through the MFA session in [corp]: no code was sent.
    assert!(actions(&s).iter().all(|(a, code)| a == "GetSessionToken" || !code), "{:?}", actions(&s));
    // The command's exit status, and its death by a signal, are exec's.
    assert_eq!(exec(&s, &[], &["prod-admin", "--", "sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(exec(&s, &[], &["prod-admin", "--", "sh", "-c", "kill -TERM $$"]).status.signal(), Some(15));
    Run::from(exec(&s, &[], &["prod-admin", "--", "no-such-command-here"])).fails(127, "cannot run no-such-command-here: no such command");
    // Inside another exec: refused, unless asked for.
    Run::from(exec(&s, &[("MFA_TRAY_EXEC", "prod-admin")], &["prod-admin", "--", "true"])).fails(2, "already runs inside `mfa-tray exec prod-admin`");
    Run::from(exec(&s, &[("MFA_TRAY_EXEC", "prod-admin")], &["prod-admin", "--nested", "--", "true"])).ok();
    // An unknown profile: refused before anything runs.
    Run::from(exec(&s, &[], &["nope", "--", "sh", "-c", "echo ran"])).fails(2, "there is no role or MFA session profile named nope");
    assert_eq!(s.credentials_bytes(), before, "nothing written");
}

/// `export` prints what shells and tools read: a POSIX shell evals `env` and the AWS CLI
/// runs as the role; botocore reads `json` as a credential_process and `ini` as a
/// credentials file; PowerShell's and cmd's lines have their shapes. Nothing is written.
#[test]
fn export_prints_what_shells_and_tools_read() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let before = s.credentials_bytes();
    let script = format!("eval \"$({BIN} export prod-admin)\" && unset AWS_PROFILE && '{}' sts get-caller-identity", venv().join("bin/aws").display());
    let mut sh = Command::new("sh");
    sh.args(["-c", &script]);
    s.sandbox(&mut sh);
    let run = Run::from(sh.env("AWS_DEFAULT_REGION", "eu-west-1").env("AWS_PROFILE", "corp").output().unwrap());
    assert_eq!(caller_arn(run.ok()), assumed("alice"));

    let config = format!("{CONFIG}\n[profile via-json]\ncredential_process = {BIN} export prod-admin --format json\n");
    std::fs::write(s.path(".aws/config"), config).unwrap();
    assert_eq!(boto3(&s, "via-json").ok().stdout.trim(), assumed("alice"));
    std::fs::write(s.path(".aws/config"), CONFIG).unwrap();

    let ini = s.run(&["export", "prod-admin", "--format", "ini"]);
    assert!(ini.ok().stdout.starts_with("[prod-admin]\naws_access_key_id = "), "{ini:#?}");
    std::fs::write(s.path("exported"), &ini.stdout).unwrap();
    std::fs::write(s.path("empty-config"), "").unwrap();
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.args(["-c", "import boto3; print(boto3.Session(profile_name='prod-admin').client('sts').get_caller_identity()['Arn'])"]);
    s.sandbox(&mut cmd);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", s.path("exported")).env("AWS_CONFIG_FILE", s.path("empty-config")).env("AWS_DEFAULT_REGION", "eu-west-1");
    assert_eq!(Run::from(cmd.output().unwrap()).ok().stdout.trim(), assumed("alice"));

    for (format, shape) in [("powershell", "$Env:AWS_"), ("cmd", "set AWS_")] {
        let run = s.run(&["export", "prod-admin", "--format", format]);
        let lines: Vec<&str> = run.ok().stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{run:#?}");
        assert!(lines.iter().all(|l| l.starts_with(shape)), "{run:#?}");
    }
    s.run(&["export", "nope"]).fails(2, "there is no role or MFA session profile named nope");
    assert_eq!(s.credentials_bytes(), before, "nothing written");
}

/// `exec --server`: the command gets no secret but an endpoint and its token; the AWS CLI
/// and boto3 take credentials from it; it refuses a missing or wrong token (401, 403)
/// with nothing else; a job that outlives its first role credentials (here 16 minutes
/// long, so within a minute they have less than the 15 an answer must have) gets the
/// next ones from it with no second code; and it closes with the command.
#[test]
fn exec_server_hands_a_long_job_fresh_credentials_and_closes_with_it() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    let before = s.credentials_bytes();
    let aws_bin = venv().join("bin/aws");
    let cli = Run::from(exec(&s, &[], &["prod-admin", "--server", "--", aws_bin.to_str().unwrap(), "sts", "get-caller-identity"]));
    assert_eq!(caller_arn(cli.ok()), assumed("alice"));

    s.fault(serde_json::json!({"action": "AssumeRole", "kind": "expires_in", "seconds": 960, "times": 1}));
    let job = r#"
import json, os, sys, time, urllib.request, urllib.error, boto3
uri, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
assert "AWS_SECRET_ACCESS_KEY" not in os.environ and "AWS_PROFILE" not in os.environ
def status(headers, url=uri):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
print("uri", uri)
print("none", status({})[0], "wrong", status({"Authorization": token[:-1] + "x"})[0], "wrong-body", repr(status({"Authorization": "x"})[1]))
code, first = status({"Authorization": token})
print("right", code, sorted(first))
sts = boto3.client("sts")
print("arn", sts.get_caller_identity()["Arn"])
time.sleep(75)
code, later = status({"Authorization": token})
print("later", code, later["AccessKeyId"] != first["AccessKeyId"], later["Expiration"] > first["Expiration"])
print("arn", sts.get_caller_identity()["Arn"])
"#;
    let python = venv().join("bin/python");
    let run = Run::from(exec(&s, &[], &["prod-admin", "--server", "--", python.to_str().unwrap(), "-c", job]));
    let out = &run.ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "none 401 wrong 403 wrong-body '{}'", "{run:#?}");
    assert_eq!(lines[2], "right 200 ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token']", "{run:#?}");
    assert_eq!(lines[3], format!("arn {}", assumed("alice")));
    assert_eq!(lines[4], "later 200 True True", "fresh credentials after the first ran low: {run:#?}");
    assert_eq!(lines[5], format!("arn {}", assumed("alice")));
    // One code in all (the login's); the role was assumed anew without one.
    let codes = actions(&s).iter().filter(|(_, code)| *code).count();
    assert_eq!(codes, 1, "{:?}", actions(&s));
    // The endpoint went with the command.
    let port: u16 = lines[0].rsplit(':').next().unwrap().split('/').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the endpoint outlived the command");
    // The exit status is the command's.
    assert_eq!(exec(&s, &[], &["prod-admin", "--server", "--", "sh", "-c", "exit 9"]).status.code(), Some(9));
    assert_eq!(exec(&s, &[], &["prod-admin", "--server", "--", "sh", "-c", "kill -TERM $$"]).status.code(), Some(143));
    Run::from(exec(&s, &[], &["prod-admin", "--server", "--", "no-such-command-here"])).fails(127, "cannot run no-such-command-here");
    assert_eq!(s.credentials_bytes(), before, "nothing written");
}

/// With the tray running, `exec`, `exec --server` and `export` are answered by it, as
/// tools are: one code (here from mfa_process) and one AssumeRole serve all three, and
/// nothing is written.
#[test]
fn exec_and_export_are_answered_by_the_tray() {
    let s = Stack::start();
    s.files(CREDENTIALS, &seeded(CONFIG));
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let _tray = start_tray(&s, &bus);
    let aws_bin = venv().join("bin/aws");
    for server in [false, true] {
        let mut args = vec!["prod-admin"];
        if server {
            args.push("--server");
        }
        args.extend(["--", aws_bin.to_str().unwrap(), "sts", "get-caller-identity"]);
        let run = Run::from(exec(&s, &[], &args));
        assert_eq!(caller_arn(run.ok()), assumed("alice"));
    }
    let mut cmd = s.command();
    let run = Run::from(cmd.env("PATH", path_with_bin()).args(["export", "prod-admin", "--format", "json"]).output().unwrap());
    process_output(&run);
    let sts: Vec<_> = actions(&s).into_iter().filter(|(a, _)| a != "GetCallerIdentity").collect();
    assert_eq!(sts, [("GetSessionToken".to_owned(), true), ("AssumeRole".to_owned(), false)], "one code, one AssumeRole, in the tray");
    assert_eq!(s.credentials(), CREDENTIALS);
}
