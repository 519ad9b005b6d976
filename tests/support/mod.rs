//! A sandbox for running the real `mfa-tray` binary against real parts: a moto server
//! (STS, IAM, S3) behind the MFA-checking proxy (`mfa_proxy.py`), a throwaway HOME, and
//! TOTP codes computed here with totp-rs from the proxy's device secret.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SERIAL: &str = "arn:aws:iam::123456789012:mfa/alice";
pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/Admin";
pub const SHORT_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/Short";

/// The user's files before mfa-tray touches them: comments, a CRLF-free mix of styles,
/// an unrelated profile, long-term keys. Tests compare bytes against these.
pub const CREDENTIALS: &str = "\
# My AWS keys. Hand-written; please keep this comment.
[corp-long-term]
aws_access_key_id = AKIAALICEEXAMPLE0001
aws_secret_access_key = alice/long/term/secret

; an unrelated profile
[personal]
aws_access_key_id=AKIAPERSONAL00000001
aws_secret_access_key=personal-secret
";

pub const CONFIG: &str = "\
[default]
region = eu-west-1

[profile corp]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
region = eu-west-1

[profile prod-admin]
role_arn = arn:aws:iam::123456789012:role/Admin
source_profile = corp
role_session_name = alice

[profile short]
role_arn = arn:aws:iam::123456789012:role/Short
source_profile = corp
";

pub mod desktop;
pub mod readme;
pub mod webdriver;
pub mod windows;

pub struct Stack {
    /// Variables every sandboxed command gets besides the sandbox's own (a test's bus).
    pub env: std::sync::Mutex<Vec<(String, String)>>,
    moto: Child,
    proxy: Child,
    pub moto_url: String,
    pub url: String,
    pub home: tempfile::TempDir,
    pub log: PathBuf,
}

#[derive(Default)]
pub struct Opts {
    /// moto's INITIAL_NO_AUTH_ACTION_COUNT: signature and policy checks after N calls.
    pub auth_after: Option<u32>,
}

pub fn venv() -> PathBuf {
    match std::env::var_os("MFA_TRAY_VENV") {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    }
}

/// The URL moto_server says it runs on (" * Running on http://127.0.0.1:PORT" on its
/// stderr); the rest of its stderr (a line per request) is read and dropped.
fn moto_listening(moto: &mut Child) -> String {
    let mut lines = BufReader::new(moto.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split_once("Running on ").map(|(_, url)| url.trim().to_owned()))
        .expect("moto_server names the port it runs on");
    std::thread::spawn(move || lines.for_each(drop));
    url
}

fn wait_ready(url: &str, what: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok((200, _)) = http(url, "GET", "/moto-api/", &[], b"") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} at {url} did not become ready in 30s");
}

impl Stack {
    pub fn start() -> Stack {
        Stack::start_with(Opts::default())
    }

    pub fn start_with(opts: Opts) -> Stack {
        let venv = venv();
        let moto_bin = venv.join("bin/moto_server");
        assert!(moto_bin.exists(), "{} is missing: run scripts/test, which creates the venv with moto", moto_bin.display());
        // Port 0: moto binds a free port itself and names it (a port picked here and
        // bound later by moto could be picked by a test running beside this one too).
        let mut moto = Command::new(&moto_bin);
        moto.args(["-H", "127.0.0.1", "-p", "0"]).stdout(Stdio::null()).stderr(Stdio::piped());
        if let Some(n) = opts.auth_after {
            moto.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let mut moto = moto.spawn().expect("start moto_server");
        let moto_url = moto_listening(&mut moto);

        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("proxy.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mfa_proxy.py");
        let mut proxy = Command::new(venv.join("bin/python"))
            .arg(script)
            .args(["--upstream", &moto_url, "--device", &format!("{SERIAL}={SECRET}")])
            .args(["--role-max", &format!("{SHORT_ROLE_ARN}=3600")])
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mfa_proxy.py");
        let mut first = String::new();
        BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let url = format!("http://127.0.0.1:{}", first.trim());
        let stack = Stack { env: Default::default(), moto, proxy, moto_url, url, home, log };
        wait_ready(&stack.moto_url, "moto");
        stack
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// Writes the user's AWS files.
    pub fn files(&self, credentials: &str, config: &str) {
        std::fs::create_dir_all(self.path(".aws")).unwrap();
        std::fs::write(self.path(".aws/credentials"), credentials).unwrap();
        std::fs::write(self.path(".aws/config"), config).unwrap();
    }

    pub fn credentials(&self) -> String {
        std::fs::read_to_string(self.path(".aws/credentials")).unwrap()
    }

    /// A sandbox path as mfa-tray prints it (on Windows, `Z:\...` under Wine).
    pub fn shown(&self, rel: &str) -> String {
        match windows::windows_build() {
            true => windows::windows_path(&self.path(rel)),
            false => self.path(rel).display().to_string(),
        }
    }

    /// The credentials file's bytes, empty if there is none.
    pub fn credentials_bytes_or_empty(&self) -> Vec<u8> {
        std::fs::read(self.path(".aws/credentials")).unwrap_or_default()
    }

    pub fn credentials_bytes(&self) -> Vec<u8> {
        std::fs::read(self.path(".aws/credentials")).unwrap()
    }

    /// The TOTP code for now plus `steps` 30-second steps.
    pub fn code(&self, steps: i64) -> String {
        let secret = totp_rs::Secret::Encoded(SECRET.to_owned()).to_bytes().unwrap();
        let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, secret);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        totp.generate((now + steps * 30) as u64)
    }

    /// A command running the real binary in the sandbox, with no AWS settings from outside.
    /// With `MFA_TRAY_TEST_EXE`, that binary instead (the Windows build, say), run by
    /// `MFA_TRAY_TEST_RUNNER` (Wine): `scripts/test-windows`.
    pub fn command(&self) -> Command {
        let mut cmd = match std::env::var_os("MFA_TRAY_TEST_EXE") {
            Some(exe) => {
                let mut cmd = windows::wine();
                cmd.arg(exe);
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_mfa-tray")),
        };
        self.sandbox(&mut cmd);
        cmd
    }

    /// Gives a command the sandbox's environment.
    pub fn sandbox(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&k);
            }
        }
        let run = self.path("run");
        if !run.exists() {
            std::fs::create_dir(&run).unwrap();
            std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        }
        if windows::windows_build() {
            // Wine sets HOME and USERPROFILE itself (to the prefix's user): a Windows
            // build under Wine is pointed at the sandbox's files by the AWS variables,
            // with the Linux paths on Wine's drive Z:.
            let windows = |rel: &str| windows::windows_path(&self.path(rel));
            cmd.env("AWS_CONFIG_FILE", windows(".aws/config")).env("AWS_SHARED_CREDENTIALS_FILE", windows(".aws/credentials"));
        }
        cmd.env("HOME", self.home.path())
            // No session bus (so no keychain) unless a test starts one (`keyring`).
            .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", self.path("run/no-bus").display()))
            .env("MFA_TRAY_CONFIG_DIR", self.path("mfa-tray-config"))
            .env("XDG_RUNTIME_DIR", run)
            .env("AWS_ENDPOINT_URL", &self.url)
            .stdin(Stdio::null());
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
    }

    /// Runs mfa-tray on a pseudo-terminal, typing the next line of `answers` at each
    /// prompt (output ending in ": "); returns its exit code and what the terminal showed
    /// (typed answers echoed, as on a screen).
    pub fn on_a_terminal(&self, args: &[&str], answers: &str) -> (i32, String) {
        let script = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
answers = sys.stdin.read().splitlines()
try:
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
        if out.endswith(b": ") and answers:
            # As a person types: after the prompt has settled (a password prompt turns
            # echo off only once it has printed).
            time.sleep(0.3)
            os.write(fd, (answers.pop(0) + "\n").encode())
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
sys.exit(os.waitstatus_to_exitcode(status))
"#;
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.args(["-c", script, env!("CARGO_BIN_EXE_mfa-tray")]).args(args);
        self.sandbox(&mut cmd);
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(answers.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).replace('\r', ""))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("run mfa-tray"))
    }

    /// Injects a fault into the proxy (see mfa_proxy.py's doc for the kinds).
    pub fn fault(&self, fault: serde_json::Value) {
        let body = fault.to_string();
        let (status, text) = http(&self.url, "POST", "/_proxy/fault", &[("Content-Type", "application/json")], body.as_bytes()).unwrap();
        assert_eq!(status, 200, "{text}");
    }

    /// Proxy log entries: one per STS action seen.
    pub fn proxy_log(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(_) => vec![],
        }
    }

    /// An AWS query-protocol call straight to moto, unsigned (before auth kicks in).
    pub fn aws_query(&self, service: &str, params: &[(&str, &str)]) -> String {
        let body: String = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0");
        let (status, text) = http(
            &self.moto_url,
            "POST",
            "/",
            &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &auth)],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 200, "{service} {params:?}: {text}");
        text
    }

    /// A real Secret Service for the sandbox: GNOME Keyring on a private session bus,
    /// its login keyring created and unlocked, in the sandbox's HOME. Every sandboxed
    /// command talks to it from now on.
    pub fn keyring(&self) -> Keyring {
        let bus = desktop::Bus::start();
        let run = self.path("run");
        self.env.lock().unwrap().push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()));
        let daemon = start_keyring_daemon(self.home.path(), &run, &bus, true);
        let keyring = Keyring { daemon, bus, home: self.home.path().to_owned(), run };
        // Ready once it stores an item.
        let start = Instant::now();
        while !keyring.secret_tool_with(&["store", "--label=probe", "service", "mfa-tray-probe"], b"ready").status.success() {
            assert!(start.elapsed() < Duration::from_secs(20), "gnome-keyring-daemon did not answer in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        keyring
    }

    /// An IAM call straight to moto (see `aws_query`).
    pub fn iam(&self, params: &[(&str, &str)]) -> String {
        let mut p = params.to_vec();
        p.push(("Version", "2010-05-08"));
        self.aws_query("iam", &p)
    }

    /// The tray app, started as a desktop session would: on `bus`, under the display
    /// scripts/test provides.
    pub fn tray_command(&self, bus: &desktop::Bus) -> Command {
        assert!(std::env::var_os("DISPLAY").is_some(), "no DISPLAY: run the tests with scripts/test (it starts Xvfb)");
        let mut cmd = self.command();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &bus.address).env("NO_AT_BRIDGE", "1").env("GDK_BACKEND", "x11");
        cmd
    }

    pub fn create_bucket(&self, name: &str) {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
        let (status, text) = http(&self.moto_url, "PUT", &format!("/{name}"), &[("Authorization", auth)], b"").unwrap();
        assert_eq!(status, 200, "create bucket: {text}");
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.moto.kill();
        let _ = self.proxy.wait();
        let _ = self.moto.wait();
    }
}

/// Starts gnome-keyring-daemon on `bus` and waits until it owns the Secret Service name
/// (asking before that would make the bus start a second daemon by activation). With
/// `unlock` it creates or unlocks the login keyring with a password; without, the
/// keyring stays locked, as after a login that did not unlock it.
fn start_keyring_daemon(home: &Path, run: &Path, bus: &desktop::Bus, unlock: bool) -> Child {
    let mut cmd = Command::new("gnome-keyring-daemon");
    cmd.args(["--foreground", "--components=secrets"]);
    if unlock {
        cmd.arg("--unlock");
    }
    let mut daemon = cmd
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", run)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gnome-keyring-daemon (package gnome-keyring)");
    let stdin = daemon.stdin.take().unwrap();
    if unlock {
        let mut stdin = stdin;
        stdin.write_all(b"test-login-password").unwrap();
    }
    let start = Instant::now();
    let dbus = zbus::blocking::fdo::DBusProxy::new(&bus.connect()).unwrap();
    while !dbus.name_has_owner("org.freedesktop.secrets".try_into().unwrap()).unwrap() {
        assert!(start.elapsed() < Duration::from_secs(20), "gnome-keyring-daemon did not take org.freedesktop.secrets in 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

/// GNOME Keyring on a private bus; killed with its bus when dropped.
pub struct Keyring {
    daemon: Child,
    pub bus: desktop::Bus,
    home: PathBuf,
    run: PathBuf,
}

impl Keyring {
    /// Runs `secret-tool` (package libsecret-tools) against this keyring.
    pub fn secret_tool(&self, args: &[&str]) -> Output {
        self.secret_tool_with(args, b"")
    }

    /// Runs `secret-tool` with `input` on its standard input.
    pub fn secret_tool_with(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new("secret-tool")
            .args(args)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.run)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run secret-tool (package libsecret-tools)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Restarts the daemon without unlocking: the login keyring is then locked, and
    /// reading it needs a password prompt that a headless session cannot show.
    pub fn restart_locked(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let dbus = zbus::blocking::fdo::DBusProxy::new(&self.bus.connect()).unwrap();
        let start = Instant::now();
        while dbus.name_has_owner("org.freedesktop.secrets".try_into().unwrap()).unwrap() {
            assert!(start.elapsed() < Duration::from_secs(10), "the old daemon kept its name");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.daemon = start_keyring_daemon(&self.home, &self.run, &self.bus, false);
    }

    /// What the keychain holds for an mfa-tray account, as `secret-tool lookup` prints it.
    pub fn lookup(&self, account: &str) -> Option<String> {
        let out = self.secret_tool(&["lookup", "service", "mfa-tray", "username", account]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A minimal HTTP/1.1 request. The body is read by its Content-Length (or chunks), not
/// to the end of the connection: no `Connection: close`, because tauri-driver forwards
/// that header to WebKitWebDriver and then reuses the closed upstream connection.
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<(u16, String)> {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
    let mut bytes = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            bytes.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = length {
        bytes.resize(n, 0);
        reader.read_exact(&mut bytes)?;
    } else {
        reader.read_to_end(&mut bytes)?;
    }
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\n{self:#?}");
        self
    }
    #[track_caller]
    pub fn fails(&self, code: i32, stderr_has: &str) -> &Self {
        assert_eq!(self.code, code, "wrong exit code\n{self:#?}");
        assert!(self.stderr.contains(stderr_has), "stderr lacks {stderr_has:?}\n{self:#?}");
        self
    }
}

/// The text of the first `<tag>` element of an AWS XML answer.
pub fn xml_value(xml: &str, tag: &str) -> String {
    let start = xml.find(&format!("<{tag}>")).unwrap_or_else(|| panic!("no {tag} in {xml}")) + tag.len() + 2;
    xml[start..start + xml[start..].find('<').unwrap()].to_owned()
}

/// The section `[name]` of an INI text, as its lines (up to the next header).
pub fn section(text: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    lines.next().expect("section present");
    lines.take_while(|l| !l.trim_start().starts_with('[')).filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

pub fn value(text: &str, sect: &str, key: &str) -> Option<String> {
    section(text, sect).iter().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}
