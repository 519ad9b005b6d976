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

    /// The console page `path` (like `s3/home`), in `region` if one is given.
    pub fn page(self, path: &str, region: Option<&str>) -> String {
        let home = self.console(region);
        let base = &home[..home.find("/console/home").unwrap_or(home.len())];
        let path = path.trim_start_matches('/');
        match region {
            Some(r) if !path.contains('?') => format!("{base}/{path}?region={r}"),
            _ => format!("{base}/{path}"),
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

/// Opens `url` in the default browser (xdg-open, open, or start).
pub fn open_in_browser(url: &Secret) -> std::io::Result<()> {
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    // Not `cmd /C start`: cmd would split the link at its `&`s.
    #[cfg(windows)]
    let mut cmd = std::process::Command::new("explorer");
    #[cfg(all(unix, not(target_os = "macos")))]
    let mut cmd = std::process::Command::new("xdg-open");
    // Its output is not passed on: an opener that fails says so with the link in it.
    let null = std::process::Stdio::null;
    let status = cmd.arg(url.expose()).stdin(null()).stdout(null()).stderr(null()).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("the opener exited with {status}")))
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
    }
}
