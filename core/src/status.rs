//! What is valid and for how long: the state of every profile, read from the files.

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::credentials::{format_time, managed_sections, Holds, SectionState};
use crate::engine::Snapshot;

/// How usable a profile's credentials are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Valid for longer than the warning lead time.
    Valid,
    /// Valid, but not for much longer.
    Expiring,
    /// Written once, now expired.
    Expired,
    /// Never written (or written by someone else).
    Absent,
}

impl State {
    /// The state of credentials expiring at `expires`, warning `lead` before.
    pub fn of(expires: Option<OffsetDateTime>, now: OffsetDateTime, lead: Duration) -> State {
        match expires {
            None => State::Absent,
            Some(e) if e <= now => State::Expired,
            Some(e) if e - now <= lead => State::Expiring,
            Some(_) => State::Valid,
        }
    }
}

/// One MFA session profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    /// Profile name (and credentials section).
    pub name: String,
    /// Its state.
    pub state: State,
    /// When the session expires (RFC 3339), if one was written.
    pub expires_at: Option<String>,
    /// Seconds left, 0 when expired, absent when there is no session.
    pub seconds_left: Option<u64>,
    /// The MFA device.
    pub mfa_serial: String,
    /// Where the account's long-term keys are: `keychain` or `file`.
    pub keys: crate::profiles::KeyStore,
}

/// One role profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleStatus {
    /// Profile name.
    pub name: String,
    /// State of its freshest credentials in the file.
    pub state: State,
    /// When those expire.
    pub expires_at: Option<String>,
    /// Seconds left.
    pub seconds_left: Option<u64>,
    /// The MFA session profile it is assumed from.
    pub source: String,
    /// The role ARN.
    pub role_arn: String,
    /// Whether the target profile holds this role.
    pub active: bool,
    /// Credentials-file sections that hold this role.
    pub sections: Vec<String>,
    /// Tools fetch it with `credential_process`; it is never in the file.
    pub on_demand: bool,
    /// An IAM Identity Center role: `source` is its session, `role_arn` the account's
    /// role of that name.
    pub identity_center: bool,
}

/// One IAM Identity Center session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SsoSessionStatus {
    /// The session's name (a legacy profile's session: its start URL).
    pub name: String,
    /// The AWS access portal.
    pub start_url: String,
    /// Identity Center's region.
    pub region: String,
    /// The state of its cached token.
    pub state: State,
    /// When that token expires.
    pub expires_at: Option<String>,
    /// Seconds left.
    pub seconds_left: Option<u64>,
    /// Whether the token renews itself (a refresh token and a registration that lasts).
    pub renewable: bool,
}

/// A profile mfa-tray cannot use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemStatus {
    /// The profile.
    pub profile: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Everything `status` shows. Serialised as the stable `status --json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Version of this JSON shape.
    pub version: u32,
    /// When the status was taken.
    pub now: String,
    /// The credentials file.
    pub credentials_file: String,
    /// The profile that holds the active role.
    pub target: String,
    /// The role the target holds, if any.
    pub active_role: Option<String>,
    /// MFA session profiles.
    pub sessions: Vec<SessionStatus>,
    /// Role profiles.
    pub roles: Vec<RoleStatus>,
    /// Misconfigured profiles and sections mfa-tray will not write.
    pub problems: Vec<ProblemStatus>,
    /// IAM Identity Center sessions (filled by [`crate::Engine::status`], which reads
    /// their token cache).
    pub sso_sessions: Vec<SsoSessionStatus>,
}

fn left(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<u64> {
    expires.map(|e| (e - now).whole_seconds().max(0) as u64)
}

impl Status {
    /// Builds the status from one snapshot of the files.
    pub fn from_snapshot(snap: &Snapshot, session_lead: Duration, role_lead: Duration) -> Status {
        let now = snap.now;
        let managed = managed_sections(&snap.credentials);
        let target = snap.settings.target_profile.clone();
        let mut problems: Vec<ProblemStatus> =
            snap.profiles.problems.iter().map(|p| ProblemStatus { profile: p.profile.clone(), message: p.message.clone() }).collect();

        let sessions = snap
            .profiles
            .sessions
            .iter()
            .map(|p| {
                let state = SectionState::of(&snap.credentials, &p.name);
                let expires = match &state {
                    SectionState::Managed(m) if m.holds == Holds::Session(p.name.clone()) => Some(m.expires),
                    _ => None,
                };
                if let Some(reason) = state.refusal(&p.name, &snap.settings.long_term_suffix) {
                    problems.push(ProblemStatus { profile: p.name.clone(), message: format!("mfa-tray will not write [{}]: {reason}", p.name) });
                }
                SessionStatus {
                    name: p.name.clone(),
                    state: State::of(expires, now, session_lead),
                    expires_at: expires.map(format_time),
                    seconds_left: left(expires, now),
                    mfa_serial: p.mfa_serial.to_string(),
                    keys: p.keys,
                }
            })
            .collect();

        let target_problem = if snap.profiles.session(&target).is_some() {
            Some(format!("it is the MFA session of {target}; set target_profile in the settings to another name"))
        } else {
            SectionState::of(&snap.credentials, &target).refusal(&target, &snap.settings.long_term_suffix)
        };
        if let Some(reason) = target_problem {
            problems.push(ProblemStatus { profile: target.clone(), message: format!("roles cannot be switched into [{target}]: {reason}") });
        }
        let active_role = managed.iter().find(|m| m.section == target).and_then(|m| match &m.holds {
            Holds::Role(r) => Some(r.clone()),
            Holds::Session(_) => None,
        });
        let roles = snap
            .profiles
            .roles
            .iter()
            .map(|r| {
                let held: Vec<_> = managed.iter().filter(|m| m.holds == Holds::Role(r.name.clone())).collect();
                if r.on_demand && !held.is_empty() {
                    let sections = held.iter().map(|m| format!("[{}]", m.section)).collect::<Vec<_>>().join(", ");
                    problems.push(ProblemStatus {
                        profile: r.name.clone(),
                        message: format!(
                            "{sections} in the credentials file still {} its credentials from before tools fetched it with credential_process; botocore reads a section before credential_process: delete it",
                            if held.len() == 1 { "holds" } else { "hold" }
                        ),
                    });
                }
                let expires = held.iter().map(|m| m.expires).max();
                RoleStatus {
                    name: r.name.clone(),
                    state: State::of(expires, now, role_lead),
                    expires_at: expires.map(format_time),
                    seconds_left: left(expires, now),
                    source: r.source.clone(),
                    role_arn: r.role_arn.to_string(),
                    active: active_role.as_deref() == Some(r.name.as_str()),
                    sections: held.iter().map(|m| m.section.clone()).collect(),
                    on_demand: r.on_demand,
                    identity_center: false,
                }
            })
            .chain(snap.profiles.sso_roles.iter().map(|r| {
                let held: Vec<_> = managed.iter().filter(|m| m.holds == Holds::Role(r.name.clone())).collect();
                let expires = held.iter().map(|m| m.expires).max();
                let region = snap.profiles.sso_session(&r.session).map_or("", |s| s.region.as_str());
                RoleStatus {
                    name: r.name.clone(),
                    state: State::of(expires, now, role_lead),
                    expires_at: expires.map(format_time),
                    seconds_left: left(expires, now),
                    source: r.session.clone(),
                    role_arn: r.role_arn(region),
                    active: active_role.as_deref() == Some(r.name.as_str()),
                    sections: held.iter().map(|m| m.section.clone()).collect(),
                    on_demand: false,
                    identity_center: true,
                }
            }))
            .collect();

        Status {
            version: 1,
            now: format_time(now),
            credentials_file: snap.files.credentials.display().to_string(),
            target,
            active_role,
            sessions,
            roles,
            problems,
            sso_sessions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn states() {
        let now = datetime!(2026-11-28 12:00 UTC);
        let lead = Duration::from_secs(900);
        assert_eq!(State::of(None, now, lead), State::Absent);
        assert_eq!(State::of(Some(now), now, lead), State::Expired);
        assert_eq!(State::of(Some(now + time::Duration::minutes(15)), now, lead), State::Expiring);
        assert_eq!(State::of(Some(now + time::Duration::minutes(16)), now, lead), State::Valid);
    }
}
