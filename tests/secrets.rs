//! No secret leaves the engine: STS answers that carry recognisable secrets (malformed
//! XML, a bad expiration, an error that echoes the request, the MFA code included) are
//! reported in plain words, and no output of the CLI holds a secret access key, a session
//! token or an MFA code. The window's replies and the tray's notifications are searched
//! the same way in tests/window.rs and tests/tray.rs.

mod support;

use serde_json::json;
use support::*;

/// What must never be printed: the long-term secret, anything marked LEAK by the proxy,
/// and the given session token and code.
pub fn assert_no_secret(what: &str, text: &str, extra: &[&str]) {
    for secret in ["alice/long/term/secret", "personal-secret", "LEAK"].iter().chain(extra) {
        assert!(!text.contains(secret), "{what} shows a secret ({secret:?}):\n{text}");
    }
}

#[test]
fn malformed_answers_exit_5_and_print_no_secret() {
    for (kind, detail) in [
        ("malformed", "AWS sent an answer whose credentials have no expiry"),
        ("bad_expiration", "AWS sent an answer with HTTP 200 that could not be read"),
    ] {
        let s = Stack::start();
        s.files(CREDENTIALS, CONFIG);
        s.fault(json!({ "action": "GetSessionToken", "kind": kind }));
        let code = s.code(0);
        let run = s.run(&["login", "corp", "--code", &code]);
        run.fails(5, detail);
        assert!(run.stderr.contains("while logging in corp (GetSessionToken); nothing was written"), "{kind}: {}", run.stderr);
        assert_no_secret(kind, &format!("{}{}", run.stdout, run.stderr), &[&code]);
        assert_eq!(s.credentials(), CREDENTIALS, "{kind}");
    }
}

#[test]
fn an_error_that_echoes_the_request_is_scrubbed() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    // GetSessionToken: the request carries the MFA code.
    s.fault(json!({ "action": "GetSessionToken", "kind": "echo", "times": 1 }));
    let code = s.code(0);
    let run = s.run(&["login", "corp", "--code", &code]);
    run.fails(3, "AWS refused the request while logging in corp");
    assert!(run.stderr.contains("TokenCode=[redacted]"), "the echo is there, without the code: {}", run.stderr);
    assert_no_secret("login", &run.stderr, &[&code]);

    // AssumeRole through the MFA session: the request carries the session token.
    s.run(&["login", "corp", "--code", &s.code(1)]).ok();
    let token = value(&s.credentials(), "corp", "aws_session_token").unwrap();
    let secret = value(&s.credentials(), "corp", "aws_secret_access_key").unwrap();
    s.fault(json!({ "action": "AssumeRole", "kind": "echo", "times": 1 }));
    let run = s.run(&["assume", "prod-admin"]);
    run.fails(3, "AWS refused the request while assuming prod-admin");
    assert!(run.stderr.contains("token=[redacted]"), "{}", run.stderr);
    assert_no_secret("assume", &run.stderr, &[&token, &secret]);

    // `refresh` prints per-section failures: the same scrubbing.
    s.run(&["assume", "prod-admin"]).ok();
    s.fault(json!({ "action": "AssumeRole", "kind": "echo", "times": 1 }));
    let run = s.run(&["refresh", "--force"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_no_secret("refresh", &format!("{}{}", run.stdout, run.stderr), &[&token, &secret]);
}

#[test]
fn status_and_whoami_json_carry_no_secret() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin"]).ok();
    let text = s.credentials();
    let secrets: Vec<String> = ["corp", "default"]
        .iter()
        .flat_map(|sec| ["aws_secret_access_key", "aws_session_token"].map(|k| value(&text, sec, k).unwrap()))
        .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for args in [&["status", "--json"][..], &["status"], &["whoami", "--json"], &["buckets", "--json"], &["refresh", "--force"]] {
        let run = s.run(args);
        run.ok();
        assert_no_secret(&format!("{args:?}"), &format!("{}{}", run.stdout, run.stderr), &secrets);
    }
}
