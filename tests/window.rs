//! The real window, driven through WebDriver (tauri-driver → WebKitWebDriver) under
//! Xvfb: type a code, see the result, find the credentials file written; type a wrong
//! code, see the message, find the file unchanged.

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
