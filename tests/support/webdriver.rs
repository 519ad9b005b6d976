//! The real window, driven through WebDriver (tauri-driver → WebKitWebDriver) under
//! Xvfb, as tests/window.rs and tests/settings.rs use it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::desktop::{wait_for, Bus};
use super::{http, Stack};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
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

pub fn call(url: &str, method: &str, path: &str, body: Value) -> Value {
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
    /// Starts tauri-driver and, through it, the window process on `view`, as the tray
    /// starts it: `mfa-tray-window --window VIEW`.
    pub fn start(stack: &Stack, bus: &Bus, view: &str) -> Driver {
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
        let app = json!({ "application": env!("CARGO_BIN_EXE_mfa-tray-window"), "args": ["--window", view] });
        let caps = json!({ "capabilities": { "alwaysMatch": { "tauri:options": app } } });
        let session = call(&url, "POST", "/session", caps)["sessionId"].as_str().expect("a session").to_owned();
        Driver { child, url, session }
    }

    pub fn find(&self, css: &str) -> String {
        let path = format!("/session/{}/element", self.session);
        wait_for(Duration::from_secs(15), css, || {
            let body = json!({ "using": "css selector", "value": css }).to_string();
            let (status, text) = http(&self.url, "POST", &path, &[("Content-Type", "application/json")], body.as_bytes()).ok()?;
            (status == 200).then(|| serde_json::from_str::<Value>(&text).ok())??["value"][ELEMENT].as_str().map(str::to_owned)
        })
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        call(&self.url, "POST", &format!("/session/{}/element/{id}/value", self.session), json!({ "text": text }));
    }

    /// The element's visible text, once it is non-empty.
    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        let path = format!("/session/{}/element/{id}/text", self.session);
        wait_for(Duration::from_secs(20), &format!("text in {css}"), || {
            call(&self.url, "GET", &path, Value::Null).as_str().filter(|t| !t.is_empty()).map(str::to_owned)
        })
    }

    pub fn script(&self, js: &str) -> Value {
        call(&self.url, "POST", &format!("/session/{}/execute/sync", self.session), json!({ "script": js, "args": [] }))
    }
}


impl Driver {
    /// Clicks an element.
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        call(&self.url, "POST", &format!("/session/{}/element/{id}/click", self.session), json!({}));
    }

    /// Clicks an element whose click closes the window, and waits for the window to go.
    /// WebKit answers the click before or after the window has gone, so its answer is
    /// not looked at: the window going (WebDriver no longer finds it) is what is checked.
    pub fn click_closing(&self, css: &str) {
        let id = self.find(css);
        let path = format!("/session/{}/element/{id}/click", self.session);
        let answer = http(&self.url, "POST", &path, &[("Content-Type", "application/json")], b"{}");
        let window = format!("/session/{}/window", self.session);
        wait_for(Duration::from_secs(10), &format!("the window to close after clicking {css} ({answer:?})"), || {
            http(&self.url, "GET", &window, &[], b"").ok().filter(|(status, _)| *status >= 400).map(drop)
        });
    }

    /// The window as a PNG (WebDriver's screenshot, base64 in JSON).
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = call(&self.url, "GET", &format!("/session/{}/screenshot", self.session), Value::Null);
        let text = b64.as_str().expect("a base64 screenshot").as_bytes();
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let digits: Vec<u8> = text.iter().copied().filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/').map(value).collect();
        digits.chunks(4).flat_map(|q| {
            let n = q.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
            [(n >> 16) as u8, (n >> 8) as u8, n as u8].into_iter().take(q.len() - 1)
        }).collect()
    }

    /// For the README: with `MFA_TRAY_SCREENSHOTS=DIR`, the window as it is now, as
    /// `DIR/NAME` (after a moment for WebKit to paint what the test saw).
    pub fn save_screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("MFA_TRAY_SCREENSHOTS") {
            std::thread::sleep(Duration::from_millis(500));
            std::fs::write(std::path::Path::new(&dir).join(name), self.screenshot()).unwrap();
        }
    }

    /// Runs an async script (the last argument is its callback) and returns its result.
    pub fn script_async(&self, js: &str) -> Value {
        call(&self.url, "POST", &format!("/session/{}/execute/async", self.session), json!({ "script": js, "args": [] }))
    }
}
