//! The engine's error: a kind (what the caller does: which exit code, which icon), a
//! stable code (what a front end branches on) and a message that names the profile and
//! the fix. Every error means no file was changed.

use crate::aws::AwsError;
use crate::file::FileError;

/// What sort of failure, for exit codes and front ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The user asked for something that cannot work (bad code, unknown profile,
    /// misconfiguration, out-of-range duration).
    BadInput,
    /// AWS answered and refused (wrong code, access denied, expired token).
    AwsRefused,
    /// A local file could not be read or written, or is not mfa-tray's to write.
    LocalFile,
    /// AWS could not be reached, or is throttling or failing.
    Network,
}

/// An engine failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{message}")]
pub struct Error {
    /// What sort of failure.
    pub kind: ErrorKind,
    /// A stable identifier, like `wrong_code` or `file_locked`.
    pub code: &'static str,
    /// One line for people: what failed, for which profile, and what to do.
    pub message: String,
    /// What the layer below said (the SDK's chain of causes), for `--verbose` and
    /// `--json`; never a secret, and never in `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Error {
        Error { kind, code, message: message.into(), detail: None }
    }

    /// The same error with `detail` for `--verbose`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// The same error (kind, code, detail) with its message put in other words.
    pub fn reworded(mut self, message: impl FnOnce(&str) -> String) -> Error {
        self.message = message(&self.message);
        self
    }

    /// Whether trying again later may well work: the network, AWS being busy, another
    /// program busy with the file. (A refusal or a bad configuration stays as it is.)
    pub fn is_passing(&self) -> bool {
        self.kind == ErrorKind::Network || matches!(self.code, "file_locked" | "file_busy")
    }

    /// Bad input from the user.
    pub fn bad_input(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadInput, code, message)
    }

    /// An AWS failure while doing `what` (e.g. "logging in corp").
    pub fn from_aws(err: AwsError, what: &str, fix: Fixes<'_>) -> Error {
        match err {
            AwsError::Network(detail) => Error::new(
                ErrorKind::Network,
                "network",
                format!("cannot reach AWS while {what}: {}. Check your connection (and any proxy or AWS_ENDPOINT_URL) and try again", network_cause(&detail)),
            )
            .with_detail(detail),
            AwsError::Unavailable { code, message, status } => Error::new(
                ErrorKind::Network,
                "aws_unavailable",
                format!("AWS is busy or failing while {what}: {code} (HTTP {status}): {message}; try again in a minute"),
            ),
            AwsError::Request(detail) => Error::bad_input(
                "bad_endpoint",
                format!("the request to AWS could not be made while {what}: check endpoint_url in the profile, or AWS_ENDPOINT_URL (it must be a URL like https://sts.eu-west-1.amazonaws.com)"),
            )
            .with_detail(detail),
            AwsError::Malformed(detail) => Error::new(
                ErrorKind::Network,
                "aws_malformed",
                format!("AWS sent {detail} while {what}; nothing was written. Try again, and if it keeps happening check AWS_ENDPOINT_URL and any proxy in between"),
            ),
            AwsError::Refused { code, message } => refused(&code, &message, what, fix),
        }
    }
}

/// The cause of a connection failure in a few words, from the SDK's chain of causes
/// (which goes to `detail`).
pub fn network_cause(detail: &str) -> &'static str {
    let d = detail.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| d.contains(w));
    if has(&["dns error", "failed to lookup address", "name or service not known", "no such host", "nodename nor servname"]) {
        "no network, or DNS cannot find the endpoint"
    } else if has(&["connection refused"]) {
        "the connection was refused"
    } else if has(&["network is unreachable", "no route to host", "host is unreachable"]) {
        "the network is unreachable"
    } else if has(&["certificate", "tls", "ssl", "handshake"]) {
        "the secure connection failed (a proxy or a certificate in the way?)"
    } else if has(&["timed out", "timeout", "no answer in time"]) {
        "no answer in time"
    } else if has(&["broke off", "reset", "closed", "end of file"]) {
        "the connection broke off"
    } else {
        "the connection failed"
    }
}

/// What to tell the user to fix, per refusal; filled in by the operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fixes<'a> {
    /// Where the long-term keys live (`[corp-long-term]`).
    pub keys_section: &'a str,
    /// Where the MFA device is configured (`[profile corp]`).
    pub serial_section: &'a str,
    /// The command that makes a new MFA session (`mfa-tray login corp`).
    pub login: &'a str,
}

fn refused(code: &str, message: &str, what: &str, fix: Fixes<'_>) -> Error {
    let aws = if message.is_empty() { code.to_owned() } else { format!("{code}: {message}") };
    let lower = message.to_ascii_lowercase();
    let (kind, id, text) = if lower.contains("invalid mfa one time pass code") {
        (ErrorKind::AwsRefused, "wrong_code", format!("AWS rejected the MFA code while {what}. Wait for the next code on your device and try again (each code works once)"))
    } else if lower.contains("serial number") || lower.contains("unable to validate mfa") {
        (ErrorKind::AwsRefused, "bad_mfa_device", format!("AWS could not validate the MFA device while {what}. Check mfa_serial in {} against the device's ARN in the IAM console", fix.serial_section))
    } else {
        match code {
            "ExpiredToken" | "ExpiredTokenException" => (ErrorKind::AwsRefused, "expired_token", format!("the credentials used while {what} have expired. Run `{}` for a new MFA session", fix.login)),
            "InvalidClientTokenId" | "InvalidAccessKeyId" | "UnrecognizedClientException" => (ErrorKind::AwsRefused, "invalid_keys", format!("AWS does not recognise the access key used while {what}. Check the keys in {} (they may have been deactivated or rotated)", fix.keys_section)),
            "SignatureDoesNotMatch" => (ErrorKind::AwsRefused, "invalid_keys", format!("AWS rejected the signature while {what}: the secret key in {} does not match its access key id", fix.keys_section)),
            "RegionDisabledException" => (ErrorKind::AwsRefused, "region_disabled", format!("STS is not activated in this region while {what}. Activate it in the IAM console, or set another region for the profile")),
            "ValidationError" => (ErrorKind::AwsRefused, "aws_validation", format!("AWS refused the request while {what}")),
            "AccessDenied" | "AccessDeniedException" => (ErrorKind::AwsRefused, "access_denied", format!("AWS denied access while {what}. Check the IAM policies (and the role's trust policy)")),
            _ => (ErrorKind::AwsRefused, "aws_refused", format!("AWS refused the request while {what}")),
        }
    };
    Error::new(kind, id, format!("{text} [{aws}]"))
}

impl From<FileError> for Error {
    fn from(e: FileError) -> Error {
        let code = match &e {
            FileError::NoHome => "no_home",
            FileError::Read { .. } => "file_unreadable",
            FileError::TooLarge { .. } => "file_too_large",
            FileError::Malformed { .. } => "file_malformed",
            FileError::ReadOnly { .. } => "file_read_only",
            FileError::Locked { .. } => "file_locked",
            FileError::Write { .. } => "file_write",
            FileError::Edit { .. } => "file_edit_refused",
            FileError::NotOurs { .. } => "file_not_ours",
            FileError::Owner { .. } => "file_owner",
            FileError::Busy { .. } => "file_busy",
            FileError::InUse { .. } => "file_in_use",
            FileError::Superseded { .. } => "file_superseded",
        };
        Error::new(ErrorKind::LocalFile, code, e.to_string())
    }
}
