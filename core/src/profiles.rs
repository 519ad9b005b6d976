//! The user's AWS profiles, read from `~/.aws/config` and `~/.aws/credentials` into
//! typed MFA-session profiles and role profiles.
//!
//! An MFA session profile `X` keeps its IAM user's long-term keys in `[X-long-term]` of
//! the credentials file (aws-mfa's convention; its `aws_mfa_device` key is accepted as
//! the device) and its `mfa_serial` in `[profile X]`; mfa-tray writes the session to
//! `[X]`. A role profile has `role_arn` and a `source_profile` that is such a session
//! profile. A profile that cannot work becomes a [`Problem`] naming it and the fix;
//! one broken profile never hides the others.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::ini::Document;
use crate::types::{check_duration, MfaSerial, RoleArn, ROLE_DURATION, SESSION_DURATION};

/// A profile that logs in with GetSessionToken and an MFA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionProfile {
    /// The profile name; the session is written to `[name]` in the credentials file.
    pub name: String,
    /// The MFA device.
    pub mfa_serial: MfaSerial,
    /// The credentials-file section holding the IAM user's long-term keys.
    pub long_term_section: String,
    /// `region` from the config file.
    pub region: Option<String>,
    /// `endpoint_url` from the config file.
    pub endpoint_url: Option<String>,
    /// `duration_seconds` from the config file, already checked against AWS's range.
    pub duration: Option<Duration>,
}

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
}

impl Profiles {
    /// Reads the profiles out of the two files. `suffix` names long-term sections.
    pub fn resolve(config: &Document, credentials: &Document, suffix: &str) -> Profiles {
        let reader = Reader { config, credentials, suffix };
        let mut out = Profiles::default();
        let mut session_names = Vec::new();
        for name in reader.config_profiles() {
            if reader.conf(&name, "role_arn").is_none() && reader.conf(&name, "mfa_serial").is_some() {
                session_names.push(name);
            }
        }
        for section in credentials.section_names() {
            if let Some(base) = section.strip_suffix(suffix).filter(|b| !b.is_empty()) {
                if !session_names.iter().any(|n| n == base) && reader.conf(base, "role_arn").is_none() {
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
        for name in reader.config_profiles() {
            if reader.conf(&name, "role_arn").is_some() {
                match reader.role(&name, &out) {
                    Ok(p) => out.roles.push(p),
                    Err(message) => out.problems.push(Problem { profile: name, message }),
                }
            }
        }
        out
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

/// A key of a profile in the config file (`[profile X]`, or `[default]`); empty is unset.
pub fn config_value<'a>(config: &'a Document, profile: &str, key: &str) -> Option<&'a str> {
    let named = config.get(&format!("profile {profile}"), key);
    let plain = (profile == "default").then(|| config.get("default", key)).flatten();
    named.or(plain).filter(|v| !v.is_empty())
}

struct Reader<'a> {
    config: &'a Document,
    credentials: &'a Document,
    suffix: &'a str,
}

impl Reader<'_> {
    /// Profile names of the config file, in order: `[default]`, `[profile X]`.
    fn config_profiles(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut names = Vec::new();
        for section in self.config.section_names() {
            let name = if section == "default" {
                Some("default")
            } else {
                section.strip_prefix("profile").filter(|r| r.starts_with([' ', '\t'])).map(str::trim)
            };
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                if seen.insert(n.to_owned()) {
                    names.push(n.to_owned());
                }
            }
        }
        names
    }

    fn conf(&self, profile: &str, key: &str) -> Option<&str> {
        config_value(self.config, profile, key)
    }

    fn cred(&self, section: &str, key: &str) -> Option<&str> {
        self.credentials.get(section, key).filter(|v| !v.is_empty())
    }

    fn session(&self, name: &str) -> Result<SessionProfile, String> {
        let long_term_section = format!("{name}{}", self.suffix);
        if !self.credentials.has_section(&long_term_section) {
            let in_place = self.cred(name, "aws_access_key_id").is_some() && self.cred(name, "aws_session_token").is_none();
            return Err(if in_place {
                format!("[{name}] in the credentials file holds long-term keys; rename that section to [{long_term_section}] so mfa-tray can keep the MFA session in [{name}]")
            } else {
                format!("no long-term keys: add [{long_term_section}] with aws_access_key_id and aws_secret_access_key to the credentials file")
            });
        }
        for key in ["aws_access_key_id", "aws_secret_access_key"] {
            if self.cred(&long_term_section, key).is_none() {
                return Err(format!("[{long_term_section}] in the credentials file has no {key}"));
            }
        }
        let serial = self
            .conf(name, "mfa_serial")
            .or_else(|| self.cred(&long_term_section, "aws_mfa_device"))
            .ok_or_else(|| format!("no MFA device: add mfa_serial = arn:aws:iam::ACCOUNT:mfa/USER to [profile {name}] in the config file"))?;
        let mfa_serial = serial.parse().map_err(|e| format!("mfa_serial: {e}"))?;
        Ok(SessionProfile {
            name: name.to_owned(),
            mfa_serial,
            long_term_section,
            region: self.conf(name, "region").map(str::to_owned),
            endpoint_url: self.conf(name, "endpoint_url").map(str::to_owned),
            duration: self.duration(name, SESSION_DURATION, "GetSessionToken")?,
        })
    }

    fn role(&self, name: &str, known: &Profiles) -> Result<RoleProfile, String> {
        let role_arn: RoleArn = self.conf(name, "role_arn").unwrap_or_default().parse().map_err(|e| format!("role_arn: {e}"))?;
        let source = match self.conf(name, "source_profile") {
            Some(s) => s.to_owned(),
            None if self.conf(name, "credential_source").is_some() => {
                return Err("credential_source is not supported; set source_profile to your MFA session profile".into())
            }
            None => return Err("role_arn without source_profile: set source_profile to your MFA session profile".into()),
        };
        let Some(session) = known.session(&source) else {
            return Err(self.explain_bad_source(name, &source, known));
        };
        let mfa_serial = match self.conf(name, "mfa_serial") {
            Some(s) => s.parse().map_err(|e| format!("mfa_serial: {e}"))?,
            None => session.mfa_serial.clone(),
        };
        let role_session_name = self.conf(name, "role_session_name").map(str::to_owned);
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
            external_id: self.conf(name, "external_id").map(str::to_owned),
            role_session_name,
            duration: self.duration(name, ROLE_DURATION, "AssumeRole")?,
            region: self.conf(name, "region").map(str::to_owned).or_else(|| session.region.clone()),
            endpoint_url: self.conf(name, "endpoint_url").map(str::to_owned).or_else(|| session.endpoint_url.clone()),
        })
    }

    /// Why `source` cannot serve as the MFA session of role `name`.
    fn explain_bad_source(&self, name: &str, source: &str, known: &Profiles) -> String {
        if self.conf(source, "role_arn").is_some() {
            // Walk the chain to tell a loop from plain chaining.
            let mut chain = vec![name.to_owned()];
            let mut cur = source.to_owned();
            while let Some(next) = self.conf(&cur, "source_profile").filter(|_| self.conf(&cur, "role_arn").is_some()) {
                chain.push(cur.clone());
                if chain.iter().any(|c| c == next) {
                    chain.push(next.to_owned());
                    return format!("source_profile loop: {}; point source_profile at an MFA session profile", chain.join(" -> "));
                }
                cur = next.to_owned();
            }
            return format!("source_profile {source} is itself a role; role chaining is not supported, so point source_profile at the MFA session profile");
        }
        if known.problem(source).is_some() {
            return format!("its source_profile {source} is misconfigured (see {source})");
        }
        let exists = self.config_profiles().iter().any(|p| p == source) || self.credentials.has_section(source);
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
        let secs: u64 = raw.parse().map_err(|_| format!("duration_seconds {raw:?} is not a whole number of seconds"))?;
        check_duration(Duration::from_secs(secs), range, call).map(Some).map_err(|e| format!("duration_seconds: {e}"))
    }
}

#[cfg(test)]
mod tests;
