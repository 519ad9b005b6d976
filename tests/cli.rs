//! The real binary end to end: moto behind the MFA-checking proxy, in a throwaway HOME.
//! Every test asserts on the credentials file's bytes, the exit code and the output.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use support::readme::*;
use support::*;

/// The bytes mfa-tray appended after the user's own file, which must be untouched.
fn appended(stack: &Stack, original: &str) -> String {
    let now = stack.credentials();
    assert!(now.starts_with(original), "the user's bytes changed:\n--- before\n{original}\n--- after\n{now}");
    now[original.len()..].to_owned()
}

fn login(stack: &Stack) {
    stack.run(&["login", "corp", "--code", &stack.code(0)]).ok();
}

fn actions(stack: &Stack) -> Vec<String> {
    stack.proxy_log().iter().map(|e| format!("{} {}", e["action"].as_str().unwrap(), e["result"])).collect()
}

#[test]
fn login_writes_the_session_and_nothing_else() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let run = s.run(&["login", "corp", "--code", &s.code(0)]);
    run.ok();
    assert!(run.stdout.contains("Logged in corp: MFA session valid for 12h"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("Wrote [corp] in {}", s.shown(".aws/credentials"))), "{}", run.stdout);

    let added = appended(&s, CREDENTIALS);
    let lines: Vec<&str> = added.lines().collect();
    assert_eq!(lines[..2], ["", "[corp]"]);
    let keys: Vec<&str> = lines[2..].iter().map(|l| l.split(" = ").next().unwrap()).collect();
    assert_eq!(keys, ["aws_access_key_id", "aws_secret_access_key", "aws_session_token", "mfa_tray_holds", "mfa_tray_expiration", "x_security_token_expires"]);
    let text = s.credentials();
    assert_eq!(value(&text, "corp", "mfa_tray_holds").as_deref(), Some("mfa-session corp"));
    assert!(!value(&text, "corp", "aws_session_token").unwrap().is_empty());
    // The expiry for shell prompts: the same instant, RFC 3339 as starship parses it.
    let expires = value(&text, "corp", "mfa_tray_expiration").unwrap();
    assert_eq!(value(&text, "corp", "x_security_token_expires"), Some(expires.clone()));
    assert!(mfa_tray_core::credentials::parse_time(&expires).is_some_and(|t| t > time::OffsetDateTime::now_utc()), "{expires}");
    // (On Windows a DACL does this, which Wine cannot show: see tests/windows.rs.)
    if !windows::windows_build() {
        assert_eq!(fs::metadata(s.path(".aws/credentials")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(actions(&s), ["GetSessionToken 200"]);
    let log = &s.proxy_log()[0];
    assert_eq!((log["serial"].as_bool(), log["code"].as_bool(), log["duration"].as_str()), (Some(true), Some(true), Some("43200")));
}

#[test]
fn login_against_plain_moto_with_any_code() {
    // The README's promise: `mfa-tray login corp --code 123456` against moto.
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.command().env("AWS_ENDPOINT_URL", &s.moto_url).args(["login", "corp", "--code", "123456"]).status().unwrap();
    let added = appended(&s, CREDENTIALS);
    assert!(added.starts_with("\n[corp]\naws_access_key_id = "), "{added}");
}

#[test]
fn crlf_file_keeps_its_style_and_a_bom_is_refused_as_botocore_does() {
    let s = Stack::start();
    let original = CREDENTIALS.replace('\n', "\r\n");
    s.files(&original, CONFIG);
    login(&s);
    let added = appended(&s, &original);
    assert!(added.starts_with("\r\n[corp]\r\naws_access_key_id = "), "{added:?}");
    assert_eq!(added.matches("\r\n").count(), added.matches('\n').count(), "every new line is CRLF: {added:?}");

    // The AWS CLI cannot read a file that starts with a byte-order mark; mfa-tray says so
    // before any code is spent, and leaves the file alone.
    let s = Stack::start();
    let original = format!("\u{feff}{CREDENTIALS}");
    s.files(&original, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).fails(4, "starts with a byte-order mark (U+FEFF), which the AWS CLI and boto3 cannot read");
    assert_eq!(s.credentials(), original);
    assert!(s.proxy_log().is_empty(), "no code spent");
}

#[test]
fn code_from_standard_input() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let mut child = s.command().args(["login", "corp"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    let code = s.code(0);
    writeln!(child.stdin.take().unwrap(), "{} {}", &code[..3], &code[3..]).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(s.credentials().contains("[corp]"));
}

#[test]
fn assume_through_the_session_needs_no_code() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    login(&s);
    let after_login = s.credentials();
    let run = s.run(&["assume", "prod-admin"]);
    run.ok();
    assert!(run.stdout.contains("Assumed prod-admin through the MFA session of corp; no code needed"), "{}", run.stdout);
    assert!(run.stdout.contains("written to [default]: prod-admin is now the active role"), "{}", run.stdout);
    let added = appended(&s, &after_login);
    assert!(added.starts_with("\n[default]\naws_access_key_id = ASIA"), "{added}");
    assert_eq!(value(&added, "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));
    assert_eq!(actions(&s), ["GetSessionToken 200", "AssumeRole 200"]);
    let log = &s.proxy_log()[1];
    assert_eq!((log["session_signed"].as_bool(), log["code"].as_bool()), (Some(true), Some(false)), "{log}");
    assert_eq!(log["role_arn"], ROLE_ARN);
}

#[test]
fn assume_with_mfa_when_there_is_no_session() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    // No code and no session: a clear request for one, and nothing written.
    s.run(&["assume", "prod-admin"]).fails(2, "prod-admin needs an MFA code");
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(s.proxy_log().is_empty());

    let run = s.run(&["assume", "prod-admin", "--code", &s.code(0)]);
    run.ok();
    assert!(run.stdout.contains("with an MFA code, because corp has no valid MFA session"), "{}", run.stdout);
    let log = &s.proxy_log()[0];
    assert_eq!((log["session_signed"].as_bool(), log["serial"].as_bool(), log["code"].as_bool()), (Some(false), Some(true), Some(true)));
    assert_eq!(value(&appended(&s, CREDENTIALS), "default", "mfa_tray_holds").as_deref(), Some("role prod-admin"));
}

#[test]
fn longer_role_sessions_use_the_code_even_with_a_session() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    login(&s);
    s.run(&["assume", "prod-admin", "--duration", "2h"]).fails(2, "needs an MFA code");
    let run = s.run(&["assume", "prod-admin", "--duration", "2h", "--code", &s.code(1), "--to", "admin-long"]);
    run.ok();
    assert!(run.stdout.contains("because 2h 00m is longer than the 1 hour"), "{}", run.stdout);
    assert!(run.stdout.contains("written to [admin-long]."), "{}", run.stdout);
    let log = s.proxy_log();
    let last = log.last().unwrap();
    assert_eq!((last["code"].as_bool(), last["duration"].as_str(), last["session_signed"].as_bool()), (Some(true), Some("7200"), Some(false)));
}

#[test]
fn refresh_reassumes_what_is_near_expiry() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "refresh_before_minutes = 20\n").unwrap();
    login(&s);
    s.run(&["assume", "prod-admin", "--duration", "900"]).ok();
    s.run(&["assume", "short", "--duration", "3600", "--to", "short-target"]).ok();
    let before = s.credentials();
    let old_expiry = value(&before, "default", "mfa_tray_expiration").unwrap();

    std::thread::sleep(std::time::Duration::from_millis(1100)); // a new expiry second
    let run = s.run(&["refresh"]);
    run.ok();
    assert!(run.stdout.contains("refreshed    prod-admin in [default]"), "{}", run.stdout);
    assert!(run.stdout.contains("still fresh  short in [short-target]"), "{}", run.stdout);
    let after = s.credentials();
    assert_ne!(value(&after, "default", "mfa_tray_expiration").unwrap(), old_expiry);
    assert_eq!(section(&after, "short-target"), section(&before, "short-target"));
    assert_eq!(section(&after, "corp"), section(&before, "corp"));
    assert_eq!(after.lines().count(), before.lines().count());
    let log = s.proxy_log();
    assert_eq!(log.len(), 4);
    assert_eq!((log[3]["action"].as_str(), log[3]["session_signed"].as_bool()), (Some("AssumeRole"), Some(true)));

    // An expired MFA session: refresh asks for a login and writes nothing.
    let expired = after.replace(&value(&after, "corp", "mfa_tray_expiration").unwrap(), "2020-01-01T00:00:00Z");
    fs::write(s.path(".aws/credentials"), &expired).unwrap();
    let run = s.run(&["refresh", "--force"]);
    run.ok();
    assert!(run.stdout.contains("needs login  prod-admin in [default]: the MFA session of corp is not valid; run `mfa-tray login corp`"), "{}", run.stdout);
    assert_eq!(s.credentials(), expired);
    assert_eq!(s.proxy_log().len(), 4);
}

#[test]
fn whoami_and_buckets_with_the_written_credentials() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    s.create_bucket("team-bucket");
    s.create_bucket("logs-bucket");
    login(&s);
    s.run(&["assume", "prod-admin"]).ok();

    let run = s.run(&["whoami"]);
    run.ok();
    assert!(run.stdout.starts_with("[default] is\n"), "{}", run.stdout);
    assert!(run.stdout.contains("ARN      arn:aws:sts::123456789012:assumed-role/Admin/alice"), "{}", run.stdout);

    let run = s.run(&["buckets", "--json"]);
    run.ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut names: Vec<&str> = json["buckets"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["logs-bucket", "team-bucket"]);
    assert_eq!(json["profile"], "default");

    let run = s.run(&["buckets", "--profile", "prod-admin"]);
    run.ok();
    assert!(run.stdout.contains("S3 buckets visible to [default] (2):"), "{}", run.stdout);
    assert!(run.stdout.contains("  team-bucket  created "), "{}", run.stdout);

    s.run(&["whoami", "--profile", "short"]).fails(2, "role short has no credentials yet: run `mfa-tray assume short`");
}

#[test]
fn status_json_reports_every_profile() {
    let s = Stack::start();
    s.files(CREDENTIALS, &format!("{CONFIG}\n[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/X\nsource_profile = nowhere\n"));
    let run = s.run(&["status", "--json"]);
    run.ok();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["sessions"][0]["state"], "absent");
    assert_eq!(json["active_role"], serde_json::Value::Null);

    login(&s);
    s.run(&["assume", "prod-admin"]).ok();
    let json: serde_json::Value = serde_json::from_str(&s.run(&["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["target"], "default");
    assert_eq!(json["active_role"], "prod-admin");
    let corp = &json["sessions"][0];
    assert_eq!((corp["name"].as_str(), corp["state"].as_str()), (Some("corp"), Some("valid")));
    assert!((43_000..=43_200).contains(&corp["seconds_left"].as_u64().unwrap()), "{corp}");
    assert_eq!(corp["mfa_serial"], SERIAL);
    let roles = json["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!((roles[0]["name"].as_str(), roles[0]["active"].as_bool(), roles[0]["state"].as_str()), (Some("prod-admin"), Some(true), Some("valid")));
    assert_eq!(roles[0]["sections"], serde_json::json!(["default"]));
    assert_eq!((roles[1]["name"].as_str(), roles[1]["state"].as_str()), (Some("short"), Some("absent")));
    assert_eq!(json["problems"][0]["profile"], "broken");
    assert!(json["problems"][0]["message"].as_str().unwrap().contains("nowhere does not exist"));

    let text = s.run(&["status"]).ok().stdout.clone();
    // (A slow machine may take more than half a minute from the login to here.)
    let corp = ["12h 00m", "11h 59m"].map(|left| format!("\nMFA sessions\n  corp        valid     {left} left, until "));
    assert!(corp.iter().any(|line| text.contains(line.as_str())), "{text}");
    assert!(text.contains("\nRoles (* = active in [default])\n* prod-admin  valid     1h 00m left, until "), "{text}");
    assert!(text.contains("\nProblems\n  broken: source_profile nowhere does not exist"), "{text}");
}

// ---- AWS says no: the right message, the right exit code, and the files unchanged ----

fn unchanged_after(s: &Stack, args: &[&str], exit: i32, message: &str) {
    let creds = s.credentials_bytes();
    let config = fs::read(s.path(".aws/config")).unwrap();
    s.run(args).fails(exit, message);
    assert_eq!(s.credentials_bytes(), creds, "credentials changed by {args:?}");
    assert_eq!(fs::read(s.path(".aws/config")).unwrap(), config);
}

#[test]
fn wrong_and_reused_codes_are_refused() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    unchanged_after(&s, &["login", "corp", "--code", &s.code(10)], 3, "AWS rejected the MFA code while logging in corp");
    let code = s.code(0);
    s.run(&["login", "corp", "--code", &code]).ok();
    unchanged_after(&s, &["login", "corp", "--code", &code], 3, "each code works once");
    unchanged_after(&s, &["assume", "prod-admin", "--duration", "2h", "--code", &code], 3, "AWS rejected the MFA code while assuming prod-admin");
    assert_eq!(actions(&s), ["GetSessionToken 403", "GetSessionToken 200", "GetSessionToken 403", "AssumeRole 403"]);
}

#[test]
fn bad_mfa_device_is_refused() {
    let s = Stack::start();
    s.files(CREDENTIALS, &CONFIG.replace("mfa/alice", "mfa/mallory"));
    unchanged_after(&s, &["login", "corp", "--code", &s.code(0)], 3, "could not validate the MFA device while logging in corp (GetSessionToken). Check mfa_serial in [profile corp]");
}

#[test]
fn out_of_range_durations_are_refused() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    // Outside AWS's own ranges: refused here, before a code is spent.
    unchanged_after(&s, &["login", "corp", "--code", &s.code(0), "--duration", "100"], 2, "100s is outside what AWS allows for GetSessionToken: 15m to 36h");
    unchanged_after(&s, &["assume", "prod-admin", "--code", &s.code(0), "--duration", "13h"], 2, "13h is outside what AWS allows for AssumeRole: 15m to 12h");
    assert!(s.proxy_log().is_empty());
    // Within range, but over the role's MaxSessionDuration: only AWS knows.
    unchanged_after(&s, &["assume", "short", "--code", &s.code(0), "--duration", "2h"], 3, "MaxSessionDuration");
    // Malformed codes never reach AWS.
    unchanged_after(&s, &["login", "corp", "--code", "12345"], 2, "6 digits");
    unchanged_after(&s, &["login", "corp", "--code", "12345a"], 2, "6 digits");
}

#[test]
fn unknown_and_misconfigured_profiles() {
    let s = Stack::start();
    s.files(CREDENTIALS, &format!("{CONFIG}\n[profile loop]\nrole_arn = arn:aws:iam::123456789012:role/L\nsource_profile = loop\n"));
    unchanged_after(&s, &["login", "nope", "--code", "123456"], 2, "there is no MFA session profile named nope");
    unchanged_after(&s, &["login", "prod-admin", "--code", "123456"], 2, "prod-admin is a role profile: use `mfa-tray assume prod-admin`");
    unchanged_after(&s, &["assume", "corp"], 2, "corp is an MFA session profile");
    unchanged_after(&s, &["assume", "loop", "--code", "123456"], 2, "profile loop cannot be used: source_profile loop: loop -> loop");
    assert!(s.proxy_log().is_empty());
}

#[test]
fn network_failure_is_reported_as_such() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let before = s.credentials_bytes();
    let run = mfa(s.command().env("AWS_ENDPOINT_URL", &url).args(["login", "corp", "--code", "123456"]));
    run.fails(5, "cannot reach AWS while logging in corp");
    assert_eq!(s.credentials_bytes(), before);
}

fn mfa(cmd: &mut std::process::Command) -> Run {
    Run::from(cmd.output().unwrap())
}

// ---- Refusals: the user's data wins ----

#[test]
fn a_target_holding_long_term_keys_is_never_overwritten() {
    let s = Stack::start();
    let creds = format!("{CREDENTIALS}\n[default]\naws_access_key_id = AKIADEFAULT000000001\naws_secret_access_key = default-secret\n");
    s.files(&creds, CONFIG);
    login(&s);
    unchanged_after(&s, &["assume", "prod-admin"], 4, "will not overwrite [default]");
    unchanged_after(&s, &["assume", "prod-admin"], 4, "Move them to [default-long-term]");
    // The check runs before STS: no AssumeRole was made, no code could have been spent.
    assert_eq!(actions(&s), ["GetSessionToken 200"]);
    let status = s.run(&["status"]).ok().stdout.clone();
    assert!(status.contains("  default: roles cannot be switched into [default]: it holds long-term keys"), "{status}");
    // Nor may a role overwrite an MFA session.
    unchanged_after(&s, &["assume", "prod-admin", "--to", "corp"], 2, "[corp] is where the MFA session of corp goes");
    // Nor the keys of an account; and the advice is not to move them into [corp-long-term-long-term].
    unchanged_after(&s, &["assume", "prod-admin", "--to", "corp-long-term"], 4, "it holds the long-term keys of corp; write somewhere else (");
}

#[test]
fn a_malformed_file_is_refused() {
    let s = Stack::start();
    let bad = format!("{CREDENTIALS}this line is not ini\n");
    s.files(&bad, CONFIG);
    unchanged_after(&s, &["login", "corp", "--code", &s.code(0)], 4, "line 10 is not a [section]");
    s.files(CREDENTIALS, "[profile corp\nmfa_serial = x\n");
    unchanged_after(&s, &["status"], 4, "config cannot be read safely: line 1 is a [section] header without its closing `]`");
    assert!(s.proxy_log().is_empty());
}

#[test]
fn a_read_only_file_is_refused_before_any_code_is_spent() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let path = s.path(".aws/credentials");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    unchanged_after(&s, &["login", "corp", "--code", &s.code(0)], 4, "is read-only; make it writable");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o400);
    assert!(s.proxy_log().is_empty());
}

#[test]
fn a_lock_held_by_another_process_times_out() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "lock_timeout_seconds = 1\n").unwrap();
    let lock_path = s.path(".aws/.credentials.mfa-tray.lock");
    // The other process: this one (flock), or on Windows another Windows program
    // (LockFileEx under Wine, which does not show it a Linux process's lock).
    let (lock, holder) = if windows::windows_build() {
        (None, Some(windows::probe(&["lock", &windows::windows_path(&lock_path), "4000"])))
    } else {
        let lock = fs::File::create(&lock_path).unwrap();
        lock.lock().unwrap();
        (Some(lock), None)
    };
    let run = s.run(&["login", "corp", "--code", &s.code(0)]);
    run.fails(4, "is being written by another mfa-tray");
    let find = if windows::windows_build() { "in Task Manager (mfa-tray.exe" } else { "pgrep -a mfa-tray" };
    assert!(run.stderr.contains(find) && !run.stderr.contains("remove"), "safe advice only: {}", run.stderr);
    assert_eq!(s.credentials(), CREDENTIALS);
    assert!(s.proxy_log().is_empty());
    drop(lock);
    if let Some(holder) = holder {
        windows::finish(holder);
    }
    login(&s);
}

#[test]
fn writes_through_a_symlinked_credentials_file() {
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let real = s.path("dotfiles-credentials");
    fs::rename(s.path(".aws/credentials"), &real).unwrap();
    std::os::unix::fs::symlink(&real, s.path(".aws/credentials")).unwrap();
    login(&s);
    assert!(fs::symlink_metadata(s.path(".aws/credentials")).unwrap().file_type().is_symlink());
    assert!(fs::read_to_string(&real).unwrap().starts_with(CREDENTIALS));
    assert!(fs::read_to_string(&real).unwrap().contains("\n[corp]\n"));
}

#[test]
fn honours_aws_shared_credentials_file_and_aws_config_file() {
    let s = Stack::start();
    fs::write(s.path("creds.ini"), CREDENTIALS).unwrap();
    fs::write(s.path("config.ini"), CONFIG).unwrap();
    let run = mfa(s
        .command()
        .env("AWS_SHARED_CREDENTIALS_FILE", s.path("creds.ini"))
        .env("AWS_CONFIG_FILE", s.path("config.ini"))
        .args(["login", "corp", "--code", &s.code(0)]));
    run.ok();
    assert!(fs::read_to_string(s.path("creds.ini")).unwrap().contains("\n[corp]\n"));
    assert!(!s.path(".aws/credentials").exists());
}

// ---- The written credentials are real: moto checks every signature ----

#[test]
fn written_credentials_really_sign_requests() {
    // moto verifies signatures and IAM policies after the six set-up calls below.
    let s = Stack::start_with(Opts { auth_after: Some(6) });
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    s.iam(&[("Action", "CreateUser"), ("UserName", "alice")]);
    let key = s.iam(&[("Action", "CreateAccessKey"), ("UserName", "alice")]);
    s.iam(&[("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "all"), ("PolicyDocument", allow_all)]);
    s.iam(&[("Action", "CreateRole"), ("RoleName", "Admin"), ("AssumeRolePolicyDocument", trust)]);
    s.iam(&[("Action", "PutRolePolicy"), ("RoleName", "Admin"), ("PolicyName", "all"), ("PolicyDocument", allow_all)]);
    s.create_bucket("signed-bucket");

    let (id, secret) = (xml_value(&key, "AccessKeyId"), xml_value(&key, "SecretAccessKey"));
    let creds = CREDENTIALS.replace("AKIAALICEEXAMPLE0001", &id).replace("alice/long/term/secret", &secret);
    s.files(&creds, CONFIG);

    // Signed with the long-term keys read from [corp-long-term].
    let used = [s.code(0), s.code(1)];
    s.run(&["login", "corp", "--code", &used[0]]).ok();
    s.run(&["assume", "prod-admin", "--duration", "2h", "--code", &used[1]]).ok();
    // Signed with the role credentials mfa-tray wrote to [default].
    let run = s.run(&["buckets"]);
    run.ok();
    assert!(run.stdout.contains("signed-bucket"), "{}", run.stdout);
    s.run(&["whoami"]).ok();

    // The control: one wrong character in a written secret and moto refuses.
    let text = s.credentials();
    let written = value(&text, "default", "aws_secret_access_key").unwrap();
    let flipped = format!("{}{}", &written[..written.len() - 1], if written.ends_with('A') { 'B' } else { 'A' });
    fs::write(s.path(".aws/credentials"), text.replace(&written, &flipped)).unwrap();
    s.run(&["buckets"]).fails(3, "SignatureDoesNotMatch");

    // And a wrong long-term secret cannot log in.
    s.files(&creds.replace(&secret, "not-the-secret"), CONFIG);
    // (With a code AWS would take: valid now and not used above, however long this took.)
    let fresh = [-1, 0, 1].map(|step| s.code(step)).into_iter().find(|c| !used.contains(c)).unwrap();
    unchanged_after(&s, &["login", "corp", "--code", &fresh], 3, "does not match its access key id");
}

#[test]
fn endpoints_from_the_environment_and_the_profile() {
    let s = Stack::start();
    s.create_bucket("bucket-one");
    let dead = "http://127.0.0.1:9";
    // The service-specific variables win over AWS_ENDPOINT_URL.
    s.files(CREDENTIALS, CONFIG);
    let run = mfa(s.command().env("AWS_ENDPOINT_URL", dead).env("AWS_ENDPOINT_URL_STS", &s.url).args(["login", "corp", "--code", &s.code(0)]));
    run.ok();
    let run = mfa(s.command().env("AWS_ENDPOINT_URL", dead).env("AWS_ENDPOINT_URL_S3", &s.moto_url).args(["buckets", "--profile", "corp"]));
    run.ok();
    assert!(run.stdout.contains("bucket-one"), "{}", run.stdout);
    // With no variables, the profile's endpoint_url.
    s.files(CREDENTIALS, &CONFIG.replace("[profile corp]\n", &format!("[profile corp]\nendpoint_url = {}\n", s.url)));
    let run = mfa(s.command().env_remove("AWS_ENDPOINT_URL").args(["login", "corp", "--code", &s.code(1)]));
    run.ok();
    assert_eq!(s.proxy_log().iter().filter(|e| e["result"] == 200).count(), 2);
}

/// Runs `mfa-tray ARGS` as written in the README (`123456` standing for a code that works).
fn run_shown(s: &Stack, command: &str, code: &str) -> Run {
    let args: Vec<String> = command.split_whitespace().skip(1).map(|a| if a == "123456" { code.to_owned() } else { a.to_owned() }).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    s.run(&args)
}

/// The README's example of the daily flow and of `status --json` is what the program
/// prints (times, ids and codes aside), and its exit-code table is the one `--help` gives.
#[test]
fn the_readme_examples_are_what_the_program_prints() {
    if windows::windows_build() {
        return;
    }
    let readme = readme();
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let mut differences = Vec::new();
    for block in blocks(&readme, "<!-- checked: daily flow -->") {
        for (command, shown) in transcript(&block) {
            if !command.starts_with("mfa-tray ") {
                continue;
            }
            let run = run_shown(&s, &command, &s.code(0));
            compare(&s, &mut differences, &format!("`{command}`"), &run.ok().stdout, &shown);
        }
    }
    let json = blocks(&readme, "<!-- checked: status --json -->").concat();
    let run = s.run(&["status", "--json"]);
    compare(&s, &mut differences, "status --json", &run.ok().stdout, &json);

    let table = blocks(&readme, "<!-- checked: exit codes -->").concat();
    let help = s.run(&["--help"]).ok().stdout.clone();
    let codes = &help[help.find("Exit codes:\n").expect("--help lists the exit codes") + "Exit codes:\n".len()..];
    compare(&s, &mut differences, "exit codes", codes, &table);
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
    assert!(table.trim_end() == codes.trim_end(), "README's exit codes are --help's, digits too");
}

/// Troubleshooting: each message the README lists is what mfa-tray prints in that
/// situation, made for real here, with its exit code; and the command a message
/// suggests works (it does not fail for the same reason).
#[test]
fn the_troubleshooting_messages_are_real_and_their_advice_works() {
    if windows::windows_build() {
        return;
    }
    let readme = readme();
    let cases = blocks(&readme, "## Troubleshooting");
    // How each case comes about, in the README's order.
    type Setup = fn(&Stack) -> Vec<(&'static str, String)>;
    let none: Setup = |_| vec![];
    let setups: Vec<(&str, Setup)> = vec![
        ("no network", |_| vec![("AWS_ENDPOINT_URL", "https://sts.mfa-tray-test.invalid".to_owned())]),
        ("wrong code", none),
        ("mistyped profile", none),
        ("no code without a terminal", none),
        ("nothing in [default] yet", none),
        ("keys in the target", |s| {
            s.files(&format!("{CREDENTIALS}\n[default]\naws_access_key_id = AKIADEFAULT000000001\naws_secret_access_key = default-secret\n"), CONFIG);
            vec![]
        }),
        ("an MFA session ended", |s| {
            login(s);
            let text = s.credentials();
            let expires = value(&text, "corp", "mfa_tray_expiration").unwrap();
            s.files(&text.replace(&expires, "2026-01-01T00:00:00Z"), CONFIG);
            vec![]
        }),
        ("a broken file", |s| {
            s.files(&format!("{CREDENTIALS}this line is not ini\n"), CONFIG);
            vec![]
        }),
        ("a broken settings file", |s| {
            fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
            fs::write(s.path("mfa-tray-config/settings.toml"), "target_profile = \"default\"\nsession_duration = 3600\n").unwrap();
            vec![]
        }),
        ("no desktop", |_| vec![("DISPLAY", String::new()), ("WAYLAND_DISPLAY", String::new())]),
    ];
    assert_eq!(cases.len(), setups.len(), "one setup per case in README's Troubleshooting");
    let mut differences = Vec::new();
    for (block, (what, setup)) in cases.iter().zip(&setups) {
        let s = Stack::start();
        s.files(CREDENTIALS, CONFIG);
        let env = setup(&s);
        let pairs = transcript(block);
        let (command, shown) = &pairs[0];
        let exit: i32 = pairs.get(1).filter(|(c, _)| c == "echo $?").map(|(_, out)| out.trim().parse().unwrap()).unwrap_or_else(|| panic!("{what}: no `$ echo $?` after the command"));
        // Run without a terminal (setsid), as from a desktop or a tool.
        let run_it = || {
            let mut cmd = Command::new("setsid");
            cmd.arg("-w").arg(env!("CARGO_BIN_EXE_mfa-tray")).args(command.split_whitespace().skip(1));
            s.sandbox(&mut cmd);
            for (k, v) in &env {
                cmd.env(k, v);
            }
            Run::from(cmd.output().unwrap())
        };
        let run = run_it();
        compare(&s, &mut differences, &format!("{what} (`{command}`, exit {})", run.code), &format!("{}{}", run.stdout, run.stderr), shown);
        if run.code != exit {
            differences.push(format!("{what}: exit {}, not {exit}", run.code));
            continue;
        }
        // Advice: every `mfa-tray ...` the message suggests (but placeholders) runs, with
        // a code where it asks for one; and then the command no longer fails as it did.
        let advice: Vec<&str> = run.stderr.split('`').skip(1).step_by(2).filter(|a| a.starts_with("mfa-tray ") && !a.chars().any(|c| c.is_ascii_uppercase())).collect();
        for advice in &advice {
            let mut args: Vec<String> = advice.split_whitespace().skip(1).map(str::to_owned).collect();
            if args[0] == "login" || args[0] == "assume" {
                args.extend(["--code".to_owned(), s.code(1)]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let followed = s.run(&args);
            assert!(followed.code == 0, "{what}: the advice `{advice}` fails: {followed:#?}");
        }
        if !advice.is_empty() && !advice.iter().any(|a| a.ends_with("--help") || a.ends_with("status")) {
            let again = run_it();
            assert_ne!(again.stderr, run.stderr, "{what}: still refused the same way after `{}`", advice.join("`, `"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

/// What a newcomer meets first: both ways of naming a profile, a mistyped profile
/// refused before any code is read, advice that works (an on-demand role in `whoami`,
/// `logout`), durations in human units, why `refresh --force` gave an hour, a target
/// that is an account's own section, errors as JSON and with `--verbose`, and the
/// window with no desktop.
#[test]
fn a_newcomers_first_commands_say_what_works() {
    let s = Stack::start();
    let on_demand = "[profile tools]\ncredential_process = mfa-tray credential-process tools\nmfa_tray_role_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = corp\n";
    let config = format!("{}\n{on_demand}", CONFIG.replace("role_session_name = alice\n", "role_session_name = alice\nduration_seconds = 7200\n"));
    s.files(CREDENTIALS, &config);
    // A mistyped profile: refused before the code on stdin is read or sent.
    let mut child = s.command().args(["login", "crop"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{}\n", s.code(0)).as_bytes());
    Run::from(child.wait_with_output().unwrap()).fails(2, "there is no MFA session profile named crop in ");
    assert!(s.proxy_log().is_empty());
    // An on-demand role is fetched as tools fetch it; without a session, the advice is a login.
    s.run(&["whoami", "--profile", "tools"]).fails(2, "run `mfa-tray login corp` first");
    // Both forms, and a code after the profile.
    s.run(&["login", "--profile", "corp", &s.code(0)]).ok();
    let who = s.run(&["whoami", "tools", "--json"]);
    assert!(who.ok().stdout.contains("\"arn\": \"arn:aws:sts::123456789012:assumed-role/Admin/"), "{who:#?}");
    s.run(&["whoami", "--profile", "corp"]).ok();
    s.run(&["whoami", "corp", "--profile", "tools"]).fails(2, "two profiles given");
    s.run(&["assume", "prod-admin", "-p", "short", "123456"]).fails(2, "two profiles given");
    // An endpoint that is not a URL is a setting to fix (exit 2), and its password never shows.
    let mut bad = s.command();
    let run = Run::from(bad.env("AWS_ENDPOINT_URL", "alice:s3cretpw@host:4566").args(["whoami", "corp", "--json", "--verbose"]).output().unwrap());
    run.fails(2, "check endpoint_url in the profile, or AWS_ENDPOINT_URL");
    assert!(run.stdout.contains("\"code\": \"bad_endpoint\"") && run.stdout.contains("\"detail\": \"") && !format!("{run:?}").contains("s3cretpw"), "{run:#?}");
    s.run(&["login", "corp", "12345"]).fails(2, "an MFA code is the 6 digits");
    s.run(&["login", "corp", "--duration", "5m", "--code", &s.code(1)]).fails(2, "5m is outside what AWS allows for GetSessionToken: 15m to 36h");
    // refresh --force says why a 2-hour role got one hour.
    s.run(&["assume", "prod-admin", "--code", &s.code(1)]).ok();
    let refreshed = s.run(&["refresh", "--force"]);
    assert!(refreshed.ok().stdout.contains("(not 2h 00m: AWS allows 1 hour to roles assumed through an MFA session; `mfa-tray assume prod-admin --to default` with a code gives 2h 00m)"), "{refreshed:#?}");
    // A target that is an account's own section: shown in status, refused by assume.
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "target_profile = \"corp\"\n").unwrap();
    let status = s.run(&["status"]);
    assert!(status.ok().stdout.contains("target_profile = corp: [corp] is where the MFA session of corp goes"), "{status:#?}");
    unchanged_after(&s, &["assume", "prod-admin"], 2, "[corp] is where the MFA session of corp goes");
    fs::remove_file(s.path("mfa-tray-config/settings.toml")).unwrap();
    // Errors as JSON on stdout (and one line on stderr); the SDK's detail with --verbose.
    let json = s.run(&["whoami", "nope", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap_or_else(|_| panic!("{json:#?}"));
    assert_eq!((v["error"]["code"].as_str(), v["error"]["exit_code"].as_u64(), json.code), (Some("unknown_profile"), Some(2), 2));
    assert_eq!(json.stderr.lines().count(), 1, "{json:#?}");
    let mut offline = s.command();
    let run = Run::from(offline.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").args(["whoami", "corp", "--verbose"]).output().unwrap());
    run.fails(5, "cannot reach AWS while calling GetCallerIdentity");
    assert!(run.stderr.lines().count() == 2 && run.stderr.contains("\n  detail: dispatch failure"), "{run:#?}");
    // logout takes out the session it wrote, and nothing else.
    s.run(&["logout", "corp"]).ok();
    let left = s.credentials();
    assert!(!left.contains("[corp]") && left.starts_with(CREDENTIALS) && left.contains("mfa_tray_holds = role prod-admin"), "{left}");
    assert_eq!(s.run(&["logout", "corp"]).ok().stdout, "corp had no MFA session here: nothing to remove.\n");
    // The window and the tray with no desktop: one line and exit 6, not a GTK panic.
    if windows::windows_build() {
        return;
    }
    let programs = [(env!("CARGO_BIN_EXE_mfa-tray-window"), &["--window", "code"][..], "so the window cannot open"), (env!("CARGO_BIN_EXE_mfa-tray-app"), &[][..], "so the tray cannot start")];
    for (program, args, what) in programs {
        for (display, says) in [("", "there is no graphical session here"), (":77", "the graphical session (:77) cannot be opened")] {
            let run = Run::from(Command::new(program).args(args).env("DISPLAY", display).env_remove("WAYLAND_DISPLAY").output().unwrap());
            run.fails(6, says);
            assert!(!run.stderr.contains("panicked") && run.stderr.contains(what), "{run:#?}");
        }
    }
}

/// On a terminal, a mistyped code is asked for again (three tries in all), and the
/// login goes through with the next one.
#[test]
fn a_mistyped_code_at_the_prompt_is_asked_for_again() {
    if windows::windows_build() {
        return;
    }
    let s = Stack::start();
    s.files(CREDENTIALS, CONFIG);
    let attempt = |answers: &str| s.on_a_terminal(&["login", "corp"], answers);
    let (code, text) = attempt(&format!("12345\n\n{}\n", s.code(0)));
    assert_eq!(code, 0, "{text}");
    assert_eq!(text.matches("MFA code for corp (arn:aws:iam::123456789012:mfa/alice): ").count(), 3, "{text}");
    assert_eq!(text.matches("an MFA code is the 6 digits your authenticator shows (spaces are fine); try again.").count(), 2, "{text}");
    assert!(text.contains("Logged in corp: MFA session valid for 12h"), "{text}");
    // Three wrong tries: refused, nothing sent, nothing written.
    let before = s.credentials_bytes();
    let (code, text) = attempt("1\n2\n3\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.ends_with("mfa-tray: an MFA code is the 6 digits your authenticator shows (spaces are fine)\n"), "{text}");
    assert_eq!(s.credentials_bytes(), before);
    assert_eq!(s.proxy_log().len(), 1);
}
