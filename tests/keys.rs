//! Accounts and their long-term keys, through the real binary: GNOME Keyring on a private
//! bus as the OS keychain (checked with `secret-tool`), moto's IAM and STS behind the MFA
//! proxy, with moto checking every signature and policy once the set-up calls are done.

mod support;

use std::fs;
use std::io::Write;
use std::process::Stdio;

use support::{section, value, xml_value, Keyring, Opts, Run, Stack, CONFIG, CREDENTIALS, ROLE_ARN, SERIAL};

/// moto's IAM: user alice with an allow-all policy, a key, a virtual MFA device named
/// like the proxy's, and the Admin role. Returns the stack and alice's key.
fn aws_with_alice(extra_setup_calls: u32, more: impl FnOnce(&Stack)) -> (Stack, String, String) {
    let s = Stack::start_with(Opts { auth_after: Some(8 + extra_setup_calls) });
    // moto checks signatures and policies after the set-up calls below.
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"sts:AssumeRole"}]}"#;
    s.iam(&[("Action", "CreateUser"), ("UserName", "alice")]);
    let key = s.iam(&[("Action", "CreateAccessKey"), ("UserName", "alice")]);
    s.iam(&[("Action", "PutUserPolicy"), ("UserName", "alice"), ("PolicyName", "all"), ("PolicyDocument", allow_all)]);
    s.iam(&[("Action", "CreateVirtualMFADevice"), ("VirtualMFADeviceName", "alice")]);
    s.iam(&[("Action", "EnableMFADevice"), ("UserName", "alice"), ("SerialNumber", SERIAL), ("AuthenticationCode1", "123456"), ("AuthenticationCode2", "654321")]);
    s.iam(&[("Action", "CreateRole"), ("RoleName", "Admin"), ("AssumeRolePolicyDocument", trust)]);
    s.iam(&[("Action", "PutRolePolicy"), ("RoleName", "Admin"), ("PolicyName", "all"), ("PolicyDocument", allow_all)]);
    s.create_bucket("alice-bucket");
    more(&s);
    (s, xml_value(&key, "AccessKeyId"), xml_value(&key, "SecretAccessKey"))
}

/// Runs mfa-tray with `input` on standard input. A run that refuses before it reads its
/// input (a name already taken, say) may have closed it: that is not the test's failure.
fn run_with(s: &Stack, args: &[&str], input: &str) -> Run {
    let mut child = s.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    Run::from(child.wait_with_output().unwrap())
}

fn read(s: &Stack, rel: &str) -> Option<String> {
    fs::read_to_string(s.path(rel)).ok()
}

fn stored(kr: &Keyring, account: &str) -> Option<(String, String)> {
    let json: serde_json::Value = serde_json::from_str(&kr.lookup(account)?).unwrap();
    Some((json["aws_access_key_id"].as_str().unwrap().to_owned(), json["aws_secret_access_key"].as_str().unwrap().to_owned()))
}

/// alice's access keys as IAM lists them to boto3, signed with one of them.
fn listed_keys(s: &Stack, id: &str, secret: &str) -> Vec<String> {
    let script = "import boto3, sys\n\
        iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n\
        print(' '.join(k['AccessKeyId'] for k in iam.list_access_keys(UserName='alice')['AccessKeyMetadata']))";
    let out = std::process::Command::new(support::venv().join("bin/python")).args(["-c", script, &s.moto_url, id, secret]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn an_account_added_from_an_empty_home_keeps_its_keys_in_the_keychain_only() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();

    let run = run_with(&s, &["keys", "add", "corp", "--region", "eu-west-1"], &format!("{id}\n{secret}\n"));
    run.ok();
    assert!(run.stderr.contains("arn:aws:iam::123456789012:user/alice"), "{run:#?}");
    assert!(run.stdout.contains("Next: `mfa-tray login corp`"), "{run:#?}");
    assert_eq!(stored(&kr, "corp"), Some((id.clone(), secret.clone())));
    // The device was found with ListMFADevices; the config is exactly the new profile.
    assert_eq!(
        read(&s, ".aws/config").unwrap(),
        format!("[profile corp]\nmfa_serial = {SERIAL}\nmfa_tray_keys = keychain\nregion = eu-west-1\n")
    );
    assert_eq!(read(&s, ".aws/credentials"), None, "no credentials file yet");

    s.run(&["role", "add", "prod-admin", "--arn", ROLE_ARN, "--source", "corp", "--session-name", "alice"]).ok();
    assert!(read(&s, ".aws/config").unwrap().ends_with(&format!(
        "\n\n[profile prod-admin]\nrole_arn = {ROLE_ARN}\nsource_profile = corp\nrole_session_name = alice\n"
    )));

    // Login and AssumeRole with MFA sign with the keys from the keychain (moto checks
    // the signatures; it does not accept its own MFA sessions' tokens for AssumeRole).
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin", "--duration", "2h", "--code", &s.code(1)]).ok();
    let run = s.run(&["buckets"]);
    run.ok();
    assert!(run.stdout.contains("alice-bucket"), "{run:#?}");
    let creds = s.credentials();
    assert!(!creds.contains(&id) && !creds.contains(&secret), "no long-term key in the file:\n{creds}");
    assert!(creds.contains("mfa_tray_holds = role prod-admin"));

    let status: serde_json::Value = serde_json::from_str(&s.run(&["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(status["sessions"][0]["keys"], "keychain");
    assert!(s.run(&["status"]).stdout.contains("keys in keychain"));
}

#[test]
fn bad_accounts_are_refused_with_nothing_stored_anywhere() {
    let bob = std::cell::RefCell::new(String::new());
    let (s, id, secret) = aws_with_alice(3, |s| {
        // bob has keys but no MFA device.
        s.iam(&[("Action", "CreateUser"), ("UserName", "bob")]);
        s.iam(&[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "all"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)]);
        *bob.borrow_mut() = s.iam(&[("Action", "CreateAccessKey"), ("UserName", "bob")]);
    });
    let bob = bob.into_inner();
    let (bob_id, bob_secret) = (xml_value(&bob, "AccessKeyId"), xml_value(&bob, "SecretAccessKey"));
    let kr = s.keyring();
    s.files(CREDENTIALS, CONFIG);
    let before = (s.credentials_bytes(), fs::read(s.path(".aws/config")).unwrap());
    let unchanged = |run: &Run, account: &str| {
        assert_eq!((s.credentials_bytes(), fs::read(s.path(".aws/config")).unwrap()), before, "{run:#?}");
        assert_eq!(kr.lookup(account), None, "nothing stored for {account}: {run:#?}");
    };

    // A wrong secret: GetCallerIdentity refuses.
    let run = run_with(&s, &["keys", "add", "work"], &format!("{id}\nwrong{}\n", &secret[5..]));
    run.fails(3, "does not match");
    unchanged(&run, "work");
    // An unknown key id.
    let run = run_with(&s, &["keys", "add", "work"], &format!("AKIAUNKNOWN000000000\n{secret}\n"));
    run.fails(3, "does not recognise");
    unchanged(&run, "work");
    // Temporary credentials, half a pair, and a secret with a space.
    run_with(&s, &["keys", "add", "work"], &format!("ASIAIOSFODNN7EXAMPLE\n{secret}\n")).fails(2, "temporary credentials");
    run_with(&s, &["keys", "add", "work"], &format!("{id}\n")).fails(2, "two lines");
    run_with(&s, &["keys", "add", "work"], &format!("{id}\nsecret with spaces in it\n")).fails(2, "not a secret");
    // A user without an MFA device.
    let run = run_with(&s, &["keys", "add", "work"], &format!("{bob_id}\n{bob_secret}\n"));
    run.fails(2, "no MFA device");
    unchanged(&run, "work");
    // Names already taken, and names that cannot be profiles.
    run_with(&s, &["keys", "add", "corp"], &format!("{id}\n{secret}\n")).fails(2, "already exists");
    run_with(&s, &["keys", "add", "personal"], &format!("{id}\n{secret}\n")).fails(2, "already exists");
    run_with(&s, &["keys", "add", "default"], &format!("{id}\n{secret}\n")).fails(2, "active role");
    run_with(&s, &["keys", "add", "my corp"], &format!("{id}\n{secret}\n")).fails(2, "cannot be a profile name");
    run_with(&s, &["keys", "add", "x]\n[evil"], &format!("{id}\n{secret}\n")).fails(2, "cannot be a profile name");
    // A bad serial, and a role whose source is not an account.
    run_with(&s, &["keys", "add", "work", "--mfa-serial", "nope"], &format!("{id}\n{secret}\n")).fails(2, "is not an MFA device");
    s.run(&["role", "add", "r", "--arn", ROLE_ARN, "--source", "nobody"]).fails(2, "no account (MFA session) profile named nobody");
    s.run(&["role", "add", "r", "--arn", "arn:aws:iam::1:user/x", "--source", "corp"]).fails(2, "role");
    s.run(&["role", "add", "prod-admin", "--arn", ROLE_ARN, "--source", "corp"]).fails(2, "already exists");
    unchanged(&s.run(&["status"]), "work");

    // No keychain at all: a clear message, the file offered, nothing written.
    s.env.lock().unwrap().push(("DBUS_SESSION_BUS_ADDRESS".into(), format!("unix:path={}", s.path("no-bus").display())));
    let run = run_with(&s, &["keys", "add", "work"], &format!("{id}\n{secret}\n"));
    run.fails(4, "--store file");
    assert!(run.stderr.contains("keychain is not available"), "{run:#?}");
    unchanged(&run, "work");
    // ... and with --store file the account works from [work-long-term].
    run_with(&s, &["keys", "add", "work", "--store", "file", "--code", &s.code(0)], &format!("{id}\n{secret}\n")).ok();
    let creds = s.credentials();
    assert!(creds.starts_with(std::str::from_utf8(&before.0).unwrap()), "appended only:\n{creds}");
    assert_eq!(value(&creds, "work-long-term", "aws_access_key_id").as_deref(), Some(id.as_str()));
    assert!(value(&creds, "work", "mfa_tray_expiration").is_some(), "logged in:\n{creds}");
    assert!(!run_with(&s, &["keys", "add", "x"], "").stderr.contains(&secret));
}

#[test]
fn import_moves_keys_into_the_keychain_and_export_moves_them_back() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    let original = CREDENTIALS.replace("AKIAALICEEXAMPLE0001", &id).replace("alice/long/term/secret", &secret);
    s.files(&original, CONFIG);

    let run = s.run(&["keys", "import", "corp"]);
    run.ok();
    assert!(run.stdout.contains("its previous version (the keys included) stays in"), "says where the old copy is: {run:#?}");
    assert_eq!(stored(&kr, "corp"), Some((id.clone(), secret.clone())));
    // The one deletion: exactly the section, every other byte kept; the old file kept aside.
    let expected = original.replace(&format!("[corp-long-term]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n"), "");
    assert_eq!(s.credentials(), expected);
    assert!(expected.starts_with("# My AWS keys. Hand-written; please keep this comment.\n\n; an unrelated profile\n[personal]"), "{expected}");
    assert_eq!(read(&s, ".aws/.credentials.mfa-tray-previous").unwrap(), original);
    assert_eq!(read(&s, ".aws/config").unwrap(), CONFIG.replace("region = eu-west-1\n\n[profile prod", "region = eu-west-1\nmfa_tray_keys = keychain\n\n[profile prod"));

    // Every flow works from the keychain.
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin", "--duration", "2h", "--code", &s.code(1)]).ok();
    s.run(&["whoami"]).ok();
    assert!(!s.credentials().contains(&secret));
    // A second import has nothing to move.
    s.run(&["keys", "import", "corp"]).fails(2, "no keys in [corp-long-term]");

    s.run(&["keys", "export", "corp", "--to-file"]).ok();
    assert_eq!(kr.lookup("corp"), None);
    assert_eq!(value(&s.credentials(), "corp-long-term", "aws_secret_access_key").as_deref(), Some(secret.as_str()));
    assert!(read(&s, ".aws/config").unwrap().contains("mfa_tray_keys = file\n"));
    // The keys in the file sign requests (moto checks; no third code needed).
    let run = s.run(&["whoami", "--profile", "corp-long-term"]);
    run.ok();
    assert!(run.stdout.contains("user/alice"), "{run:#?}");
}

/// Holds mfa-tray's lock on `file` (as another mfa-tray would) until dropped.
struct Held(std::process::Child);

impl Held {
    fn lock(s: &Stack, file: &str) -> Held {
        use std::io::{BufRead, BufReader};
        let script = "import fcntl, sys\nf = open(sys.argv[1], 'a+')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()\n";
        let mut child = std::process::Command::new(support::venv().join("bin/python"))
            .args(["-c", script])
            .arg(s.path(&format!(".aws/.{file}.mfa-tray.lock")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "held");
        Held(child)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// `keys export` writes the keys into the file, then tells the config; when that fails
/// (here: another mfa-tray holds the config's lock for longer than the timeout), the
/// keys written to the file are taken out again: the file is as it was, and the keys are
/// where the profile says, in the keychain.
#[test]
fn an_export_whose_config_edit_fails_leaves_no_keys_in_the_file() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    let original = CREDENTIALS.replace("AKIAALICEEXAMPLE0001", &id).replace("alice/long/term/secret", &secret);
    s.files(&original, CONFIG);
    s.run(&["keys", "import", "corp"]).ok();
    let (credentials, config) = (s.credentials(), read(&s, ".aws/config").unwrap());
    fs::create_dir_all(s.path("mfa-tray-config")).unwrap();
    fs::write(s.path("mfa-tray-config/settings.toml"), "lock_timeout_seconds = 3\n").unwrap();

    // The export's checks pass and it waits for the credentials file; meanwhile the
    // config's lock is taken, so its last step waits in vain.
    let held_credentials = Held::lock(&s, "credentials");
    let export = s.command().args(["keys", "export", "corp", "--to-file"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let held_config = Held::lock(&s, "config");
    drop(held_credentials);
    let run = Run::from(export.wait_with_output().unwrap());
    drop(held_config);
    run.fails(4, "is being written by another mfa-tray");
    // (It got as far as writing the keys: this is the take-back, not a refusal before.)
    assert!(run.stderr.contains("the keys written to [corp-long-term] were taken out again (they stay in the keychain, where the profile says they are)"), "{run:#?}");
    // The copy of the previous version does not keep them either.
    assert!(!read(&s, ".aws/.credentials.mfa-tray-previous").unwrap_or_default().contains(&secret));
    assert_eq!(s.credentials(), credentials, "the keys written to the file were taken out again");
    assert!(!s.credentials().contains(&secret));
    assert_eq!(read(&s, ".aws/config").unwrap(), config);
    assert_eq!(stored(&kr, "corp"), Some((id, secret)));
    // With nothing in the way, it goes through.
    s.run(&["keys", "export", "corp", "--to-file"]).ok();
}

#[test]
fn import_refuses_to_lose_other_keys_in_the_section() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    let original = format!("[corp-long-term]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\nregion = us-west-2\n");
    s.files(&original, CONFIG);
    s.run(&["keys", "import", "corp"]).fails(2, "also holds region");
    assert_eq!(s.credentials(), original);
    assert_eq!(kr.lookup("corp"), None);
    assert_eq!(read(&s, ".aws/config").unwrap(), CONFIG);
}

#[test]
fn rotate_replaces_the_key_in_aws_and_where_it_was_stored() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    run_with(&s, &["keys", "add", "corp"], &format!("{id}\n{secret}\n")).ok();

    // It deletes a key in IAM, so it is confirmed like `keys remove`.
    s.run(&["keys", "rotate", "corp"]).fails(2, "pass --yes");
    assert_eq!(stored(&kr, "corp").unwrap().0, id, "nothing rotated without a confirmation");
    let run = s.run(&["keys", "rotate", "corp", "--yes"]);
    run.ok();
    let (new_id, new_secret) = stored(&kr, "corp").unwrap();
    assert_ne!(new_id, id);
    assert!(run.stdout.contains(&format!("{new_id} is stored and works")) && run.stdout.contains(&format!("Deleted the old key {id}")), "{run:#?}");
    assert_eq!(listed_keys(&s, &new_id, &new_secret), vec![new_id.clone()], "the old key is gone from IAM");
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();

    // Keys in the file are rotated in place.
    s.run(&["keys", "export", "corp", "--to-file"]).ok();
    let before = s.credentials();
    s.run(&["keys", "rotate", "corp", "--yes"]).ok();
    let after = s.credentials();
    let newer = value(&after, "corp-long-term", "aws_access_key_id").unwrap();
    assert_ne!(newer, new_id);
    let newer_secret = value(&after, "corp-long-term", "aws_secret_access_key").unwrap();
    assert_eq!(after, before.replace(&new_id, &newer).replace(&new_secret, &newer_secret));
    assert_eq!(listed_keys(&s, &newer, &newer_secret), vec![newer]);
}

#[test]
fn removed_keys_are_gone_and_login_says_how_to_add_them() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    run_with(&s, &["keys", "add", "corp", "--code", &s.code(0)], &format!("{id}\n{secret}\n")).ok();
    assert!(kr.lookup("corp").is_some());
    // Irreversible, so confirmed: without a terminal only --yes does.
    s.run(&["keys", "remove", "corp"]).fails(2, "pass --yes");
    assert!(kr.lookup("corp").is_some());
    s.run(&["keys", "remove", "corp", "--yes"]).ok();
    assert_eq!(kr.lookup("corp"), None);
    s.run(&["login", "corp", "--code", &s.code(1)]).fails(2, "keys add corp");
    s.run(&["keys", "remove", "corp", "--yes"]).fails(2, "no keys for corp");
    // The account, which has logged in ([corp] holds its session), gets keys again.
    let session = value(&s.credentials(), "corp", "mfa_tray_holds");
    assert_eq!(session.as_deref(), Some("mfa-session corp"));
    run_with(&s, &["keys", "add", "corp"], &format!("{id}\n{secret}\n")).ok();
    // Step +1 was never sent (that login stopped before STS), and is not older than step 0.
    s.run(&["login", "corp", "--code", &s.code(1)]).ok();
    // Keys in the file are the user's to delete.
    s.files(CREDENTIALS, CONFIG);
    let before = s.credentials_bytes();
    s.run(&["keys", "remove", "corp", "--yes"]).fails(2, "does not delete from that file");
    // Said before anyone is asked to confirm.
    s.run(&["keys", "remove", "corp"]).fails(2, "does not delete from that file");
    assert_eq!(s.credentials_bytes(), before);
    let _ = section(&s.credentials(), "corp-long-term");
}

#[test]
fn a_locked_keychain_is_reported_and_nothing_changes() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let mut kr = s.keyring();
    run_with(&s, &["keys", "add", "corp"], &format!("{id}\n{secret}\n")).ok();
    kr.restart_locked();
    let config = fs::read(s.path(".aws/config")).unwrap();

    // Unlocking needs the desktop's password prompt. With no display the prompt fails at
    // once ("prompt dismissed"); under Xvfb (scripts/test) it opens and nobody answers,
    // and mfa-tray gives up after MFA_TRAY_KEYCHAIN_TIMEOUT (a minute by default).
    s.env.lock().unwrap().push(("MFA_TRAY_KEYCHAIN_TIMEOUT".into(), "3".into()));
    let started = std::time::Instant::now();
    let expected = if std::env::var_os("DISPLAY").is_some() {
        "corp: the OS keychain did not answer within 3 s (is it locked, waiting for its password?)"
    } else {
        "corp: the OS keychain is not available (SS error: prompt dismissed). Unlock it"
    };
    let run = s.run(&["login", "corp", "--code", &s.code(0)]);
    run.fails(4, expected);
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "gave up in time");
    assert_eq!(read(&s, ".aws/credentials"), None, "nothing written");
    let run = run_with(&s, &["keys", "add", "other"], &format!("{id}\n{secret}\n"));
    run.fails(4, "or keep the keys in the credentials file with --store file");
    assert_eq!(fs::read(s.path(".aws/config")).unwrap(), config);
}

#[test]
fn keychain_items_mfa_tray_did_not_write_are_refused() {
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let kr = s.keyring();
    run_with(&s, &["keys", "add", "corp"], &format!("{id}\n{secret}\n")).ok();
    let before = s.credentials_bytes_or_empty();
    // A second item that matches the same search, as another program could add (an
    // extra attribute makes it a second item rather than a replacement).
    let plant = |secret_text: &[u8]| {
        let attributes = ["store", "--label=planted", "service", "mfa-tray", "username", "corp", "target", "default", "application", "planted"];
        let out = kr.secret_tool_with(&attributes, secret_text);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    plant(b"{\"aws_access_key_id\":\"AKIAPLANTED000000000\",\"aws_secret_access_key\":\"planted-secret-0000000\"}");
    s.run(&["login", "corp", "--code", &s.code(0)]).fails(4, "several items for corp");
    // Only the planted one, and it is not keys: refused, and nothing of it is shown.
    s.run(&["keys", "remove", "corp", "--yes"]).fails(4, "several items");
    kr.secret_tool(&["clear", "service", "mfa-tray", "username", "corp"]);
    plant(b"AKIA\n[evil]\nx = 1");
    let run = s.run(&["login", "corp", "--code", &s.code(0)]);
    run.fails(4, "is not one mfa-tray wrote");
    assert!(!run.stderr.contains("evil"), "{run:#?}");
    assert_eq!(s.credentials_bytes_or_empty(), before, "nothing written");
}

/// README's "Accounts and keys" example, typed on a terminal: what it shows is what the
/// program prints (the access key id as the README writes it, times and ids aside).
#[test]
fn the_readme_example_is_what_a_terminal_shows() {
    use support::readme::*;
    let (s, id, secret) = aws_with_alice(0, |_| {});
    let _kr = s.keyring();
    s.files("", "[default]\nregion = eu-west-1\n");
    let block = blocks(&readme(), "<!-- checked: keys add -->").concat();
    let mut differences = Vec::new();
    for (command, shown) in transcript(&block) {
        let args: Vec<&str> = command.split_whitespace().skip(1).map(|a| if a == "arn:aws:iam::222222222222:role/Admin" { ROLE_ARN } else { a }).collect();
        let (code, text) = s.on_a_terminal(&args, &format!("{id}\n{secret}\n{}\n", s.code(0)));
        assert_eq!(code, 0, "`{command}`: {text}");
        assert!(!text.contains(&secret), "the secret was shown on the terminal");
        compare(&s, &mut differences, &format!("`{command}`"), &text.replace(&id, "AKIA..."), &shown);
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}
