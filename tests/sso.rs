//! IAM Identity Center through the real binary, against a stand-in of sso-oidc and the
//! AWS access portal (`tests/support/sso_server.py`: moto has neither) whose role
//! credentials come from moto's STS, and a browser (`tests/support/browser.py`, as
//! `xdg-open` on the PATH) that follows the sign-in page back to mfa-tray's loopback
//! listener. botocore (boto3 and the AWS CLI from the test venv) reading the token cache
//! and the profiles mfa-tray wrote is the judge.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::readme::*;
use support::*;

const START_URL: &str = "https://corp.awsapps.com/start";

/// The stand-in, on the stack's moto; every sandboxed command is pointed at it.
struct Sso {
    child: Child,
    url: String,
    log: PathBuf,
    browser_log: PathBuf,
    /// PATH with the browser first.
    path: String,
}

impl Drop for Sso {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sso {
    fn start(s: &Stack) -> Sso {
        let log = s.path("sso.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/sso_server.py");
        let mut child = Command::new(venv().join("bin/python")).arg(script).args(["--moto", &s.moto_url]).arg("--log").arg(&log).stdout(Stdio::piped()).spawn().unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
        let url = format!("http://127.0.0.1:{}", port.trim());
        // The browser: records how it was opened and follows the page in the background,
        // as a real browser does while xdg-open returns.
        let bin = s.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let browser_log = s.path("browser.log");
        let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/browser.py");
        let wrapper = format!(
            "#!/bin/sh\nMFA_TRAY_TEST_BROWSER_LOG='{}' '{}' '{}' \"$1\" >/dev/null 2>&1 &\n",
            browser_log.display(),
            venv().join("bin/python").display(),
            browser.display()
        );
        std::fs::write(bin.join("xdg-open"), wrapper).unwrap();
        std::fs::set_permissions(bin.join("xdg-open"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        let mut env = s.env.lock().unwrap();
        env.push(("AWS_ENDPOINT_URL_SSO_OIDC".into(), url.clone()));
        env.push(("AWS_ENDPOINT_URL_SSO".into(), url.clone()));
        env.push(("PATH".into(), path.clone()));
        drop(env);
        Sso { child, url, log, browser_log, path }
    }

    fn config(&self, v: serde_json::Value) {
        let (status, text) = http(&self.url, "POST", "/_test/config", &[("Content-Type", "application/json")], v.to_string().as_bytes()).unwrap();
        assert_eq!(status, 200, "{text}");
    }

    /// The calls the stand-in saw, in order.
    fn calls(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| c["call"] == call).count()
    }

    fn grants(&self) -> Vec<String> {
        self.calls().iter().filter(|c| c["call"] == "CreateToken").map(|c| c["grantType"].as_str().unwrap().to_owned()).collect()
    }

    /// What the browser did, each time it was opened.
    fn browser(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.browser_log).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// The token file botocore looks for: ~/.aws/sso/cache/<sha1 of the session name>.json.
fn token_file(s: &Stack, session: &str) -> PathBuf {
    let script = "import hashlib, sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())";
    let out = Command::new(venv().join("bin/python")).args(["-c", script, session]).output().unwrap();
    s.path(&format!(".aws/sso/cache/{}.json", String::from_utf8(out.stdout).unwrap().trim()))
}

fn token(s: &Stack, session: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(token_file(s, session)).unwrap()).unwrap()
}

/// boto3 as `profile`: the caller's ARN, through botocore's own Identity Center provider.
fn boto3_arn(s: &Stack, profile: &str) -> Run {
    let script = format!("import boto3; print(boto3.Session(profile_name={profile:?}).client('sts').get_caller_identity()['Arn'])");
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.args(["-c", &script]);
    s.sandbox(&mut cmd);
    Run::from(cmd.output().unwrap())
}

const CONFIG_SSO: &str = "\
# My config. Hand-written; please keep this comment.
[default]
region = eu-west-1

[profile mine]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnly
region = eu-west-1
";

/// The user's config file (and no credentials file).
fn config(s: &Stack, text: &str) {
    std::fs::create_dir_all(s.path(".aws")).unwrap();
    std::fs::write(s.path(".aws/config"), text).unwrap();
}

/// The user's config with session corp added (not signed in).
fn added(s: &Stack) {
    config(s, CONFIG_SSO);
    s.run(&["sso", "add", "corp", "--start-url", START_URL, "--region", "eu-west-1"]).ok();
}

fn signed_in(s: &Stack, sso: &Sso) {
    added(s);
    let run = s.run(&["sso", "login", "corp"]);
    run.ok();
    assert_eq!(sso.browser().len(), 1, "{run:#?}");
}

#[test]
fn a_browser_sign_in_serves_every_tool_through_the_aws_cli_cache() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    config(&s, CONFIG_SSO);
    let run = s.run(&["sso", "add", "corp", "--start-url", START_URL, "--region", "eu-west-1"]);
    run.ok();
    let config = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    assert_eq!(config, format!("{CONFIG_SSO}\n[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"));
    // Nothing signed in yet: status says how.
    assert!(s.run(&["status"]).stdout.contains("corp  absent  (sign in with `mfa-tray sso login corp`)"));

    let run = s.run(&["sso", "login", "corp"]);
    run.ok();
    assert!(run.stderr.contains("Opened the sign-in page in your browser"), "{run:#?}");
    assert!(run.stdout.starts_with("Signed in to corp: the session's token is valid for 1h 00m"), "{run:#?}");
    // The browser was handed a private page, not the link, and came back to the listener.
    let opened = &sso.browser()[0];
    let page = opened["argv"][0].as_str().unwrap();
    assert!(page.starts_with(&s.path("run/mfa-tray/console-").display().to_string()) && opened["mode"] == "0o600", "{opened}");
    let link = opened["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/authorize?response_type=code&client_id=client-", sso.url)) && link.contains("&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge="), "{link}");
    assert!(!page.contains("state="), "{page}");
    assert_eq!(opened["status"], 200);
    assert!(opened["body"].as_str().unwrap().contains("you can close this tab"), "{opened}");
    // A PKCE client, with the loopback redirect AWS wants (no port).
    let reg = sso.calls().into_iter().find(|c| c["call"] == "RegisterClient").unwrap();
    assert_eq!(reg["grantTypes"], serde_json::json!(["authorization_code", "refresh_token"]));
    assert_eq!(reg["redirectUris"], serde_json::json!(["http://127.0.0.1/oauth/callback"]));
    assert_eq!(reg["issuerUrl"], START_URL);
    assert_eq!(sso.grants(), ["authorization_code"]);

    // The token is where the AWS CLI keeps it, in its shape, for the user alone.
    let file = token_file(&s, "corp");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions()) & 0o777, 0o600);
    let t = token(&s, "corp");
    let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["accessToken", "clientId", "clientSecret", "expiresAt", "refreshToken", "region", "registrationExpiresAt", "startUrl"]);
    assert!(t["expiresAt"].as_str().unwrap().ends_with('Z') && t["expiresAt"].as_str().unwrap().len() == 20, "{t}");
    assert_eq!((t["startUrl"].as_str(), t["region"].as_str()), (Some(START_URL), Some("eu-west-1")));

    // Every account and role becomes a profile; botocore and the AWS CLI use them, and
    // the user's own Identity Center profile, with no sign-in of their own.
    let run = s.run(&["sso", "sync", "corp"]);
    run.ok();
    assert!(run.stdout.contains("added    [profile Sandbox-AdministratorAccess]"), "{run:#?}");
    let py = boto3_arn(&s, "Sandbox-AdministratorAccess");
    assert_eq!(py.ok().stdout.trim(), "arn:aws:sts::111111111111:assumed-role/AdministratorAccess/sso-user");
    let py = boto3_arn(&s, "mine");
    assert_eq!(py.ok().stdout.trim(), "arn:aws:sts::111111111111:assumed-role/ReadOnly/sso-user");
    let mut aws = Command::new(venv().join("bin/aws"));
    aws.args(["sts", "get-caller-identity", "--profile", "Prod-ReadOnly", "--output", "text", "--query", "Arn"]);
    s.sandbox(&mut aws);
    let cli = Run::from(aws.output().unwrap());
    assert_eq!(cli.ok().stdout.trim(), "arn:aws:sts::222222222222:assumed-role/ReadOnly/sso-user");
    assert_eq!(sso.count("Authorize"), 1, "one sign-in in all");
    // And mfa-tray itself: whoami as the role, from the portal, nothing written.
    let run = s.run(&["whoami", "--profile", "mine"]);
    assert!(run.ok().stdout.contains("assumed-role/ReadOnly/sso-user"), "{run:#?}");
    assert!(!s.path(".aws/credentials").exists());
    // status lists the session and its roles.
    let status = s.run(&["status"]);
    assert!(status.stdout.contains("Identity Center sessions\n  corp"), "{status:#?}");
    assert!(status.stdout.contains("(renews itself)"), "{status:#?}");
    // No secret of the session in any of it.
    for secret in [t["accessToken"].as_str().unwrap(), t["refreshToken"].as_str().unwrap(), t["clientSecret"].as_str().unwrap()] {
        for out in [&run.stdout, &run.stderr, &status.stdout] {
            assert!(!out.contains(secret));
        }
    }
}

#[test]
fn a_device_code_sign_in_prints_the_link_and_the_code() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    added(&s);
    let mut child = s.command().args(["sso", "login", "corp", "--device-code"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let complete = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "ended before a link: {said}");
        said.push_str(&line);
        if let Some(rest) = line.strip_prefix("(or open ") {
            break rest.split_whitespace().next().unwrap().trim_end_matches(',').to_owned();
        }
    };
    assert!(said.contains(&format!("To sign in, open {}/device on any device and enter the code\n\n    ", sso.url)), "{said}");
    // The person enters the code on another device.
    let (status, _) = http(&sso.url, "GET", complete.trim_start_matches(&sso.url), &[], b"").unwrap();
    assert_eq!(status, 200);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(sso.browser().is_empty(), "no browser here");
    assert_eq!(sso.grants().last().map(String::as_str), Some("urn:ietf:params:oauth:grant-type:device_code"));
    let reg = sso.calls().into_iter().find(|c| c["call"] == "RegisterClient").unwrap();
    assert!(reg["grantTypes"].is_null(), "a device client: {reg}");
    assert!(token(&s, "corp")["refreshToken"].is_string());
}

#[test]
fn sync_follows_the_pages_updates_its_own_and_prunes_only_its_own() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    signed_in(&s, &sso);
    let before = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    // A profile of the user's that takes the name a sync would choose.
    let user = format!("{before}\n[profile Sandbox-ReadOnly]\nregion = us-east-1\n");
    std::fs::write(s.path(".aws/config"), &user).unwrap();
    let run = s.run(&["sso", "sync", "corp"]);
    run.ok();
    // Three accounts over two pages, four roles over pages of two: every one a profile.
    assert_eq!(sso.count("ListAccounts"), 2);
    let config = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    assert!(config.starts_with(&user), "the user's bytes come first, untouched");
    for (name, account, role) in [
        ("Sandbox-AdministratorAccess", "111111111111", "AdministratorAccess"),
        ("Sandbox-111111111111-ReadOnly", "111111111111", "ReadOnly"),
        ("Prod-ReadOnly", "222222222222", "ReadOnly"),
        ("prod-333333333333-ReadOnly", "333333333333", "ReadOnly"),
    ] {
        assert_eq!(section(&config, &format!("profile {name}")), [
            "sso_session = corp".to_owned(),
            format!("sso_account_id = {account}"),
            format!("sso_role_name = {role}"),
            "region = eu-west-1".to_owned(),
            "mfa_tray_sso_sync = corp".to_owned(),
        ], "{config}");
    }
    // The same again changes nothing.
    s.run(&["sso", "sync", "corp"]).ok();
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), config);
    // A role taken away: kept (and said) without --prune, removed with it; the user's
    // profiles stay whatever they are.
    sso.config(serde_json::json!({"accounts": {"111111111111": {"name": "Sandbox", "roles": ["AdministratorAccess"]}, "222222222222": {"name": "Prod", "roles": ["ReadOnly"]}}}));
    let run = s.run(&["sso", "sync", "corp"]);
    assert!(run.ok().stdout.contains("stale    [profile Sandbox-111111111111-ReadOnly]: its role is gone; `--prune` removes it"), "{run:#?}");
    let run = s.run(&["sso", "sync", "corp", "--prune"]);
    assert!(run.ok().stdout.contains("removed  [profile prod-333333333333-ReadOnly]"), "{run:#?}");
    let pruned = std::fs::read_to_string(s.path(".aws/config")).unwrap();
    assert!(pruned.starts_with(&user) && pruned.contains("[profile Sandbox-AdministratorAccess]") && !pruned.contains("Sandbox-111111111111-ReadOnly") && !pruned.contains("prod-333333333333"), "{pruned}");
    // Named by one of its profiles, the session syncs as itself: nothing changes.
    s.run(&["sso", "sync", "mine"]).ok();
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), pruned);
    // What a portal may list that no profile can hold (or that tries to write a section
    // of its own) is skipped and said; the rest is synced.
    sso.config(serde_json::json!({"accounts": {
        "111111111111": {"name": "Sandbox]\n[default", "roles": ["AdministratorAccess", "Admin\n[profile default]\nx = y", "Read Only"]},
        "222222222222": {"name": "Prod", "roles": ["ReadOnly"]},
        "12345": {"name": "Short", "roles": ["ReadOnly"]},
    }}));
    let run = s.run(&["sso", "sync", "corp"]);
    run.ok();
    assert_eq!(run.stdout.matches("skipped  ").count(), 3, "{run:#?}");
    assert!(run.stdout.contains(r#"skipped  "111111111111"/"Admin\n[profile default]\nx = y": not an account id and a role name a profile can hold"#), "{run:#?}");
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), pruned, "nothing new to write, nothing else touched");
    // botocore still reads the whole file.
    assert_eq!(boto3_arn(&s, "Prod-ReadOnly").ok().stdout.trim(), "arn:aws:sts::222222222222:assumed-role/ReadOnly/sso-user");
}

#[test]
fn an_expired_token_is_renewed_with_the_refresh_token_and_roles_are_assumed() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    signed_in(&s, &sso);
    s.run(&["sso", "sync", "corp"]).ok();
    // The token ran out (as after a night): the next use renews it, keeping the new
    // refresh token, with no sign-in.
    let file = token_file(&s, "corp");
    let mut t = token(&s, "corp");
    let old_refresh = t["refreshToken"].as_str().unwrap().to_owned();
    t["expiresAt"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&file, t.to_string()).unwrap();
    let run = s.run(&["assume", "Sandbox-AdministratorAccess"]);
    run.ok();
    assert!(run.stdout.contains("Assumed Sandbox-AdministratorAccess with the Identity Center session corp (GetRoleCredentials); no code needed."), "{run:#?}");
    assert_eq!(sso.grants(), ["authorization_code", "refresh_token"]);
    let renewed = token(&s, "corp");
    assert_ne!(renewed["refreshToken"].as_str().unwrap(), old_refresh, "the rotated refresh token is kept");
    assert_ne!(renewed["expiresAt"], "2020-01-01T00:00:00Z");
    assert_eq!(sso.count("Authorize"), 1, "no second sign-in");
    // The role's credentials are in [default] and sign requests.
    assert_eq!(value(&s.credentials(), "default", "mfa_tray_holds").as_deref(), Some("role Sandbox-AdministratorAccess"));
    let who = s.run(&["whoami"]);
    assert!(who.ok().stdout.contains("assumed-role/AdministratorAccess/sso-user"), "{who:#?}");
    // A background refresh gets new ones the same way.
    let run = s.run(&["refresh", "--force"]);
    assert!(run.ok().stdout.contains("refreshed    Sandbox-AdministratorAccess in [default]"), "{run:#?}");
    assert_eq!(sso.count("GetRoleCredentials"), 2, "one for assume, one for the refresh");

    // The portal stops taking the access token before its time: renewed once (the cache
    // left as it was meanwhile), and the role comes.
    let t = token(&s, "corp");
    let (status, _) = http(&sso.url, "POST", "/logout", &[("x-amz-sso_bearer_token", t["accessToken"].as_str().unwrap())], b"").unwrap();
    assert_eq!(status, 200);
    let run = s.run(&["assume", "Sandbox-AdministratorAccess"]);
    run.ok();
    assert_eq!(sso.count("Unauthorized"), 1);
    assert_eq!(sso.grants(), ["authorization_code", "refresh_token", "refresh_token"]);
    assert_ne!(token(&s, "corp")["accessToken"], t["accessToken"]);
    assert_eq!(sso.count("Authorize"), 1, "no sign-in");

    // A refresh token refused (the session was ended by the company): told to sign in,
    // nothing written.
    sso.config(serde_json::json!({"refuse_refresh": true}));
    let mut t = token(&s, "corp");
    t["expiresAt"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&file, t.to_string()).unwrap();
    let before = s.credentials();
    let run = s.run(&["assume", "Sandbox-AdministratorAccess"]);
    run.fails(3, "the Identity Center session corp has ended: renewing it was refused (InvalidGrantException): sign in with `mfa-tray sso login corp`");
    assert_eq!(s.credentials(), before);
    let run = s.run(&["refresh", "--force"]);
    assert!(run.stdout.contains("needs sign-in Sandbox-AdministratorAccess in [default]: the Identity Center session corp has ended; run `mfa-tray sso login corp`"), "{run:#?}");
}

#[test]
fn bad_input_is_refused_with_nothing_written() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    config(&s, CONFIG_SSO);
    s.run(&["sso", "add", "corp", "--start-url", "http://corp.awsapps.com/start", "--region", "eu-west-1"]).fails(2, "must begin with https://");
    s.run(&["sso", "add", "corp", "--start-url", START_URL, "--region", "EU West"]).fails(2, "is not an AWS region");
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), CONFIG_SSO);
    s.run(&["sso", "login", "nope"]).fails(2, "there is no Identity Center session named nope");
    s.run(&["sso", "add", "corp", "--start-url", START_URL, "--region", "eu-west-1"]).ok();
    s.run(&["sso", "add", "corp", "--start-url", START_URL, "--region", "eu-west-1"]).fails(2, "[sso-session corp] is already in");
    // Refused in the browser.
    sso.config(serde_json::json!({"deny": true}));
    s.run(&["sso", "login", "corp"]).fails(3, "signing in to corp: the sign-in was refused in the browser (access_denied)");
    assert!(!token_file(&s, "corp").exists());
    // A forged callback (another state) first: refused, and the sign-in goes on.
    sso.config(serde_json::json!({"deny": false}));
    let run = Run::from(s.command().env("MFA_TRAY_TEST_BROWSER", "tamper").args(["sso", "login", "corp"]).output().unwrap());
    run.ok();
    let tampered = sso.browser().last().cloned().unwrap();
    assert_eq!(tampered["forged_status"], 400, "the forged callback is refused: {tampered}");
    assert_eq!(tampered["status"], 200, "and the real one still signs in: {tampered}");
    assert_eq!(sso.grants(), ["authorization_code"], "one token, for the real one");
    // A role no longer assigned.
    let config = format!("{CONFIG_SSO}\n[profile gone]\nsso_session = corp\nsso_account_id = 222222222222\nsso_role_name = AdministratorAccess\n");
    std::fs::write(s.path(".aws/config"), format!("{}{}", std::fs::read_to_string(s.path(".aws/config")).unwrap(), &config[CONFIG_SSO.len()..])).unwrap();
    s.run(&["assume", "gone"]).fails(3, "is the role still assigned to you?");
    assert!(!s.path(".aws/credentials").exists());
    // Signing out: the portal's Logout, the token gone; tools are told to sign in.
    let run = s.run(&["sso", "logout", "corp"]);
    assert!(run.ok().stdout.contains("Signed out of corp"));
    assert_eq!(sso.count("Logout"), 1);
    assert!(!token_file(&s, "corp").exists());
    s.run(&["assume", "mine"]).fails(3, "the Identity Center session corp has not been signed in to: sign in with `mfa-tray sso login corp`");
}

/// A client registration that ended: the session cannot renew and says so, nothing is
/// written; the next sign-in registers anew.
#[test]
fn an_ended_registration_asks_for_a_sign_in_and_the_next_registers_anew() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    sso.config(serde_json::json!({"registration_seconds": 2}));
    signed_in(&s, &sso);
    std::thread::sleep(Duration::from_secs(3));
    let mut t = token(&s, "corp");
    t["expiresAt"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(token_file(&s, "corp"), t.to_string()).unwrap();
    let cache = std::fs::read_to_string(token_file(&s, "corp")).unwrap();
    s.run(&["assume", "mine"]).fails(3, "the Identity Center session corp has ended (its registration ended): sign in with `mfa-tray sso login corp`");
    assert!(!s.path(".aws/credentials").exists());
    assert_eq!(std::fs::read_to_string(token_file(&s, "corp")).unwrap(), cache, "the cache as it was");
    assert_eq!(sso.grants(), ["authorization_code"], "no refresh tried with an ended registration");
    sso.config(serde_json::json!({"registration_seconds": 3600}));
    s.run(&["sso", "login", "corp"]).ok();
    assert_eq!(sso.count("RegisterClient"), 2, "registered anew");
    s.run(&["assume", "mine"]).ok();
}

#[test]
fn console_opens_as_an_identity_center_role() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    signed_in(&s, &sso);
    // The federation endpoint's stand-in (as in tests/console.rs).
    let log = s.path("federation.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/federation.py");
    let mut fed = Command::new(venv().join("bin/python")).arg(script).arg("--log").arg(&log).stdout(Stdio::piped()).spawn().unwrap();
    let mut port = String::new();
    BufReader::new(fed.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let url = format!("http://127.0.0.1:{}/federation", port.trim());
    let run = Run::from(s.command().env("MFA_TRAY_SIGNIN_ENDPOINT", &url).args(["console", "mine", "--print", "--destination", "ec2/home#Instances", "--region", "eu-west-1"]).output().unwrap());
    let _ = fed.kill();
    let _ = fed.wait();
    run.ok();
    assert!(run.stdout.trim().starts_with(&format!("{url}?Action=login&Issuer=mfa-tray&Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fec2%2Fhome%3Fregion%3Deu-west-1%23Instances&SigninToken=token-1")), "{run:#?}");
    assert!(run.stderr.contains("with the Identity Center session corp"), "{run:#?}");
    let sent: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    assert!(sent["session"]["sessionId"].as_str().unwrap().starts_with("ASIA"), "{sent}");
    assert_eq!(sso.count("GetRoleCredentials"), 1);
    assert!(!s.path(".aws/credentials").exists(), "nothing written");
}

/// `n` tools asking for profile mine at once, as `credential_process`: each one's
/// AccessKeyId (each must succeed).
fn tools_at_once(s: &Stack, n: usize) -> Vec<String> {
    let tools: Vec<Child> = (0..n)
        .map(|_| s.command().args(["credential-process", "mine"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    tools
        .into_iter()
        .map(|t| {
            let run = Run::from(t.wait_with_output().unwrap());
            let v: serde_json::Value = serde_json::from_str(&run.ok().stdout).unwrap_or_else(|e| panic!("{e}: {run:#?}"));
            v["AccessKeyId"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Ten tools asking the tray for an Identity Center role with no sign-in: one browser
/// sign-in through the tray, shared by all.
#[test]
fn ten_tools_waiting_on_one_sign_in_share_it() {
    use support::desktop::{wait_for, Bus, Watcher};
    let s = Stack::start();
    let sso = Sso::start(&s);
    added(&s);
    let bus = Bus::start();
    let (_watcher, _w) = Watcher::serve(&bus);
    let mut tray = s.tray_command(&bus).env("PATH", &sso.path).stdout(Stdio::null()).spawn().unwrap();
    wait_for(Duration::from_secs(30), "the tray's socket", || s.path("run/mfa-tray/tray.sock").exists().then_some(()));
    let keys = tools_at_once(&s, 10);
    let _ = tray.kill();
    let _ = tray.wait();
    assert_eq!(sso.browser().len(), 1, "one sign-in in the browser");
    assert_eq!(sso.grants(), ["authorization_code"]);
    assert!(keys.iter().all(|k| *k == keys[0]), "one role session for all: {keys:?}");
    assert_eq!(sso.count("GetRoleCredentials"), 1);
    assert!(!s.path(".aws/credentials").exists());
}

/// With no tray, tools that find the session ended at once take turns: one browser
/// sign-in, and every tool its role.
#[test]
fn tools_without_a_tray_share_one_sign_in() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    added(&s);
    let keys = tools_at_once(&s, 5);
    assert!(keys.iter().all(|k| k.starts_with("ASIA")), "{keys:?}");
    assert_eq!(sso.browser().len(), 1, "one browser sign-in for five tools");
    assert_eq!(sso.grants(), ["authorization_code"]);
    assert!(!s.path(".aws/credentials").exists());
}

/// The tray renews a session's token by itself before it expires (the rotated refresh
/// token kept); when renewal is refused it notifies once with a "Sign in" action, and
/// that action signs in in the browser.
#[test]
fn the_tray_keeps_a_session_alive_and_asks_for_a_sign_in_when_it_cannot() {
    use support::desktop::{wait_for, Bus, Notifications, Watcher};
    let s = Stack::start();
    let sso = Sso::start(&s);
    // Tokens of 10 minutes: inside botocore's 15-minute renewal window from the start.
    sso.config(serde_json::json!({"token_seconds": 600}));
    signed_in(&s, &sso);
    // (The sync renews the 10-minute token itself, as anything using it would.)
    s.run(&["sso", "sync", "corp"]).ok();
    assert_eq!(sso.grants(), ["authorization_code", "refresh_token"]);
    let first = token(&s, "corp");
    let bus = Bus::start();
    let (notes, notes_conn) = Notifications::serve(&bus);
    let (watcher, _w) = Watcher::serve(&bus);
    let mut tray = s.tray_command(&bus).env("PATH", &sso.path).stdout(Stdio::null()).spawn().unwrap();
    // The menu of someone with Identity Center alone: no code to enter; the roles by
    // session, then account.
    let (item_bus, item_path) = watcher.item(Duration::from_secs(30));
    let conn = bus.connect();
    let labels = wait_for(Duration::from_secs(15), "the menu", || {
        let (_, entries) = support::desktop::menu(&conn, &item_bus, &item_path);
        let labels: Vec<String> = entries.into_iter().map(|e| e.label).filter(|l| !l.is_empty()).collect();
        labels.iter().any(|l| l == "Identity Center…").then_some(labels)
    });
    assert_eq!(labels[0], "Identity Center corp: signed in");
    assert!(!labels.iter().any(|l| l == "Enter MFA code…"), "{labels:?}");
    let at = |l: &str| labels.iter().position(|x| x == l).unwrap_or_else(|| panic!("{l} not in {labels:?}"));
    assert!(at("Identity Center corp") < at("111111111111") && at("111111111111") < at("Sandbox-AdministratorAccess") && at("Sandbox-ReadOnly") < at("222222222222") && at("222222222222") < at("Prod-ReadOnly"), "{labels:?}");
    let renewed = wait_for(Duration::from_secs(30), "the tray to renew the token", || {
        let t = token(&s, "corp");
        (t["accessToken"] != first["accessToken"]).then_some(t)
    });
    assert_eq!(sso.grants(), ["authorization_code", "refresh_token", "refresh_token"]);
    assert_ne!(renewed["refreshToken"], first["refreshToken"], "the rotated refresh token is kept");
    assert_eq!((renewed["clientId"].clone(), renewed["startUrl"].clone()), (first["clientId"].clone(), first["startUrl"].clone()));
    assert!(notes.all().is_empty(), "a renewal is not news: {:?}", notes.all());

    // The company ends the session: renewal is refused. The tray says so once.
    sso.config(serde_json::json!({"refuse_refresh": true}));
    let mut t = token(&s, "corp");
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(5)).replace_nanosecond(0).unwrap();
    t["expiresAt"] = soon.format(&time::format_description::well_known::Rfc3339).unwrap().into();
    std::fs::write(token_file(&s, "corp"), t.to_string()).unwrap();
    let note = wait_for(Duration::from_secs(30), "the sign-in notice", || notes.all().first().cloned());
    assert_eq!(note.summary, "Identity Center session corp needs a sign-in");
    assert!(note.body.contains("renewing it was refused (InvalidGrantException)") && note.body.contains("Roles from it stop refreshing"), "{}", note.body);
    assert_eq!(note.actions, ["sign-in", "Sign in"]);
    let secrets = [&t["accessToken"], &t["refreshToken"], &t["clientSecret"]].map(|v| v.as_str().unwrap().to_owned());
    assert!(secrets.iter().all(|x| !note.body.contains(x.as_str()) && !note.summary.contains(x.as_str())));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(notes.all().len(), 1, "said once: {:?}", notes.all());

    // "Sign in" on the notice: the browser, and a new token.
    sso.config(serde_json::json!({"refuse_refresh": false}));
    notes_conn.emit_signal(None::<&str>, "/org/freedesktop/Notifications", "org.freedesktop.Notifications", "ActionInvoked", &(1u32, "sign-in")).unwrap();
    let signed = wait_for(Duration::from_secs(30), "the sign-in from the notice", || {
        let t = token(&s, "corp");
        let browser_grants = sso.grants().iter().filter(|g| *g == "authorization_code").count();
        (t["accessToken"] != renewed["accessToken"] && browser_grants == 2).then_some(t)
    });
    let _ = tray.kill();
    let _ = tray.wait();
    assert_eq!(sso.browser().len(), 2, "the second sign-in in the browser");
    // The sign-in, the sync's renewal, the tray's, the refused one (once), the sign-in
    // from the notice.
    assert_eq!(sso.grants()[..5], ["authorization_code", "refresh_token", "refresh_token", "refresh_token", "authorization_code"]);
    assert_ne!(signed["refreshToken"], renewed["refreshToken"]);
}

/// The window's Identity Center view, driven as a person would: add a session, sign in
/// in the browser, add its roles, use one; then sign in with a code shown in the window.
#[test]
fn the_window_adds_a_session_signs_in_and_uses_a_role() {
    use support::desktop::{wait_for, Bus};
    use support::webdriver::Driver;
    let s = Stack::start();
    let sso = Sso::start(&s);
    config(&s, CONFIG_SSO);
    let bus = Bus::start();
    let d = Driver::start(&s, &bus, "sso");
    let click = |list: &str, text: &str| {
        let js = format!("const b = [...document.querySelectorAll('#{list} button')].find(b => b.textContent === {text:?}); if (b) b.click(); return !!b;");
        wait_for(Duration::from_secs(10), text, || d.script(&js).as_bool().filter(|b| *b));
    };
    let done = |what: &str, f: &dyn Fn(&str) -> bool| {
        wait_for(Duration::from_secs(30), what, || {
            let t = d.script("const e = document.getElementById('sso-error'); return e.hidden ? document.getElementById('sso-done').textContent : 'ERROR ' + e.textContent");
            let t = t.as_str().unwrap_or_default().to_owned();
            assert!(!t.starts_with("ERROR"), "{t}");
            f(&t).then_some(t)
        })
    };
    let list = || d.script("return document.getElementById('sso-list').textContent").as_str().unwrap_or_default().to_owned();
    wait_for(Duration::from_secs(15), "the empty list", || list().contains("No session yet").then_some(()));

    d.type_into("#sso-name", "corp");
    d.type_into("#sso-url", START_URL);
    d.type_into("#sso-region", "eu-west-1");
    d.click("#sso-add");
    done("the session added", &|t| t.contains("corp"));
    assert_eq!(std::fs::read_to_string(s.path(".aws/config")).unwrap(), format!("{CONFIG_SSO}\n[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"));
    wait_for(Duration::from_secs(10), "corp listed", || list().contains("corp: not signed in").then_some(()));

    // One click: the browser, the sign-in, the window says so.
    click("sso-list", "Sign in");
    let text = done("the sign-in", &|t| t.starts_with("Signed in to corp"));
    assert!(text.ends_with(", and it renews itself."), "{text}");
    assert_eq!(sso.browser().len(), 1);
    wait_for(Duration::from_secs(10), "corp signed in", || list().contains("corp: signed in (renews itself)").then_some(()));

    click("sso-list", "Add its roles");
    assert_eq!(done("the sync", &|t| t.contains("new profiles")), "4 new profiles, 0 already there.");
    let roles = || d.script("return document.getElementById('sso-roles').textContent").as_str().unwrap_or_default().to_owned();
    wait_for(Duration::from_secs(10), "the roles", || roles().contains("Prod-ReadOnly (222222222222)").then_some(()));
    let js = "const li = [...document.querySelectorAll('#sso-roles li')].find(l => l.textContent.startsWith('Prod-ReadOnly')); li.querySelector('button').click(); return true;";
    d.script(js);
    done("the role in use", &|t| t.contains("Prod-ReadOnly"));
    let creds = s.credentials();
    assert_eq!(value(&creds, "default", "mfa_tray_holds").as_deref(), Some("role Prod-ReadOnly"), "{creds}");
    d.save_screenshot("sso-window.png");

    // With a code: the window shows the link and the code; entered elsewhere, it signs in.
    click("sso-list", "With a code");
    let code = wait_for(Duration::from_secs(20), "the code in the window", || {
        let c = d.script("return document.getElementById('sso-device').hidden ? '' : document.getElementById('sso-code').textContent");
        c.as_str().filter(|c| !c.is_empty()).map(str::to_owned)
    });
    assert_eq!(d.text("#sso-uri"), format!("{}/device", sso.url));
    let (status, _) = http(&sso.url, "GET", &format!("/device?user_code={code}"), &[], b"").unwrap();
    assert_eq!(status, 200);
    done("the device sign-in", &|t| t.starts_with("Signed in to corp"));
    assert_eq!(sso.grants().last().map(String::as_str), Some("urn:ietf:params:oauth:grant-type:device_code"));
    assert_eq!(sso.browser().len(), 1, "no second browser");

    // The page never held a token, a client secret or a role's secret key.
    let page = d.script("return document.documentElement.outerHTML").as_str().unwrap().to_owned();
    let t = token(&s, "corp");
    for secret in [t["accessToken"].as_str().unwrap(), t["refreshToken"].as_str().unwrap(), t["clientSecret"].as_str().unwrap()] {
        assert!(!page.contains(secret), "a token in the page");
    }
    assert!(!page.contains(&value(&creds, "default", "aws_secret_access_key").unwrap()));
}

/// The Rust SDK's own loader (aws-config), run as a child of this test binary with the
/// sandbox's HOME: it reads the config mfa-tray wrote, finds the session's token in the
/// cache and gets the role's credentials from the portal with it.
#[test]
fn the_rust_sdk_reads_the_session_mfa_tray_signed_in_to() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    signed_in(&s, &sso);
    s.run(&["sso", "sync", "corp"]).ok();
    let mut child = Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", "rust_sdk_probe", "--nocapture"]).env("MFA_TRAY_SDK_PROBE", "Prod-ReadOnly");
    s.sandbox(&mut child);
    let run = Run::from(child.output().unwrap());
    let t = token(&s, "corp");
    assert!(run.stdout.contains(&format!("token {}\n", t["accessToken"].as_str().unwrap())), "{run:#?}");
    let key = run.stdout.lines().find_map(|l| l.strip_prefix("key ")).unwrap_or_else(|| panic!("{run:#?}"));
    assert!(key.starts_with("ASIA"), "{run:#?}");
    assert_eq!(sso.count("GetRoleCredentials"), 1);
    let call = sso.calls().into_iter().find(|c| c["call"] == "GetRoleCredentials").unwrap();
    assert_eq!((call["account"].as_str(), call["role"].as_str()), (Some("222222222222"), Some("ReadOnly")), "{call}");
    assert_eq!(sso.grants(), ["authorization_code"], "no renewal, no sign-in");
}

/// The child of the test above (does nothing unless MFA_TRAY_SDK_PROBE names a profile).
#[test]
fn rust_sdk_probe() {
    let Ok(profile) = std::env::var("MFA_TRAY_SDK_PROBE") else { return };
    use aws_credential_types::provider::{token::ProvideToken, ProvideCredentials};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let tokens = aws_config::profile::ProfileFileTokenProvider::builder().profile_name(&profile).build();
        let token = tokens.provide_token().await.unwrap();
        println!("token {}", token.token());
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).profile_name(&profile).load().await;
        let creds = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        println!("key {}", creds.access_key_id());
    });
}

/// README's Identity Center example is what the program prints (times and ids aside):
/// `sso add`, a browser sign-in and `sso sync` against the stand-in, with its two roles.
#[test]
fn the_readme_example_is_what_the_program_prints() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    sso.config(serde_json::json!({"accounts": {"111111111111": {"name": "Sandbox", "roles": ["AdministratorAccess"]}, "222222222222": {"name": "Prod", "roles": ["ReadOnly"]}}}));
    config(&s, "[default]\nregion = eu-west-1\n");
    let block = blocks(&readme(), "<!-- checked: Identity Center -->").concat();
    let mut differences = Vec::new();
    let mut ran = 0;
    for (command, shown) in transcript(&block) {
        if let Some(args) = command.strip_prefix("mfa-tray ") {
            let run = s.run(&args.split_whitespace().collect::<Vec<_>>());
            // As a terminal shows them: the prompt (stderr) comes before the result.
            compare(&s, &mut differences, &format!("`{command}`"), &format!("{}{}", run.ok().stderr, run.stdout), &shown);
            ran += 1;
        }
    }
    assert_eq!(ran, 3, "sso add, login and sync");
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

/// `exec` and `export` serve an Identity Center role as they serve others: the command
/// runs as the role, with nothing written to the credentials file.
#[test]
fn exec_and_export_serve_an_identity_center_role() {
    let s = Stack::start();
    let sso = Sso::start(&s);
    signed_in(&s, &sso);
    let python = venv().join("bin/python");
    let mut cmd = s.command();
    let run = Run::from(cmd.env("AWS_PROFILE", "other").args(["exec", "mine", "--", python.to_str().unwrap(), "-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"]).output().unwrap());
    assert_eq!(run.ok().stdout.trim(), "arn:aws:sts::111111111111:assumed-role/ReadOnly/sso-user");
    let json = s.run(&["export", "mine", "--format", "json"]);
    assert!(json.ok().stdout.contains("\"Version\":1"), "{json:#?}");
    assert!(!s.path(".aws/credentials").exists(), "nothing written");
}
