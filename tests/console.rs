//! Console sign-in through the real binary: role credentials from moto (behind the MFA
//! proxy) go to a local stand-in for the federation endpoint
//! (`tests/support/federation.py`, via MFA_TRAY_SIGNIN_ENDPOINT), which checks the
//! session JSON and hands out a token; the printed link must carry it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use support::*;

struct Federation {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl Drop for Federation {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Federation {
    fn start(s: &Stack) -> Federation {
        let log = s.path("federation.log");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/federation.py");
        let mut child = Command::new(venv().join("bin/python")).arg(script).arg("--log").arg(&log).stdout(Stdio::piped()).spawn().unwrap();
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
        let url = format!("http://127.0.0.1:{}/federation", port.trim());
        s.env.lock().unwrap().push(("MFA_TRAY_SIGNIN_ENDPOINT".into(), url.clone()));
        Federation { child, url, log }
    }

    /// The session JSON of every request, in order.
    fn sessions(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["session"].clone()).collect()
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A sandbox whose [default] holds prod-admin (logged in, assumed), with the federation
/// endpoint's stand-in.
fn with_active_role() -> (Stack, Federation) {
    let s = Stack::start();
    let fed = Federation::start(&s);
    s.files(CREDENTIALS, CONFIG);
    s.run(&["login", "corp", "--code", &s.code(0)]).ok();
    s.run(&["assume", "prod-admin"]).ok();
    (s, fed)
}

#[test]
fn a_role_signs_in_with_its_credentials_and_a_session_cannot() {
    let (s, fed) = with_active_role();
    let text = s.credentials();

    // The role's credentials in [default] go to the endpoint; the link carries its token.
    let run = s.run(&["console", "prod-admin", "--print", "--destination", "s3/home"]);
    run.ok();
    let link = run.stdout.trim();
    let expected = format!(
        "{}?Action=login&Issuer=mfa-tray&Destination={}&SigninToken=token-1",
        fed.url,
        "https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fs3%2Fhome%3Fregion%3Deu-west-1"
    );
    assert_eq!(link, expected);
    assert!(decode(link).contains("Destination=https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1&"));
    assert!(run.stderr.contains("with the credentials of prod-admin in [default]"), "{run:#?}");
    let sent = &fed.sessions()[0];
    assert_eq!(sent["sessionId"].as_str(), value(&text, "default", "aws_access_key_id").as_deref());
    assert_eq!(sent["sessionKey"].as_str(), value(&text, "default", "aws_secret_access_key").as_deref());
    assert_eq!(sent["sessionToken"].as_str(), value(&text, "default", "aws_session_token").as_deref());

    // A role with no credentials in the file is assumed in memory: nothing written.
    let run = s.run(&["console", "short", "--print"]);
    run.ok();
    assert!(run.stdout.trim().ends_with("&SigninToken=token-2"), "{run:#?}");
    assert!(run.stderr.contains("assumed through the MFA session of corp (at most 1 hour"), "{run:#?}");
    let sent = &fed.sessions()[1];
    let id = sent["sessionId"].as_str().unwrap();
    assert!(id.starts_with("ASIA") && !s.credentials().contains(id), "fresh, and kept off the disk");
    assert_eq!(s.credentials(), text);

    // An MFA session cannot open the console; the message says what can.
    s.run(&["console", "corp", "--print"]).fails(2, "open the console as a role (its roles: prod-admin, short)");
    assert_eq!(fed.sessions().len(), 2, "nothing sent for it");
}

/// The browser, played by an `xdg-open` on the PATH: it records its command line, and
/// reads the page it is given as a browser would.
struct Browser {
    path: String,
    argv: std::path::PathBuf,
    pages: std::path::PathBuf,
}

impl Browser {
    fn new(s: &Stack) -> Browser {
        let bin = s.path("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let (argv, pages) = (s.path("argv.txt"), s.path("pages.txt"));
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nstat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" >> '{}'\ncat \"$1\" >> '{}'\n",
            argv.display(),
            pages.display(),
            pages.display()
        );
        std::fs::write(bin.join("xdg-open"), script).unwrap();
        std::fs::set_permissions(bin.join("xdg-open"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Browser { path: format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()), argv, pages }
    }

    /// The command lines the opener got.
    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(&self.argv).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// What the browser read, page by page.
    fn pages(&self) -> Vec<String> {
        std::fs::read_to_string(&self.pages).unwrap_or_default().split("<!doctype html>").skip(1).map(str::to_owned).collect()
    }

    /// The one sign-in link the browser was sent on to, after checking how it got there:
    /// the opener's command line names a page (no token in it) that is the user's alone
    /// (0600, in a 0700 directory of the sandbox's runtime directory).
    fn link(&self, s: &Stack) -> String {
        let argv = self.argv();
        assert_eq!(argv.len(), 1, "{argv:?}");
        let page = std::path::Path::new(&argv[0]);
        assert_eq!(page.parent().unwrap(), s.path("run/mfa-tray"), "{argv:?}");
        assert!(page.file_name().unwrap().to_string_lossy().starts_with("console-") && !argv[0].contains("SigninToken") && !argv[0].contains("token-"), "{argv:?}");
        let read = std::fs::read_to_string(&self.pages).unwrap();
        assert!(read.starts_with(&format!("600 {}\n700 {}\n", page.display(), s.path("run/mfa-tray").display())), "{read}");
        let page = self.pages().pop().unwrap();
        let start = page.find("content=\"0;url=").expect("a forwarding page") + "content=\"0;url=".len();
        page[start..start + page[start..].find('"').unwrap()].replace("&amp;", "&")
    }
}

#[test]
fn the_link_reaches_the_browser_on_no_command_line() {
    let (s, fed) = with_active_role();
    let browser = Browser::new(&s);
    let mut cmd = s.command();
    let run = Run::from(cmd.env("PATH", &browser.path).args(["console", "prod-admin", "--destination", "ec2/home#Instances"]).output().unwrap());
    run.ok();
    assert!(run.stderr.starts_with("Opened the AWS console in your browser, signed in as prod-admin"), "{run:#?}");
    let link = browser.link(&s);
    assert!(link.starts_with(&format!("{}?Action=login&Issuer=mfa-tray&Destination=", fed.url)) && link.ends_with("&SigninToken=token-1"), "{link}");
    // The destination's fragment stays last, after the region.
    assert!(decode(&link).contains("Destination=https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances&SigninToken="), "{link}");
    // A page left behind (by a process killed before it went) is swept by the next one;
    // a fresh one stays for the browser.
    let page = std::path::PathBuf::from(&browser.argv()[0]);
    assert!(page.exists());
    let old = std::fs::File::options().write(true).open(&page).unwrap();
    old.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(120)).unwrap();
    drop(old);
    let mut cmd = s.command();
    Run::from(cmd.env("PATH", &browser.path).args(["console", "prod-admin"]).output().unwrap()).ok();
    assert!(!page.exists(), "the stale page was swept");
    let newest = std::path::PathBuf::from(browser.argv().pop().unwrap());
    assert!(newest.exists() && newest != page);
}

#[test]
fn a_partition_mfa_tray_does_not_know_is_refused_before_any_call() {
    let s = Stack::start();
    let fed = Federation::start(&s);
    for partition in ["aws-iso", "aws-iso-b", "aws-eusc"] {
        s.files(CREDENTIALS, &CONFIG.replace("arn:aws:iam::123456789012:role/Admin", &format!("arn:{partition}:iam::123456789012:role/Admin")));
        let run = s.run(&["console", "prod-admin", "--print", "--code", &s.code(0)]);
        run.fails(2, &format!("is in the partition \"{partition}\", whose console sign-in mfa-tray does not know"));
    }
    assert!(s.proxy_log().is_empty() && fed.sessions().is_empty(), "nothing sent anywhere");
}

#[test]
fn refusals_and_a_missing_session_are_explained() {
    let s = Stack::start();
    let fed = Federation::start(&s);
    s.files(CREDENTIALS, CONFIG);
    // No MFA session: a code is needed, and none is spent without one.
    s.run(&["console", "prod-admin", "--print"]).fails(2, "run `mfa-tray login corp`, or pass --code");
    // With a code, the role is assumed directly with the long-term keys.
    let run = s.run(&["console", "prod-admin", "--print", "--code", &s.code(0)]);
    run.ok();
    assert!(run.stderr.contains("assumed with your MFA code"), "{run:#?}");
    let last = s.proxy_log().pop().unwrap();
    assert_eq!((last["action"].as_str(), last["code"].as_bool(), last["session_signed"].as_bool()), (Some("AssumeRole"), Some(true), Some(false)));
    assert_eq!(s.credentials(), CREDENTIALS, "nothing written");

    // The endpoint refusing the credentials is reported without them.
    let refused = format!("{CREDENTIALS}\n[default]\naws_access_key_id = ASIAROLE000000000001\naws_secret_access_key = refuse\naws_session_token = tok3n\nmfa_tray_holds = role prod-admin\nmfa_tray_expiration = 2099-01-01T00:00:00Z\n");
    s.files(&refused, CONFIG);
    let run = s.run(&["console", "prod-admin", "--print"]);
    run.fails(3, "the sign-in endpoint refused the role's credentials (HTTP 400)");
    assert!(!run.stderr.contains("tok3n") && run.stdout.is_empty(), "{run:#?}");
    assert_eq!(fed.sessions().len(), 2);
}

/// "Open AWS console as ROLE" in the tray's menu hands the browser a signed-in link. The
/// browser is played by an `xdg-open` on the PATH that records what it is given.
#[test]
fn the_tray_menu_opens_the_console_as_the_active_role() {
    use std::time::Duration;
    use support::desktop::{self, Bus, Watcher};
    let (s, fed) = with_active_role();
    let browser = Browser::new(&s);

    let bus = Bus::start();
    let (watcher, _w) = Watcher::serve(&bus);
    let mut app = s.tray_command(&bus).env("PATH", &browser.path).spawn().expect("start the tray");
    let (item_bus, item_path) = watcher.item(Duration::from_secs(30));
    let conn = bus.connect();
    let (menu_path, entry) = desktop::wait_for(Duration::from_secs(15), "the console item", || {
        let (path, entries) = desktop::menu(&conn, &item_bus, &item_path);
        entries.into_iter().find(|e| e.label == "Open AWS console as prod-admin").map(|e| (path, e))
    });
    desktop::click(&conn, &item_bus, &menu_path, entry.id);
    desktop::wait_for(Duration::from_secs(20), "the browser to be handed a page", || browser.pages().pop());
    let _ = app.kill();
    let _ = app.wait();
    let link = browser.link(&s);
    assert_eq!(link, format!("{}?Action=login&Issuer=mfa-tray&Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Deu-west-1&SigninToken=token-1", fed.url));
    assert_eq!(fed.sessions()[0]["sessionId"].as_str(), value(&s.credentials(), "default", "aws_access_key_id").as_deref());
}
