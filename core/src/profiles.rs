//! The user's AWS profiles, read from `~/.aws/config` and `~/.aws/credentials` into
//! typed MFA-session profiles and role profiles.
//!
//! An MFA session profile `X` keeps its IAM user's long-term keys in `[X-long-term]` of
//! the credentials file (aws-mfa's convention; its `aws_mfa_device` key is accepted as
//! the device) and its `mfa_serial` in `[profile X]`; mfa-tray writes the session to
//! `[X]`. A role profile has `role_arn` and a `source_profile` that is such a session
//! profile. A profile that cannot work becomes a [`Problem`] naming it and the fix;
//! one broken profile never hides the others.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::ini::{Document, Value};
use crate::types::{check_duration, MfaSerial, RoleArn, ROLE_DURATION, SESSION_DURATION};

/// A profile that logs in with GetSessionToken and an MFA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionProfile {
    /// The profile name; the session is written to `[name]` in the credentials file.
    pub name: String,
    /// The MFA device.
    pub mfa_serial: MfaSerial,
    /// The credentials-file section holding the IAM user's long-term keys (when they
    /// are in the file).
    pub long_term_section: String,
    /// Where the long-term keys are.
    pub keys: KeyStore,
    /// `region` from the config file.
    pub region: Option<String>,
    /// `endpoint_url` from the config file.
    pub endpoint_url: Option<String>,
    /// `duration_seconds` from the config file, already checked against AWS's range.
    pub duration: Option<Duration>,
    /// `mfa_process`: a command that prints the current code (aws-vault's key).
    pub mfa_process: Option<String>,
}

/// Where an account's long-term keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStore {
    /// In the OS keychain (the config profile says `mfa_tray_keys = keychain`).
    Keychain,
    /// In `[NAME-long-term]` of the credentials file.
    File,
}

impl KeyStore {
    /// The value of [`KEYS_KEY`] that names this store.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStore::Keychain => "keychain",
            KeyStore::File => "file",
        }
    }
}

/// The config-file key that records where an account's long-term keys are; botocore
/// and the AWS CLI ignore it.
pub const KEYS_KEY: &str = "mfa_tray_keys";

/// A profile that assumes an IAM role on top of an MFA session profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleProfile {
    /// The profile name.
    pub name: String,
    /// The role to assume.
    pub role_arn: RoleArn,
    /// The MFA session profile whose user assumes the role.
    pub source: String,
    /// The device for AssumeRole with MFA: the role's `mfa_serial` or its source's.
    pub mfa_serial: MfaSerial,
    /// `external_id`, passed through to AssumeRole.
    pub external_id: Option<String>,
    /// `role_session_name`; mfa-tray picks one when absent.
    pub role_session_name: Option<String>,
    /// `duration_seconds`, checked against AssumeRole's range.
    pub duration: Option<Duration>,
    /// `region` of the role, else of its source.
    pub region: Option<String>,
    /// `endpoint_url` of the role, else of its source.
    pub endpoint_url: Option<String>,
    /// `mfa_process` of the role, else of its source.
    pub mfa_process: Option<String>,
    /// Tools fetch this role through `credential_process` (its ARN is under
    /// [`ON_DEMAND_ARN_KEY`]): its credentials live in the tray's memory only, never in
    /// the credentials file.
    pub on_demand: bool,
}

/// Where a role that tools fetch with `credential_process` keeps its ARN. Not
/// `role_arn`: botocore assumes a profile with `role_arn` by itself and never runs its
/// `credential_process`.
pub const ON_DEMAND_ARN_KEY: &str = "mfa_tray_role_arn";

/// An IAM Identity Center session: `[sso-session NAME]` in the config file, or the
/// start URL and region a legacy profile carries itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    /// The session's name; for a legacy profile's session, its start URL.
    pub name: String,
    /// `sso_start_url`: the AWS access portal.
    pub start_url: String,
    /// `sso_region`: where Identity Center runs.
    pub region: String,
    /// `sso_registration_scopes` (`sso:account:access` gives refresh tokens); none for
    /// a legacy session.
    pub scopes: Vec<String>,
    /// A legacy profile's session (no `[sso-session]`): its token is cached by start URL.
    pub legacy: bool,
}

/// A profile whose credentials are an Identity Center role: `sso_session` (or a legacy
/// `sso_start_url`), `sso_account_id`, `sso_role_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoRoleProfile {
    /// The profile name.
    pub name: String,
    /// Its session's name (for a legacy profile, its start URL).
    pub session: String,
    /// The account.
    pub account_id: String,
    /// The permission set's role name.
    pub role_name: String,
    /// `region`, for the role's calls.
    pub region: Option<String>,
    /// `endpoint_url`.
    pub endpoint_url: Option<String>,
    /// Written by `mfa-tray sso sync` (it carries [`SSO_SYNC_KEY`]).
    pub synced: bool,
}

impl SsoRoleProfile {
    /// The role's ARN, for people and for the console's partition (Identity Center names
    /// the role only; its ARN is the account's, in the session region's partition).
    pub fn role_arn(&self, session_region: &str) -> String {
        format!("arn:{}:iam::{}:role/{}", crate::aws::partition_of_region(session_region), self.account_id, self.role_name)
    }
}

/// The config-file key that marks a profile `mfa-tray sso sync` wrote, naming its
/// session; the AWS tools ignore it. The next sync updates such profiles and `--prune`
/// removes them; the user's own profiles are never touched.
pub const SSO_SYNC_KEY: &str = "mfa_tray_sso_sync";

/// An `sso_account_id` a profile can hold: 12 digits.
pub(crate) fn is_sso_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// An `sso_role_name` a profile can hold: an IAM role name (1 to 64 of letters, digits and `+=,.@_-`).
pub(crate) fn is_sso_role_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// A profile mfa-tray cannot use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The profile's name.
    pub profile: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Every profile mfa-tray can use, and every one it cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    /// MFA session profiles, in file order.
    pub sessions: Vec<SessionProfile>,
    /// Role profiles, in file order.
    pub roles: Vec<RoleProfile>,
    /// Misconfigured profiles.
    pub problems: Vec<Problem>,
    /// Identity Center sessions, in file order (legacy profiles' after them).
    pub sso_sessions: Vec<SsoSession>,
    /// Identity Center role profiles, in file order.
    pub sso_roles: Vec<SsoRoleProfile>,
}

impl Profiles {
    /// Reads the profiles out of the two files. `suffix` names long-term sections.
    pub fn resolve(config: &Document, credentials: &Document, suffix: &str) -> Profiles {
        let reader = Reader::new(config, credentials, suffix);
        let mut out = Profiles::default();
        let mut session_names = Vec::new();
        for name in &reader.names {
            if !reader.is_role(name) && reader.conf(name, "mfa_serial").is_some() {
                session_names.push(name.clone());
            }
        }
        for section in credentials.section_names() {
            if let Some(base) = section.strip_suffix(suffix).filter(|b| !b.is_empty()) {
                if !session_names.iter().any(|n| n == base) && !reader.is_role(base) {
                    session_names.push(base.to_owned());
                }
            }
        }
        for name in &session_names {
            match reader.session(name) {
                Ok(p) => out.sessions.push(p),
                Err(message) => out.problems.push(Problem { profile: name.clone(), message }),
            }
        }
        for name in &reader.names {
            if reader.is_role(name) {
                match reader.role(name, &out) {
                    Ok(p) => out.roles.push(p),
                    Err(message) => out.problems.push(Problem { profile: name.clone(), message }),
                }
            }
        }
        for (name, section) in sso_session_sections(config) {
            match sso_session(config, &name, section) {
                Ok(s) => out.sso_sessions.push(s),
                Err(message) => out.problems.push(Problem { profile: format!("sso-session {name}"), message }),
            }
        }
        for name in &reader.names {
            if reader.is_sso(name) && !reader.is_role(name) {
                match reader.sso_role(name, &mut out.sso_sessions) {
                    Ok(p) => out.sso_roles.push(p),
                    Err(message) => out.problems.push(Problem { profile: name.clone(), message }),
                }
            }
        }
        out
    }

    /// The Identity Center session of that name (a legacy one by its start URL).
    pub fn sso_session(&self, name: &str) -> Option<&SsoSession> {
        self.sso_sessions.iter().find(|s| s.name == name)
    }

    /// The Identity Center role profile of that name.
    pub fn sso_role(&self, name: &str) -> Option<&SsoRoleProfile> {
        self.sso_roles.iter().find(|p| p.name == name)
    }

    /// The MFA session profile of that name.
    pub fn session(&self, name: &str) -> Option<&SessionProfile> {
        self.sessions.iter().find(|p| p.name == name)
    }

    /// The role profile of that name.
    pub fn role(&self, name: &str) -> Option<&RoleProfile> {
        self.roles.iter().find(|p| p.name == name)
    }

    /// What is wrong with that profile, if it is misconfigured.
    pub fn problem(&self, name: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.profile == name)
    }
}

/// The profiles of the config file, as botocore's `build_profile_map` finds them: every
/// section whose name starts with `profile` and splits like a shell command line into
/// two words names the profile of the second word (`[profile corp]`, `[profile "corp"]`,
/// `[profile   corp]`), and `[default]` names `default`. Where two sections name one
/// profile, the later one is the profile (botocore replaces, it does not merge). Returns
/// `(profile, section)` in the order the profiles first appear.
pub fn config_profiles(config: &Document) -> Vec<(String, &str)> {
    named_sections(config, "profile", true)
}

/// The `[sso-session NAME]` sections of the config file, as botocore's
/// `build_profile_map` finds them (split like profile headers; the later of two wins).
pub fn sso_session_sections(config: &Document) -> Vec<(String, &str)> {
    named_sections(config, "sso-session", false)
}

/// Sections whose name starts with `prefix` and splits like a shell command line into
/// two words, named by the second (and `[default]`, with `default`).
fn named_sections<'a>(config: &'a Document, prefix: &str, default: bool) -> Vec<(String, &'a str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for section in config.section_names() {
        let name = if section.starts_with(prefix) {
            match shlex_split(section).as_deref() {
                Some([_, name]) => name.clone(),
                _ => continue,
            }
        } else if default && section == "default" {
            section.to_owned()
        } else {
            continue;
        };
        match index.get(&name) {
            Some(&i) => out[i].1 = section,
            None => {
                index.insert(name.clone(), out.len());
                out.push((name, section));
            }
        }
    }
    out
}

/// The profile map botocore builds from a config file: each profile with what its
/// section holds (for comparing readings with botocore's).
pub fn profile_view(config: &Document) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut sections = config.botocore_view();
    config_profiles(config).into_iter().filter_map(|(name, section)| Some((name, sections.remove(section)?))).collect()
}

/// The `sso_sessions` map botocore builds from a config file.
pub fn sso_session_view(config: &Document) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut sections = config.botocore_view();
    sso_session_sections(config).into_iter().filter_map(|(name, section)| Some((name, sections.remove(section)?))).collect()
}

/// Python's `shlex.split(text)` (POSIX rules, no comments); `None` where Python raises
/// (an unclosed quote, a trailing backslash), in which case botocore skips the section.
pub fn shlex_split(text: &str) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Space,
        Word,
        Quote(char),
        Escape { from_quote: Option<char> },
    }
    let mut words = Vec::new();
    let (mut state, mut word) = (State::Space, String::new());
    let mut chars = text.chars();
    loop {
        let c = chars.next();
        match (state, c) {
            (State::Space, None) => return Some(words),
            (State::Space, Some(' ' | '\t' | '\r' | '\n')) => {}
            (State::Space | State::Word, Some('\\')) => state = State::Escape { from_quote: None },
            (State::Space | State::Word, Some(q @ ('"' | '\''))) => state = State::Quote(q),
            (State::Space, Some(c)) => {
                word.push(c);
                state = State::Word;
            }
            (State::Word, None) => {
                words.push(word);
                return Some(words);
            }
            (State::Word, Some(' ' | '\t' | '\r' | '\n')) => {
                words.push(std::mem::take(&mut word));
                state = State::Space;
            }
            (State::Word, Some(c)) => word.push(c),
            (State::Quote(_), None) | (State::Escape { .. }, None) => return None,
            (State::Quote(q), Some(c)) => {
                if c == q {
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape { from_quote: Some(q) };
                } else {
                    word.push(c);
                }
            }
            (State::Escape { from_quote }, Some(c)) => {
                // Inside double quotes only the quote and the backslash itself are escaped.
                if from_quote.is_some_and(|q| c != '\\' && c != q) {
                    word.push('\\');
                }
                word.push(c);
                state = from_quote.map_or(State::Word, State::Quote);
            }
        }
    }
}

/// A key of a profile as botocore sees it: from the credentials file's `[profile]` (which
/// botocore merges over the config file), else from the profile's config section; an
/// empty value is unset. Both include what `[DEFAULT]` gives every section.
pub fn profile_value(config: &Document, credentials: &Document, profile: &str, key: &str) -> Option<String> {
    let from_config = || {
        config_profiles(config).into_iter().find(|(n, _)| n == profile).and_then(|(_, section)| config.get(section, key))
    };
    credentials.get(profile, key).or_else(from_config).filter(|v| !v.is_empty()).map(Cow::into_owned)
}

/// The session of `[sso-session NAME]`, checked as the AWS CLI checks it.
fn sso_session(config: &Document, name: &str, section: &str) -> Result<SsoSession, String> {
    let get = |key: &str| config.get(section, key).filter(|v| !v.is_empty()).map(Cow::into_owned);
    let start_url = get("sso_start_url").ok_or_else(|| format!("[sso-session {name}] has no sso_start_url"))?;
    let region = get("sso_region").ok_or_else(|| format!("[sso-session {name}] has no sso_region"))?;
    check_start_url(&start_url).map_err(|e| format!("[sso-session {name}]: {e}"))?;
    let scopes = get("sso_registration_scopes").map(|s| s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    Ok(SsoSession { name: name.to_owned(), start_url, region, scopes, legacy: false })
}

/// Checks an AWS access portal URL: https, a host, nothing that could break out of a
/// header or a file.
pub fn check_start_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("https://").ok_or_else(|| format!("the start URL {url:?} must begin with https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let ok = !host.is_empty() && url.len() <= 512 && url.bytes().all(|b| b.is_ascii_graphic()) && !url.contains(['"', '\\', '<', '>']);
    if ok {
        Ok(())
    } else {
        Err(format!("{url:?} is not an AWS access portal URL (like https://my-company.awsapps.com/start)"))
    }
}

struct Reader<'a> {
    config: &'a Document,
    credentials: &'a Document,
    suffix: &'a str,
    /// Config profile name → its section.
    sections: HashMap<String, &'a str>,
    /// Every profile botocore knows: the config file's, then sections of the credentials
    /// file that are not already profiles.
    names: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(config: &'a Document, credentials: &'a Document, suffix: &'a str) -> Reader<'a> {
        let profiles = config_profiles(config);
        let mut names: Vec<String> = profiles.iter().map(|(n, _)| n.clone()).collect();
        let sections: HashMap<String, &str> = profiles.into_iter().collect();
        names.extend(credentials.section_names().filter(|s| !sections.contains_key(*s)).map(str::to_owned));
        Reader { config, credentials, suffix, sections, names }
    }

    fn conf(&self, profile: &str, key: &str) -> Option<Cow<'a, str>> {
        let from_config = || self.sections.get(profile).and_then(|section| self.config.get(section, key));
        self.credentials.get(profile, key).or_else(from_config).filter(|v| !v.is_empty())
    }

    /// Whether the profile is a role: `role_arn`, or mfa-tray's own key for roles that
    /// tools fetch with `credential_process`.
    fn is_role(&self, profile: &str) -> bool {
        self.conf(profile, "role_arn").is_some() || self.conf(profile, ON_DEMAND_ARN_KEY).is_some()
    }

    /// Whether the profile gets its credentials from Identity Center.
    fn is_sso(&self, profile: &str) -> bool {
        ["sso_session", "sso_start_url", "sso_account_id", "sso_role_name"].iter().any(|k| self.conf(profile, k).is_some())
    }

    /// An Identity Center role profile; a legacy one (`sso_start_url` and `sso_region`
    /// in the profile) gets a session of its own, named by its start URL.
    fn sso_role(&self, name: &str, sessions: &mut Vec<SsoSession>) -> Result<SsoRoleProfile, String> {
        let account_id = self.conf(name, "sso_account_id").ok_or_else(|| "an Identity Center profile needs sso_account_id".to_owned())?;
        let role_name = self.conf(name, "sso_role_name").ok_or_else(|| "an Identity Center profile needs sso_role_name".to_owned())?;
        if !is_sso_account_id(&account_id) {
            return Err(format!("sso_account_id {account_id:?} is not a 12-digit account id{}", comment_hint(&account_id)));
        }
        if !is_sso_role_name(&role_name) {
            return Err(format!("sso_role_name {role_name:?} is not a role name{}", comment_hint(&role_name)));
        }
        let session = match self.conf(name, "sso_session") {
            Some(session) => {
                let Some(found) = sessions.iter().find(|s| s.name == *session && !s.legacy) else {
                    return Err(format!("sso_session {session} has no [sso-session {session}] in the config file"));
                };
                // botocore refuses a profile whose own start URL or region contradicts its session's.
                for (key, theirs) in [("sso_start_url", &found.start_url), ("sso_region", &found.region)] {
                    if self.conf(name, key).is_some_and(|mine| *mine != **theirs) {
                        return Err(format!("its {key} differs from [sso-session {session}]'s; remove it from the profile"));
                    }
                }
                session.into_owned()
            }
            None => {
                let start_url = self.conf(name, "sso_start_url").ok_or_else(|| "an Identity Center profile needs sso_session (or, the old way, sso_start_url and sso_region)".to_owned())?;
                let region = self.conf(name, "sso_region").ok_or_else(|| "sso_start_url without sso_region".to_owned())?;
                check_start_url(&start_url)?;
                if !sessions.iter().any(|s| s.legacy && s.name == *start_url) {
                    sessions.push(SsoSession { name: start_url.clone().into_owned(), start_url: start_url.clone().into_owned(), region: region.into_owned(), scopes: Vec::new(), legacy: true });
                }
                start_url.into_owned()
            }
        };
        Ok(SsoRoleProfile {
            name: name.to_owned(),
            session,
            account_id: account_id.into_owned(),
            role_name: role_name.into_owned(),
            region: self.conf(name, "region").map(Cow::into_owned),
            endpoint_url: self.conf(name, "endpoint_url").map(Cow::into_owned),
            synced: self.conf(name, SSO_SYNC_KEY).is_some(),
        })
    }

    fn cred(&self, section: &str, key: &str) -> Option<Cow<'a, str>> {
        self.credentials.get(section, key).filter(|v| !v.is_empty())
    }

    fn session(&self, name: &str) -> Result<SessionProfile, String> {
        let long_term_section = format!("{name}{}", self.suffix);
        let in_keychain = self.conf(name, KEYS_KEY).is_some_and(|v| v == KeyStore::Keychain.as_str());
        if in_keychain {
            // Found at use time (the keychain may ask to be unlocked); the file's section,
            // if there is one too, is the fallback.
        } else if !self.credentials.has_section(&long_term_section) {
            let in_place = self.cred(name, "aws_access_key_id").is_some() && self.cred(name, "aws_session_token").is_none();
            return Err(if in_place {
                format!("[{name}] in the credentials file holds long-term keys; rename that section to [{long_term_section}] so mfa-tray can keep the MFA session in [{name}], or move them to the keychain")
            } else {
                format!("no long-term keys: run `mfa-tray keys add {name}`, or add [{long_term_section}] with aws_access_key_id and aws_secret_access_key to the credentials file")
            });
        } else {
            for key in ["aws_access_key_id", "aws_secret_access_key"] {
                if self.cred(&long_term_section, key).is_none() {
                    return Err(format!("[{long_term_section}] in the credentials file has no {key}"));
                }
            }
        }
        let serial = self
            .conf(name, "mfa_serial")
            .or_else(|| self.cred(&long_term_section, "aws_mfa_device"))
            .ok_or_else(|| format!("no MFA device: add mfa_serial = arn:aws:iam::ACCOUNT:mfa/USER to [profile {name}] in the config file"))?;
        let mfa_serial = serial.parse().map_err(|e| format!("mfa_serial: {e}{}", comment_hint(&serial)))?;
        Ok(SessionProfile {
            name: name.to_owned(),
            mfa_serial,
            long_term_section,
            keys: if in_keychain { KeyStore::Keychain } else { KeyStore::File },
            region: self.conf(name, "region").map(Cow::into_owned),
            endpoint_url: self.conf(name, "endpoint_url").map(Cow::into_owned),
            duration: self.duration(name, SESSION_DURATION, "GetSessionToken")?,
            mfa_process: self.conf(name, "mfa_process").map(Cow::into_owned),
        })
    }

    fn role(&self, name: &str, known: &Profiles) -> Result<RoleProfile, String> {
        let on_demand = self.conf(name, ON_DEMAND_ARN_KEY).is_some();
        if on_demand && self.conf(name, "role_arn").is_some() {
            return Err(format!("both role_arn and {ON_DEMAND_ARN_KEY}: keep {ON_DEMAND_ARN_KEY} for a role tools fetch with credential_process (botocore would assume a role_arn itself), else role_arn"));
        }
        let raw_arn = self.conf(name, if on_demand { ON_DEMAND_ARN_KEY } else { "role_arn" }).unwrap_or_default();
        let role_arn: RoleArn = raw_arn.parse().map_err(|e| format!("role_arn: {e}{}", comment_hint(&raw_arn)))?;
        let source = match self.conf(name, "source_profile") {
            Some(s) => s.into_owned(),
            None if self.conf(name, "credential_source").is_some() => {
                return Err("credential_source is not supported; set source_profile to your MFA session profile".into())
            }
            None => return Err("role_arn without source_profile: set source_profile to your MFA session profile".into()),
        };
        let Some(session) = known.session(&source) else {
            return Err(self.explain_bad_source(name, &source, known));
        };
        let mfa_serial = match self.conf(name, "mfa_serial") {
            Some(s) => s.parse().map_err(|e| format!("mfa_serial: {e}{}", comment_hint(&s)))?,
            None => session.mfa_serial.clone(),
        };
        let role_session_name = self.conf(name, "role_session_name").map(Cow::into_owned);
        if let Some(n) = &role_session_name {
            let ok = (2..=64).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
            if !ok {
                return Err(format!("role_session_name {n:?} must be 2 to 64 letters, digits or _+=,.@-"));
            }
        }
        Ok(RoleProfile {
            name: name.to_owned(),
            role_arn,
            source,
            mfa_serial,
            external_id: self.conf(name, "external_id").map(Cow::into_owned),
            role_session_name,
            duration: self.duration(name, ROLE_DURATION, "AssumeRole")?,
            region: self.conf(name, "region").map(Cow::into_owned).or_else(|| session.region.clone()),
            endpoint_url: self.conf(name, "endpoint_url").map(Cow::into_owned).or_else(|| session.endpoint_url.clone()),
            mfa_process: self.conf(name, "mfa_process").map(Cow::into_owned).or_else(|| session.mfa_process.clone()),
            on_demand,
        })
    }

    /// Why `source` cannot serve as the MFA session of role `name`.
    fn explain_bad_source(&self, name: &str, source: &str, known: &Profiles) -> String {
        if self.is_role(source) {
            // Walk the chain to tell a loop from plain chaining.
            let mut chain = vec![name.to_owned()];
            let mut cur = source.to_owned();
            while let Some(next) = self.conf(&cur, "source_profile").filter(|_| self.is_role(&cur)) {
                chain.push(cur.clone());
                if chain.iter().any(|c| *c == next) {
                    chain.push(next.into_owned());
                    return format!("source_profile loop: {}; point source_profile at an MFA session profile", chain.join(" -> "));
                }
                cur = next.into_owned();
            }
            return format!("source_profile {source} is itself a role; role chaining is not supported, so point source_profile at the MFA session profile");
        }
        if known.problem(source).is_some() {
            return format!("its source_profile {source} is misconfigured (see {source})");
        }
        let exists = self.names.iter().any(|p| p == source);
        if !exists {
            return format!("source_profile {source} does not exist in the config or credentials file");
        }
        if self.cred(source, "aws_access_key_id").is_some() && self.cred(source, "aws_session_token").is_none() {
            return format!(
                "source_profile {source} keeps its long-term keys in [{source}]; rename that section to [{source}{}] and add mfa_serial to [profile {source}], so mfa-tray can keep an MFA session in [{source}]",
                self.suffix
            );
        }
        format!("source_profile {source} is not an MFA session profile: give it mfa_serial in [profile {source}] and long-term keys in [{source}{}]", self.suffix)
    }

    fn duration(&self, name: &str, range: (u64, u64), call: &'static str) -> Result<Option<Duration>, String> {
        let Some(raw) = self.conf(name, "duration_seconds") else { return Ok(None) };
        let secs: u64 = raw.parse().map_err(|_| format!("duration_seconds {raw:?} is not a whole number of seconds{}", comment_hint(&raw)))?;
        check_duration(Duration::from_secs(secs), range, call).map(Some).map_err(|e| format!("duration_seconds: {e}"))
    }
}

/// A hint for a value that holds what looks like a comment: the AWS tools read it as part
/// of the value.
fn comment_hint(value: &str) -> &'static str {
    if value.contains(" #") || value.contains(" ;") || value.contains("\t#") {
        " (the AWS tools have no comments after a value: put the comment on a line of its own)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests;
