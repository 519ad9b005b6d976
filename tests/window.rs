//! The real window, driven through WebDriver (tauri-driver → WebKitWebDriver) under
//! Xvfb: type a code, see the result, find the credentials file written; type a wrong
//! code, see the message, find the file unchanged. STS answers carrying secrets reach
//! the window's IPC replies only as plain words.

mod support;

use std::time::Duration;

use serde_json::json;
use support::desktop::{wait_for, Bus};
use support::webdriver::Driver;
use support::*;

#[test]
fn typing_a_code_logs_in_and_a_wrong_code_changes_nothing() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let bus = Bus::start();
    let d = Driver::start(&s, &bus, "code");

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

/// Calls one of the window's commands as its page does and returns the reply (or the
/// error) as JSON text: what the webview receives.
fn invoke(d: &Driver, command: &str, args: serde_json::Value) -> String {
    let js = format!(
        "const done = arguments[arguments.length - 1]; \
         window.__TAURI__.core.invoke({command:?}, {args}).then(r => done(JSON.stringify({{ ok: r }})), e => done(JSON.stringify({{ err: e }})));"
    );
    let reply = d.script_async(&js);
    reply.as_str().unwrap_or_else(|| panic!("no reply to {command}: {reply}")).to_owned()
}

#[test]
fn the_window_is_told_of_bad_answers_without_their_secrets() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let bus = Bus::start();
    let d = Driver::start(&s, &bus, "code");
    wait_for(Duration::from_secs(15), "the page to load", || (d.script("return document.readyState").as_str() == Some("complete")).then_some(()));
    let no_secret = |what: &str, reply: &str, extra: &[&str]| {
        for secret in ["alice/long/term/secret", "LEAK"].iter().chain(extra) {
            assert!(!reply.contains(secret), "{what}: the window was sent a secret ({secret:?}): {reply}");
        }
    };

    for (step, (kind, expected)) in [
        ("malformed", "\"code\":\"aws_malformed\""),
        ("bad_expiration", "\"code\":\"aws_malformed\""),
        ("echo", "TokenCode=[redacted]"),
    ]
    .into_iter()
    .enumerate()
    {
        s.fault(json!({ "action": "GetSessionToken", "kind": kind, "times": 1 }));
        let code = s.code(step as i64);
        let reply = invoke(&d, "login", json!({ "profile": "corp", "code": code }));
        assert!(reply.starts_with("{\"err\":") && reply.contains(expected), "{kind}: {reply}");
        no_secret(kind, &reply, &[&code]);
        assert_eq!(s.credentials(), CREDENTIALS, "{kind}: nothing written");
    }

    // AssumeRole through the session: the echoed request carries the session token.
    let reply = invoke(&d, "login", json!({ "profile": "corp", "code": s.code(0) }));
    assert!(reply.starts_with("{\"ok\":"), "{reply}");
    let text = s.credentials();
    let (token, secret) = (value(&text, "corp", "aws_session_token").unwrap(), value(&text, "corp", "aws_secret_access_key").unwrap());
    no_secret("login", &reply, &[&token, &secret]);
    s.fault(json!({ "action": "AssumeRole", "kind": "echo", "times": 1 }));
    let reply = invoke(&d, "assume", json!({ "role": "prod-admin", "code": null }));
    assert!(reply.starts_with("{\"err\":") && reply.contains("token=[redacted]"), "{reply}");
    no_secret("assume", &reply, &[&token, &secret]);
    for command in ["state", "get_settings"] {
        let reply = invoke(&d, command, json!({}));
        assert!(reply.starts_with("{\"ok\":"), "{command}: {reply}");
        no_secret(command, &reply, &[&token, &secret]);
    }
}
