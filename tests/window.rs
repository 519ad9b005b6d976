//! The real window, driven through WebDriver (tauri-driver → WebKitWebDriver) under
//! Xvfb: type a code, see the result, find the credentials file written; type a wrong
//! code, see the message, find the file unchanged.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::desktop::{wait_for, Bus};
use support::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    url: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http(&self.url, "DELETE", &format!("/session/{}", self.session), &[], b"");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(url: &str, method: &str, path: &str, body: Value) -> Value {
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let (status, text) = http(url, method, path, &[("Content-Type", "application/json")], &bytes).expect("webdriver reachable");
    assert!((200..300).contains(&status), "{method} {path}: HTTP {status}: {text}");
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
    json["value"].clone()
}

fn tauri_driver() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let candidates = [home.join(".cargo/bin/tauri-driver"), PathBuf::from("/usr/local/bin/tauri-driver")];
    candidates.into_iter().find(|p| p.exists()).expect("tauri-driver is missing: run scripts/test (it installs it)")
}

impl Driver {
    /// Starts tauri-driver and, through it, the window on the code view.
    fn start(stack: &Stack, bus: &Bus) -> Driver {
        assert!(std::env::var_os("DISPLAY").is_some(), "no DISPLAY: run the tests with scripts/test (it starts Xvfb)");
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, native) = (free(), free());
        let mut cmd = Command::new(tauri_driver());
        stack.sandbox(&mut cmd);
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("NO_AT_BRIDGE", "1")
            .env("GDK_BACKEND", "x11")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start tauri-driver");
        let url = format!("http://127.0.0.1:{port}");
        wait_for(Duration::from_secs(20), "tauri-driver", || http(&url, "GET", "/status", &[], b"").ok().filter(|(s, _)| *s == 200));
        // The window process, as the tray starts it: `mfa-tray-app --window code`.
        let app = json!({ "application": env!("CARGO_BIN_EXE_mfa-tray-app"), "args": ["--window", "code"] });
        let caps = json!({ "capabilities": { "alwaysMatch": { "tauri:options": app } } });
        let session = call(&url, "POST", "/session", caps)["sessionId"].as_str().expect("a session").to_owned();
        Driver { child, url, session }
    }

    fn find(&self, css: &str) -> String {
        let path = format!("/session/{}/element", self.session);
        wait_for(Duration::from_secs(15), css, || {
            let body = json!({ "using": "css selector", "value": css }).to_string();
            let (status, text) = http(&self.url, "POST", &path, &[("Content-Type", "application/json")], body.as_bytes()).ok()?;
            (status == 200).then(|| serde_json::from_str::<Value>(&text).ok())??["value"][ELEMENT].as_str().map(str::to_owned)
        })
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        call(&self.url, "POST", &format!("/session/{}/element/{id}/value", self.session), json!({ "text": text }));
    }

    /// The element's visible text, once it is non-empty.
    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        let path = format!("/session/{}/element/{id}/text", self.session);
        wait_for(Duration::from_secs(20), &format!("text in {css}"), || {
            call(&self.url, "GET", &path, Value::Null).as_str().filter(|t| !t.is_empty()).map(str::to_owned)
        })
    }

    fn script(&self, js: &str) -> Value {
        call(&self.url, "POST", &format!("/session/{}/execute/sync", self.session), json!({ "script": js, "args": [] }))
    }
}

#[test]
fn typing_a_code_logs_in_and_a_wrong_code_changes_nothing() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let bus = Bus::start();
    let d = Driver::start(&s, &bus);

    // The chooser offers the session and the roles; the session is preselected.
    let chosen = wait_for(Duration::from_secs(15), "the chooser to fill", || {
        d.script("return document.getElementById('profile').value").as_str().filter(|v| !v.is_empty()).map(str::to_owned)
    });
    assert_eq!(chosen, "session:corp");
    let expected = json!(["session:corp", "role:prod-admin", "role:short"]);
    let script = "return [...document.querySelectorAll('#profile option')].map(o => o.value)";
    let options = wait_for(Duration::from_secs(10), "the chooser's options", || {
        let got = d.script(script);
        (got == expected).then_some(got)
    });
    assert_eq!(options, expected);

    // A wrong code: the message, and not a byte changed.
    d.type_into("#code", &s.code(10));
    let error = d.text("#error");
    assert!(error.starts_with("That code did not work. AWS rejected the MFA code while logging in corp"), "{error}");
    assert_eq!(s.credentials(), CREDENTIALS);

    // Pasted with a space, it submits by itself on the sixth digit.
    let code = s.code(0);
    d.type_into("#code", &format!("{} {}", &code[..3], &code[3..]));
    let title = d.text("#result-title");
    assert!(title.starts_with("corp valid until "), "{title}");
    let countdown = d.text("#countdown");
    assert!(countdown.starts_with("11:59:") || countdown.starts_with("12:00:"), "{countdown}");
    let added = wait_for(Duration::from_secs(10), "[corp] in the file", || {
        let now = s.credentials();
        now.contains("\n[corp]\n").then_some(now)
    });
    assert!(added.starts_with(CREDENTIALS));
    assert_eq!(value(&added, "corp", "mfa_tray_holds").as_deref(), Some("mfa-session corp"));
    // The page never saw a secret.
    let page = d.script("return document.documentElement.outerHTML");
    let page = page.as_str().unwrap_or_else(|| panic!("no page HTML: {page}")).to_owned();
    assert!(page.contains("id=\"result-title\""), "not the page: {page}");
    let secret = value(&added, "corp", "aws_secret_access_key").unwrap();
    assert!(!page.contains(&secret) && !page.contains("aws_session_token"), "secret in the page");
}
