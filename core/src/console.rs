//! Console sign-in: a role's temporary credentials become a sign-in link for the AWS
//! Management Console, through the federation endpoint's `getSigninToken`.
//!
//! The endpoint takes credentials from AssumeRole (or GetFederationToken), not from
//! GetSessionToken, so only roles open a console. Each partition has its own sign-in and
//! console hosts; `MFA_TRAY_SIGNIN_ENDPOINT` replaces the federation endpoint's URL (the
//! tests point it at a local server). The link carries a sign-in token that works for 15
//! minutes, so it is handled as a secret until it is printed or opened.

use std::time::Duration;

use crate::credentials::TempCredentials;
use crate::env::Environment;
use crate::error::{Error, ErrorKind};
use crate::secret::{percent_encode, Secret};

/// The variable that replaces the federation endpoint's URL.
pub const ENDPOINT_VAR: &str = "MFA_TRAY_SIGNIN_ENDPOINT";

/// An AWS partition: its own sign-in and console hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// `aws`: the commercial regions.
    Aws,
    /// `aws-cn`: China.
    China,
    /// `aws-us-gov`: GovCloud (US).
    GovCloud,
}

impl Partition {
    /// The partition of an ARN (`arn:aws-cn:...`), if it names one mfa-tray knows.
    pub fn of_arn(arn: &str) -> Option<Partition> {
        match arn.split(':').nth(1)? {
            "aws" => Some(Partition::Aws),
            "aws-cn" => Some(Partition::China),
            "aws-us-gov" => Some(Partition::GovCloud),
            _ => None,
        }
    }

    /// The partition of a role's ARN, or a refusal naming the partition: the isolated
    /// ones (`aws-iso`, `aws-iso-b`, `aws-eusc`, …) have sign-in hosts of their own that
    /// mfa-tray does not know, and their credentials must never go to another's.
    pub fn of_role(arn: &str) -> Result<Partition, Error> {
        Partition::of_arn(arn).ok_or_else(|| {
            let name = arn.split(':').nth(1).unwrap_or("");
            Error::bad_input(
                "unknown_partition",
                format!("{arn} is in the partition {name:?}, whose console sign-in mfa-tray does not know (it knows aws, aws-cn and aws-us-gov); nothing was sent"),
            )
        })
    }

    /// The federation endpoint.
    pub fn federation(self) -> &'static str {
        match self {
            Partition::Aws => "https://signin.aws.amazon.com/federation",
            Partition::China => "https://signin.amazonaws.cn/federation",
            Partition::GovCloud => "https://signin.amazonaws-us-gov.com/federation",
        }
    }

    /// The console's home page, in `region` if one is given.
    pub fn console(self, region: Option<&str>) -> String {
        let host = match (self, region) {
            (Partition::Aws, Some(r)) => format!("https://{r}.console.aws.amazon.com"),
            (Partition::Aws, None) => "https://console.aws.amazon.com".to_owned(),
            (Partition::China, _) => "https://console.amazonaws.cn".to_owned(),
            (Partition::GovCloud, _) => "https://console.amazonaws-us-gov.com".to_owned(),
        };
        match region {
            Some(r) => format!("{host}/console/home?region={r}"),
            None => format!("{host}/console/home"),
        }
    }

    /// The console page `path` (like `s3/home` or `ec2/home#Instances`), in `region`
    /// if one is given: `region=` joins the page's query, and its fragment stays last.
    pub fn page(self, path: &str, region: Option<&str>) -> String {
        let home = self.console(region);
        let base = &home[..home.find("/console/home").unwrap_or(home.len())];
        let path = path.trim_start_matches('/');
        let (path, fragment) = match path.split_once('#') {
            Some((p, f)) => (p, format!("#{f}")),
            None => (path, String::new()),
        };
        let query_has_region = path.split_once('?').is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("region=")));
        match region {
            Some(r) if !query_has_region => {
                let join = if path.contains('?') { '&' } else { '?' };
                format!("{base}/{path}{join}region={r}{fragment}")
            }
            _ => format!("{base}/{path}{fragment}"),
        }
    }
}

/// Checks a console page path (like `s3/home` or `ec2/home?x=1#Instances`).
pub fn check_page(path: &str) -> Result<(), Error> {
    let ok = !path.is_empty() && path.len() <= 512 && !path.contains("//") && !path.contains("..") && path.bytes().all(|b| b.is_ascii_graphic() && !b"\\@<>\"'`".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input("bad_destination", format!("{path:?} is not a console page (like s3/home)")))
    }
}

/// The federation endpoint to use for `partition`.
pub fn endpoint(env: &dyn Environment, partition: Partition) -> String {
    env.var_str(ENDPOINT_VAR).unwrap_or_else(|| partition.federation().to_owned())
}

/// Asks `endpoint` for a sign-in token for `creds`, and returns the link that signs in
/// and goes to `destination`. What fails is told without the request, which carries the
/// credentials.
pub fn signin_link(endpoint: &str, creds: &TempCredentials, destination: &str) -> Result<Secret, Error> {
    let session = serde_json::json!({
        "sessionId": creds.access_key_id,
        "sessionKey": creds.secret_access_key.expose(),
        "sessionToken": creds.session_token.expose(),
    });
    let session = Secret::new(session.to_string());
    let url = Secret::new(format!("{endpoint}?Action=getSigninToken&Session={}", percent_encode(session.expose(), true)));
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(20))).http_status_as_error(false).build().into();
    let what = "getting a console sign-in token";
    let mut answer = agent.get(url.expose()).call().map_err(|e| {
        let why = match e {
            ureq::Error::Timeout(_) => "no answer in time",
            ureq::Error::HostNotFound => "the host was not found",
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) => "the connection failed",
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "the TLS handshake failed",
            _ => "the request failed",
        };
        Error::new(ErrorKind::Network, "network", format!("cannot reach the sign-in endpoint {endpoint} while {what}: {why}"))
    })?;
    let status = answer.status().as_u16();
    if status != 200 {
        return Err(Error::new(
            ErrorKind::AwsRefused,
            "signin_refused",
            format!("the sign-in endpoint refused the role's credentials (HTTP {status}); AWS signs in only with credentials from AssumeRole, for at most the role's session"),
        ));
    }
    let body = answer.body_mut().with_config().limit(64 * 1024).read_to_string().map_err(|_| malformed(endpoint))?;
    let token = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["SigninToken"].as_str().map(str::to_owned)).ok_or_else(|| malformed(endpoint))?;
    let token = Secret::new(token);
    Ok(Secret::new(format!(
        "{endpoint}?Action=login&Issuer=mfa-tray&Destination={}&SigninToken={}",
        percent_encode(destination, true),
        percent_encode(token.expose(), true)
    )))
}

/// How long a forwarding page stays: long enough for a browser that starts cold.
pub const PAGE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens `url` in the default browser (xdg-open, open, or explorer) without putting it
/// on any command line, where every local user could read it (`ps`, `/proc`): the
/// opener is given a page in the user's private directory (0600, in a 0700 directory)
/// that forwards to it, and the page is removed [`PAGE_LIFETIME`] later (by a small
/// process of its own, so the caller need not wait; a page left by a process killed
/// meanwhile goes with the next one).
pub fn open_in_browser(env: &dyn Environment, url: &Secret) -> std::io::Result<()> {
    let dir = pages_dir(env)?;
    let page = crate::file::write_private_in(&dir, "console-", ".html", forwarding_page(url.expose()).expose().as_bytes())?;
    remove_later(&page);
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(windows)]
    let mut cmd = std::process::Command::new("explorer");
    #[cfg(all(unix, not(target_os = "macos")))]
    let mut cmd = std::process::Command::new("xdg-open");
    // Its output is not passed on: what it says is not for the user's terminal.
    let null = std::process::Stdio::null;
    let status = cmd.arg(&page).stdin(null()).stdout(null()).stderr(null()).status();
    match status {
        // explorer.exe exits with 1 when it has handed the file on.
        Ok(status) if status.success() || cfg!(windows) => Ok(()),
        other => {
            let _ = std::fs::remove_file(&page);
            Err(other.map_or_else(|e| e, |status| std::io::Error::other(format!("the opener exited with {status}"))))
        }
    }
}

/// A page that sends the browser on to `url` at once (and says so, with a link, should
/// the browser not follow), without telling the next site where it came from.
fn forwarding_page(url: &str) -> Secret {
    let escaped: String = url
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            c => c.to_string(),
        })
        .collect();
    Secret::new(format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\n<title>Signing in to the AWS console</title>\n<p>Signing in to the AWS console… <a href=\"{escaped}\">Continue</a></p>\n"
    ))
}

/// Where forwarding pages go: the user's private directory for what mfa-tray keeps
/// while it runs (on Windows, the user's own temporary directory), with pages older than
/// their lifetime swept.
fn pages_dir(env: &dyn Environment) -> std::io::Result<std::path::PathBuf> {
    #[cfg(unix)]
    let dir = {
        let dir = crate::channel::private_dir(env).ok_or_else(|| std::io::Error::other("no private directory (set HOME or XDG_RUNTIME_DIR)"))?;
        crate::channel::make_private_dir(&dir)?;
        dir
    };
    #[cfg(not(unix))]
    let dir = {
        let _ = env;
        let dir = std::env::temp_dir().join("mfa-tray");
        std::fs::create_dir_all(&dir)?;
        dir
    };
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let stale = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > PAGE_LIFETIME));
            if stale && name.to_string_lossy().starts_with("console-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(dir)
}

/// Removes `page` after [`PAGE_LIFETIME`], from a process of its own (its name is no
/// secret), reaped by a thread here.
fn remove_later(page: &std::path::Path) {
    let secs = PAGE_LIFETIME.as_secs().to_string();
    #[cfg(unix)]
    let mut cmd = {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", "sleep \"$1\"; rm -f -- \"$2\"", "mfa-tray-remove-page", &secs]).arg(page).process_group(0);
        cmd
    };
    #[cfg(windows)]
    let mut cmd = {
        use std::os::windows::process::CommandExt;
        let mut cmd = std::process::Command::new("cmd");
        let wait = PAGE_LIFETIME.as_secs() + 1;
        cmd.raw_arg(format!("/C ping -n {wait} 127.0.0.1 >NUL & del /F /Q \"{}\"", page.display())).creation_flags(0x0800_0000);
        let _ = secs;
        cmd
    };
    let null = std::process::Stdio::null;
    if let Ok(mut child) = cmd.stdin(null()).stdout(null()).stderr(null()).spawn() {
        let _ = std::thread::Builder::new().name("mfa-tray-page".into()).spawn(move || child.wait());
    }
}

fn malformed(endpoint: &str) -> Error {
    Error::new(ErrorKind::Network, "aws_malformed", format!("the sign-in endpoint {endpoint} answered without a sign-in token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_have_their_own_hosts() {
        assert_eq!(Partition::of_arn("arn:aws:iam::1:role/A"), Some(Partition::Aws));
        assert_eq!(Partition::of_arn("arn:aws-cn:iam::1:role/A"), Some(Partition::China));
        assert_eq!(Partition::of_arn("arn:aws-us-gov:iam::1:role/A"), Some(Partition::GovCloud));
        assert_eq!(Partition::of_arn("arn:aws-iso:iam::1:role/A"), None);
        assert_eq!(Partition::China.federation(), "https://signin.amazonaws.cn/federation");
        assert_eq!(Partition::Aws.console(Some("eu-west-1")), "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1");
        assert_eq!(Partition::Aws.console(None), "https://console.aws.amazon.com/console/home");
        assert_eq!(Partition::GovCloud.console(Some("us-gov-west-1")), "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1");
        assert_eq!(Partition::Aws.page("/s3/home", Some("eu-west-1")), "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1");
        assert_eq!(Partition::China.page("ec2/home", None), "https://console.amazonaws.cn/ec2/home");
        // The region joins the query; the fragment stays last.
        assert_eq!(Partition::Aws.page("ec2/home#Instances", Some("eu-west-1")), "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances");
        assert_eq!(Partition::Aws.page("ec2/home?x=1#I:s=a", Some("eu-west-1")), "https://eu-west-1.console.aws.amazon.com/ec2/home?x=1&region=eu-west-1#I:s=a");
        assert_eq!(Partition::Aws.page("s3/home?region=us-east-1", Some("eu-west-1")), "https://eu-west-1.console.aws.amazon.com/s3/home?region=us-east-1");
        for unknown in ["aws-iso", "aws-iso-b", "aws-eusc"] {
            let e = Partition::of_role(&format!("arn:{unknown}:iam::1:role/A")).unwrap_err();
            assert!(e.message.contains(&format!("the partition \"{unknown}\"")), "{}", e.message);
        }
    }

    #[test]
    fn the_forwarding_page_carries_the_link_escaped() {
        let page = forwarding_page("https://x/f?a=1&b=\"<x>'");
        assert!(page.expose().contains("content=\"0;url=https://x/f?a=1&amp;b=&quot;&lt;x&gt;&#39;\""), "{}", page.expose());
    }
}
