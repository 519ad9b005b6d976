//! What the credentials file holds: long-term keys mfa-tray reads, and temporary
//! credentials it writes and marks as its own.
//!
//! A section mfa-tray writes carries `mfa_tray_holds` (what the credentials are: the MFA
//! session of a profile, or a role) and `mfa_tray_expiration` (RFC 3339, UTC). Those two
//! keys are the app's whole state: status, refresh and the tray read them back after a
//! restart. A section without them is the user's, and is never overwritten.

use std::borrow::Cow;
use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ini::{Document, EditError};
use crate::secret::Secret;

/// Marks a section as written by mfa-tray and names what it holds.
pub const HOLDS_KEY: &str = "mfa_tray_holds";
/// When the credentials in a managed section expire.
pub const EXPIRES_KEY: &str = "mfa_tray_expiration";
/// The same instant under the key shell prompts already read (saml2aws's; starship's AWS
/// module shows the countdown from it). Written, never read back.
pub const PROMPT_EXPIRES_KEY: &str = "x_security_token_expires";

const ACCESS_KEY: &str = "aws_access_key_id";
const SECRET_KEY: &str = "aws_secret_access_key";
const TOKEN_KEY: &str = "aws_session_token";

/// Whether `id` has the shape of an access key id: 16 to 128 capitals and digits.
pub fn is_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Whether `secret` has the shape of an IAM user's secret access key: 16 to 128
/// printable characters, no spaces (AWS's are 40).
pub fn is_secret_access_key(secret: &str) -> bool {
    (16..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic())
}

/// An IAM user's long-term access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongTermKeys {
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
}

impl LongTermKeys {
    /// The keys in `section` as botocore reads them, if it has both.
    pub fn read(doc: &Document, section: &str) -> Option<LongTermKeys> {
        let get = |key| doc.get(section, key).filter(|v| !v.is_empty());
        Some(LongTermKeys { access_key_id: get(ACCESS_KEY)?.into_owned(), secret_access_key: Secret::new(get(SECRET_KEY)?) })
    }
}

/// Temporary credentials from STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempCredentials {
    /// The access key id (`ASIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token.
    pub session_token: Secret,
    /// When they stop working.
    pub expiration: OffsetDateTime,
}

impl TempCredentials {
    /// Temporary credentials stored in `section`, if it has a complete set.
    pub fn read(doc: &Document, section: &str) -> Option<TempCredentials> {
        let keys = LongTermKeys::read(doc, section)?;
        Some(TempCredentials {
            access_key_id: keys.access_key_id,
            secret_access_key: keys.secret_access_key,
            session_token: Secret::new(doc.get(section, TOKEN_KEY).filter(|v| !v.is_empty())?),
            expiration: doc.get(section, EXPIRES_KEY).as_deref().and_then(parse_time).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        })
    }
}

/// What a managed section holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    /// The MFA session (GetSessionToken) of this session profile.
    Session(String),
    /// Credentials of this role profile.
    Role(String),
}

impl Holds {
    fn parse(text: &str) -> Option<Holds> {
        let (kind, name) = text.split_once(' ')?;
        let name = name.trim().to_owned();
        match kind {
            "mfa-session" => Some(Holds::Session(name)),
            "role" => Some(Holds::Role(name)),
            _ => None,
        }
    }
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holds::Session(p) => write!(f, "mfa-session {p}"),
            Holds::Role(p) => write!(f, "role {p}"),
        }
    }
}

/// A section written by mfa-tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Managed {
    /// The section name.
    pub section: String,
    /// What it holds.
    pub holds: Holds,
    /// When it expires (the epoch if the key is unreadable: treat as expired).
    pub expires: OffsetDateTime,
}

/// Whether a section may be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionState {
    /// No such section: it will be appended.
    Absent,
    /// Written by mfa-tray before: it may be rewritten.
    Managed(Managed),
    /// Exists but holds no credentials (say, only `region`): keys are added to it.
    NoCredentials,
    /// Holds long-term keys: never overwritten.
    LongTermKeys,
    /// Holds temporary credentials some other tool wrote: never overwritten.
    Foreign,
}

impl SectionState {
    /// Reads the state of `section`.
    pub fn of(doc: &Document, section: &str) -> SectionState {
        if !doc.has_section(section) {
            return SectionState::Absent;
        }
        SectionState::from_properties(section, &doc.properties(section))
    }

    /// The state of a section that exists, from its own `(key, value)` pairs (keys in
    /// lower case): what an edit would overwrite, not what `[DEFAULT]` adds to it.
    fn from_properties(section: &str, props: &[(&str, Cow<'_, str>)]) -> SectionState {
        let get = |key: &str| props.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref());
        if let Some(holds) = get(HOLDS_KEY).and_then(Holds::parse) {
            let expires = get(EXPIRES_KEY).and_then(parse_time).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            return SectionState::Managed(Managed { section: section.to_owned(), holds, expires });
        }
        let has = |k| get(k).is_some_and(|v| !v.is_empty());
        match (has(ACCESS_KEY) || has(SECRET_KEY), has(TOKEN_KEY)) {
            (false, false) => SectionState::NoCredentials,
            (true, false) => SectionState::LongTermKeys,
            (_, true) => SectionState::Foreign,
        }
    }

    /// Why this section must not be written, with the fix; `None` if it may be.
    pub fn refusal(&self, section: &str, suffix: &str) -> Option<String> {
        match self {
            SectionState::Absent | SectionState::Managed(_) | SectionState::NoCredentials => None,
            SectionState::LongTermKeys if section.ends_with(suffix) => Some(format!(
                "it holds the long-term keys of {}; write somewhere else (assume --to another name, or target_profile in settings)",
                &section[..section.len() - suffix.len()]
            )),
            SectionState::LongTermKeys => Some(format!(
                "it holds long-term keys (no aws_session_token). Move them to [{section}{suffix}] (mfa-tray reads them there), or write somewhere else (assume --to another name, or target_profile in settings)"
            )),
            SectionState::Foreign => Some(format!(
                "it holds temporary credentials that mfa-tray did not write (no {HOLDS_KEY} key). Delete the section if you no longer need it, or write somewhere else"
            )),
        }
    }
}

/// Every managed section in the file, in file order (one pass over the file).
pub fn managed_sections(doc: &Document) -> Vec<Managed> {
    doc.all_properties()
        .into_iter()
        .filter_map(|(s, props)| match SectionState::from_properties(s, &props) {
            SectionState::Managed(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Writes temporary credentials and the two marker keys into `section`.
/// The caller has checked [`SectionState::refusal`] under the file lock.
pub fn write_temp(doc: &mut Document, section: &str, creds: &TempCredentials, holds: &Holds) -> Result<(), EditError> {
    let holds = holds.to_string();
    let expires = format_time(creds.expiration);
    doc.set(
        section,
        &[
            (ACCESS_KEY, &creds.access_key_id),
            (SECRET_KEY, creds.secret_access_key.expose()),
            (TOKEN_KEY, creds.session_token.expose()),
            (HOLDS_KEY, &holds),
            (EXPIRES_KEY, &expires),
            (PROMPT_EXPIRES_KEY, &expires),
        ],
    )
}

/// RFC 3339 in UTC with whole seconds: `2026-11-28T13:24:45Z`.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Parses an RFC 3339 time, as written by [`format_time`] or by hand.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn creds() -> TempCredentials {
        TempCredentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: Secret::new("s3cr3t"),
            session_token: Secret::new("tok"),
            expiration: datetime!(2026-11-28 13:24:45.5 UTC),
        }
    }

    #[test]
    fn written_sections_read_back_as_managed() {
        let mut doc = Document::parse(b"[corp-long-term]\naws_access_key_id = AKIA\naws_secret_access_key = x\n").unwrap();
        write_temp(&mut doc, "corp", &creds(), &Holds::Session("corp".into())).unwrap();
        write_temp(&mut doc, "default", &creds(), &Holds::Role("prod-admin".into())).unwrap();
        let text = String::from_utf8(doc.to_bytes()).unwrap();
        assert!(text.ends_with("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s3cr3t\naws_session_token = tok\nmfa_tray_holds = role prod-admin\nmfa_tray_expiration = 2026-11-28T13:24:45Z\nx_security_token_expires = 2026-11-28T13:24:45Z\n"), "{text}");
        let managed = managed_sections(&doc);
        assert_eq!(managed.len(), 2);
        assert_eq!(managed[0].holds, Holds::Session("corp".into()));
        assert_eq!(managed[1].expires, datetime!(2026-11-28 13:24:45 UTC));
        assert_eq!(TempCredentials::read(&doc, "default").unwrap().session_token.expose(), "tok");
        assert_eq!(SectionState::of(&doc, "corp-long-term"), SectionState::LongTermKeys);
    }

    #[test]
    fn states_and_refusals() {
        let doc = Document::parse(b"[keys]\naws_access_key_id = AKIA\naws_secret_access_key = x\n[other]\naws_access_key_id = ASIA\naws_session_token = t\nexpiration = x\n[cfg]\nregion = x\n").unwrap();
        assert_eq!(SectionState::of(&doc, "nope"), SectionState::Absent);
        assert_eq!(SectionState::of(&doc, "cfg"), SectionState::NoCredentials);
        assert!(SectionState::of(&doc, "keys").refusal("keys", "-long-term").unwrap().contains("[keys-long-term]"));
        assert_eq!(SectionState::of(&doc, "other"), SectionState::Foreign);
        assert!(SectionState::of(&doc, "other").refusal("other", "-long-term").unwrap().contains("did not write"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!("{:?}", creds());
        assert!(!shown.contains("s3cr3t") && !shown.contains("tok,"), "{shown}");
        let keys = LongTermKeys { access_key_id: "AKIA".into(), secret_access_key: Secret::new("s3cr3t") };
        assert!(!format!("{keys:?}").contains("s3cr3t"));
    }
}
