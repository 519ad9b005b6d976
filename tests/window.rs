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
    d.save_screenshot("window.png");
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

/// A first run, as a user who never opens a terminal meets it: an empty HOME, the window
/// opening on adding an account; the key pasted, the device found, a code typed, a role
/// added and switched to. The keys end up in the keychain only, and the page never holds
/// the secret after sending it.
#[test]
fn a_first_run_goes_from_nothing_to_an_active_role_in_the_window() {
    let s = Stack::start();
    s.iam(&[("Action", "CreateUser"), ("UserName", "alice")]);
    let key = s.iam(&[("Action", "CreateAccessKey"), ("UserName", "alice")]);
    s.iam(&[("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "alice")]);
    s.iam(&[("Action", "EnableMFADevice"), ("UserName", "alice"), ("SerialNumber", SERIAL), ("AuthenticationCode1", "123456"), ("AuthenticationCode2", "654321")]);
    let (id, secret) = (xml_value(&key, "AccessKeyId"), xml_value(&key, "SecretAccessKey"));
    let kr = s.keyring();
    // The window as the tray opens it on a first run; an empty HOME.
    let d = Driver::start(&s, &kr.bus, "account");
    wait_for(Duration::from_secs(15), "the account view", || {
        (d.script("return document.getElementById('tab-account').getAttribute('aria-current')").as_str() == Some("page")).then_some(())
    });
    assert_eq!(d.text("#account-title"), "Add your AWS account");
    let overview = d.script("return document.getElementById('overview').textContent");
    assert_eq!(overview.as_str(), Some("No account yet. Add your AWS account to start."));
    d.save_screenshot("first-run.png");

    d.type_into("#a-name", "work");
    d.type_into("#a-key", &id);
    d.type_into("#a-secret", &secret);
    d.click("#a-check");
    let who = d.text("#a-who");
    assert_eq!(who, "The key belongs to arn:aws:iam::123456789012:user/alice.");
    let device = d.script("return document.getElementById('a-device').value");
    assert_eq!(device.as_str(), Some(SERIAL));
    // Sent once: the field is empty and the page holds the secret nowhere.
    let page = d.script("return document.documentElement.outerHTML + [...document.querySelectorAll('input')].map(i => i.value).join(' ')");
    assert!(!page.as_str().unwrap().contains(&secret), "the page still holds the secret");
    // Back: the app forgets the keys, and the form asks for the secret again.
    d.click("#a-back");
    let reply = invoke(&d, "add_account", json!({ "mfaSerial": SERIAL }));
    assert!(reply.contains("check the keys first"), "{reply}");
    assert_eq!(kr.lookup("work"), None);
    d.type_into("#a-secret", &secret);
    d.click("#a-check");
    wait_for(Duration::from_secs(15), "the device form again", || (d.script("return document.getElementById('device-form').hidden").as_bool() == Some(false)).then_some(()));
    d.click("#a-add");

    // Straight to the code, for the new account.
    let hint = d.text("#reason");
    assert!(hint.starts_with("Account work added; its keys are in the OS keychain."), "{hint}");
    let stored = kr.lookup("work").expect("keys in the keychain");
    assert!(stored.contains(&id) && stored.contains(&secret));
    assert_eq!(
        std::fs::read_to_string(s.path(".aws/config")).unwrap(),
        format!("[profile work]\nmfa_serial = {SERIAL}\nmfa_tray_keys = keychain\n")
    );
    d.type_into("#code", &s.code(0));
    let title = d.text("#result-title");
    assert!(title.starts_with("work valid until "), "{title}");

    // A role, added in the window, then switched to with no code.
    d.script("location.hash = '#account'");
    d.type_into("#r-name", "prod-admin");
    d.type_into("#r-arn", ROLE_ARN);
    d.click("#r-add");
    let done = d.text("#role-done");
    assert!(done.starts_with("Role prod-admin added"), "{done}");
    d.script("location.hash = '#code'");
    wait_for(Duration::from_secs(10), "the role in the chooser", || {
        d.script("const p = document.getElementById('profile'); p.value = 'role:prod-admin'; p.dispatchEvent(new Event('change')); return p.value").as_str().filter(|v| *v == "role:prod-admin").map(drop)
    });
    let button = d.text("#submit");
    assert_eq!(button, "Switch to prod-admin");
    d.click("#submit");
    let text = wait_for(Duration::from_secs(15), "[default] to hold the role", || {
        let text = s.credentials();
        text.contains("mfa_tray_holds = role prod-admin").then_some(text)
    });
    assert!(!text.contains(&id) && !text.contains(&secret), "no long-term key in the credentials file:\n{text}");
    assert_eq!(value(&text, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));

    // A role for tools (credential_process): written so, and never offered for switching.
    let config = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    d.script("location.hash = '#account'");
    d.type_into("#r-name", "ci");
    d.type_into("#r-arn", ROLE_ARN);
    d.click("#r-process");
    d.click("#r-add");
    let done = wait_for(Duration::from_secs(10), "the role added", || Some(d.text("#role-done")).filter(|t| t.starts_with("Role ci")));
    assert_eq!(done, "Role ci added: tools using profile ci ask the tray for its credentials (nothing is written to ~/.aws/credentials).");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_mfa-tray"));
    assert_eq!(
        std::fs::read_to_string(s.path(".aws/config")).unwrap(),
        format!("{config}\n[profile ci]\ncredential_process = {} credential-process ci\nmfa_tray_role_arn = {ROLE_ARN}\nsource_profile = work\n", bin.display())
    );
    d.script("location.hash = '#code'");
    let overview = wait_for(Duration::from_secs(10), "ci in the overview", || Some(d.text("#overview")).filter(|t| t.contains("ci:")));
    assert!(overview.contains("ci: on demand, for tools (credential_process)"), "{overview}");
    let options = d.script("return [...document.querySelectorAll('#profile option')].map(o => o.value)");
    assert_eq!(options, json!(["session:work", "role:prod-admin"]));
}

/// Plain-text keys found: the Accounts view offers to move them, and one click does,
/// with every other byte of the credentials file kept.
#[test]
fn plain_text_keys_are_moved_to_the_keychain_from_the_window() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let kr = s.keyring();
    let d = Driver::start(&s, &kr.bus, "account");
    let offer = wait_for(Duration::from_secs(15), "the offer to move corp's keys", || {
        d.script("const i = document.getElementById('imports'); return i.hidden ? '' : i.textContent").as_str().filter(|t| !t.is_empty()).map(str::to_owned)
    });
    assert!(offer.contains("corp: keys in ~/.aws/credentials"), "{offer}");
    d.click("#import-corp");
    let done = d.text("#role-done");
    assert!(done.starts_with("The keys of corp are now in the OS keychain"), "{done}");
    let expected = CREDENTIALS.replace("[corp-long-term]\naws_access_key_id = AKIAALICEEXAMPLE0001\naws_secret_access_key = alice/long/term/secret\n", "");
    assert_eq!(s.credentials(), expected);
    let stored = kr.lookup("corp").expect("keys in the keychain");
    assert!(stored.contains("AKIAALICEEXAMPLE0001") && stored.contains("alice/long/term/secret"));
    // The offer is gone, and the page never saw the secret.
    wait_for(Duration::from_secs(10), "the offer to go", || (d.script("return document.getElementById('imports').hidden").as_bool() == Some(true)).then_some(()));
    let page = d.script("return document.documentElement.outerHTML");
    assert!(!page.as_str().unwrap().contains("alice/long/term/secret"));
}
