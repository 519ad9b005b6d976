//! Faults injected through the proxy: STS slow, failing, throttling, dropping the
//! connection mid-response, a skewed clock, an expired session token mid-refresh, and
//! a response carrying a line break. What is retryable is retried; the rest is reported
//! plainly with its exit code; no partial credentials are ever written.

mod support;

use serde_json::json;
use support::*;

fn results(s: &Stack) -> Vec<String> {
    s.proxy_log().iter().map(|e| e["result"].to_string().trim_matches('"').to_owned()).collect()
}

#[test]
fn transient_server_errors_are_retried() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.fault(json!({ "action": "GetSessionToken", "kind": "status", "status": 503, "times": 2 }));
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    assert_eq!(results(&s), ["status", "status", "200"]);
    assert!(s.credentials().contains("\n[corp]\n"));
}

#[test]
fn a_skewed_clock_error_is_retried_once() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.fault(json!({ "action": "GetSessionToken", "kind": "skew", "seconds": 1200, "times": 1 }));
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    assert_eq!(results(&s), ["skew", "200"]);
}

#[test]
fn slow_sts_is_waited_for() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.fault(json!({ "action": "GetSessionToken", "kind": "delay", "seconds": 3, "times": 1 }));
    let start = std::time::Instant::now();
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    assert!(start.elapsed() >= std::time::Duration::from_secs(3));
    assert_eq!(results(&s), ["200"]);
}

#[test]
fn persistent_failures_are_reported_and_change_nothing() {
    for (fault, exit, message) in [
        (json!({ "kind": "status", "status": 500 }), 5, "AWS is busy or failing while logging in corp (GetSessionToken): InternalFailure (HTTP 500)"),
        (json!({ "kind": "throttle" }), 5, "AWS is busy or failing while logging in corp (GetSessionToken): Throttling (HTTP 400): Rate exceeded"),
        (json!({ "kind": "drop" }), 5, "cannot reach AWS while logging in corp"),
    ] {
        let s = Stack::start();
        s.files(CREDENTIALS, CONFIG);
        s.fault(fault.clone());
        s.run(&["login", "corp", "--code", &s.code(0)]).fails(exit, message);
        assert_eq!(s.credentials(), CREDENTIALS, "{fault}");
        // The SDK's standard retry: three attempts in all, then a plain report.
        assert_eq!(s.proxy_log().len(), 3, "{fault}: {:?}", s.proxy_log());
    }
}

#[test]
fn an_expired_session_mid_refresh_is_reported_and_changes_nothing() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin"]).ok();
    let before = s.credentials();
    s.fault(json!({ "action": "AssumeRole", "kind": "expired" }));
    let run = s.run(&["refresh", "--force"]);
    run.fails(3, "failed       prod-admin in [default]: the credentials used while assuming prod-admin");
    assert!(run.stderr.contains("have expired. Run `mfa-tray login corp`"), "{}", run.stderr);
    assert_eq!(s.credentials(), before);
}

#[test]
fn a_response_cannot_inject_a_section() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.fault(json!({ "action": "GetSessionToken", "kind": "inject" }));
    s.run(&["login", "corp", "--code", &s.code(0)]).fails(5, "AWS sent an answer whose credentials are not the shape of AWS credentials while logging in corp");
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(!s.credentials().contains("evil"));
}
