//! The engine: login, assume, refresh, whoami and buckets, each one read of the files,
//! at most one STS flow, and at most one locked, atomic write.
//!
//! Every check that could refuse a write runs before STS is called, so a refused write
//! never burns an MFA code; the same checks run again under the file lock.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::aws::{self, AssumeRoleInput, Bucket, Endpoints, Identity, Signer, Sts};
use crate::credentials::{managed_sections, write_temp, Holds, LongTermKeys, Managed, SectionState, TempCredentials};
use crate::env::{Clock, Environment};
use crate::error::{Error, ErrorKind, Fixes};
use crate::file::{self, AwsFiles, FileError};
use crate::ini::{check_section_name, Document};
use crate::keychain::{self, KeychainError};
use crate::profiles::{profile_value, KeyStore, Profiles, RoleProfile, SessionProfile};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::status::Status;
use crate::types::{check_duration, human_duration, MfaCode, MfaSerial, ROLE_DURATION, SESSION_DURATION, SESSION_ROLE_CAP};

mod accounts;
mod process;
mod signin;
mod sso;
pub use accounts::{check_keys, check_profile_name, command_line, AccountCheck, NewRole, Rotated};
pub use process::{process_json, CodeNeeded, ForTool, Memory, SignInNeeded, TOOL_MARGIN};
pub use signin::ConsoleLink;
pub use sso::{SsoState, Synced};

/// An MFA session is used for AssumeRole only if it has at least this long left.
pub const SESSION_MARGIN: Duration = Duration::from_secs(60);

/// The two files and the profiles in them, read at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Where the files are.
    pub files: AwsFiles,
    /// The settings in force.
    pub settings: Settings,
    /// The config file (empty if missing).
    pub config: Document,
    /// The credentials file (empty if missing).
    pub credentials: Document,
    /// The profiles.
    pub profiles: Profiles,
    /// When the files were read.
    pub now: OffsetDateTime,
}

impl Snapshot {
    /// The MFA session in `[source]`, if mfa-tray wrote it and it has `margin` left.
    pub fn valid_session(&self, source: &str, margin: Duration) -> Option<TempCredentials> {
        match SectionState::of(&self.credentials, source) {
            SectionState::Managed(m) if m.holds == Holds::Session(source.to_owned()) && m.expires - self.now > margin => {
                TempCredentials::read(&self.credentials, source)
            }
            _ => None,
        }
    }

    /// The managed section holding role `role` that expires last, if any.
    pub fn freshest_role_section(&self, role: &str) -> Option<Managed> {
        managed_sections(&self.credentials).into_iter().filter(|m| m.holds == Holds::Role(role.to_owned())).max_by_key(|m| m.expires)
    }

    /// Refuses `section` as a place for roles when it is an account's own: where its MFA
    /// session goes (the next login would overwrite the role).
    pub fn check_not_an_account(&self, section: &str) -> Result<(), Error> {
        match self.profiles.session(section) {
            Some(_) => Err(Error::bad_input(
                "bad_target",
                format!("[{section}] is where the MFA session of {section} goes, and its next login would overwrite a role there: write roles somewhere else (--to another name, or target_profile in settings)"),
            )),
            None => Ok(()),
        }
    }

    /// Why `whoami` and `buckets` have no credentials for `section`, and what to run.
    fn no_credentials(&self, section: &str, target: &str) -> Error {
        let file = self.files.credentials.display();
        let text = if self.profiles.session(section).is_some() {
            format!("{section} has no MFA session yet: run `mfa-tray login {section}`")
        } else if section == target {
            let roles: Vec<&str> = self.profiles.roles.iter().filter(|r| !r.on_demand).map(|r| r.name.as_str()).collect();
            match (roles.first(), self.profiles.sessions.first()) {
                (Some(role), _) => format!("[{section}] in {file} holds no credentials yet: `mfa-tray assume {role}` writes a role there (roles: {})", roles.join(", ")),
                (None, Some(p)) => format!("[{section}] in {file} holds no credentials yet: name a profile, like `mfa-tray whoami {}`", p.name),
                (None, None) => format!("[{section}] in {file} holds no credentials, and no account is set up: `mfa-tray keys add NAME` adds one"),
            }
        } else if self.profiles.problem(section).is_some() || self.config.has_section(&format!("profile {section}")) || self.credentials.has_section(section) {
            format!("[{section}] in {file} holds no credentials mfa-tray can use")
        } else {
            let known: Vec<&str> = self.profiles.sessions.iter().map(|p| p.name.as_str()).chain(self.profiles.roles.iter().map(|r| r.name.as_str())).collect();
            return self.unknown(section, "", known);
        };
        Error::bad_input("no_credentials", text)
    }

    /// The MFA session profile `name`, or why it is none (unknown, a role, misconfigured).
    pub fn session_profile(&self, name: &str) -> Result<&SessionProfile, Error> {
        if let Some(p) = self.profiles.session(name) {
            return Ok(p);
        }
        if self.profiles.role(name).is_some() {
            return Err(Error::bad_input("not_a_session", format!("{name} is a role profile: use `mfa-tray assume {name}`")));
        }
        Err(self.unknown(name, "MFA session", self.profiles.sessions.iter().map(|p| p.name.as_str()).collect()))
    }

    /// The role profile `name`, or why it is none.
    pub fn role_profile(&self, name: &str) -> Result<&RoleProfile, Error> {
        if let Some(p) = self.profiles.role(name) {
            return Ok(p);
        }
        if self.profiles.session(name).is_some() {
            return Err(Error::bad_input("not_a_role", format!("{name} is an MFA session profile: use `mfa-tray login {name}`")));
        }
        Err(self.unknown(name, "role", self.profiles.roles.iter().map(|p| p.name.as_str()).collect()))
    }

    fn unknown(&self, name: &str, what: &str, known: Vec<&str>) -> Error {
        if let Some(problem) = self.profiles.problem(name) {
            return Error::bad_input("misconfigured", format!("profile {name} cannot be used: {}", problem.message));
        }
        let known = match known.iter().find(|k| crate::types::near(k, name)) {
            Some(near) => format!("did you mean {near}?"),
            None if known.is_empty() => "none are configured; see `mfa-tray --help`".to_owned(),
            None => format!("known: {}", known.join(", ")),
        };
        let what = if what.is_empty() { String::new() } else { format!("{what} ") };
        Error::bad_input("unknown_profile", format!("there is no {what}profile named {name} in {} ({known})", self.files.config.display()))
    }

    /// Refuses to write `section` unless mfa-tray may hold `holds` there.
    fn check_writable(&self, doc: &Document, section: &str, holds: &Holds) -> Result<(), FileError> {
        let state = SectionState::of(doc, section);
        let reason = match (&state, holds) {
            (SectionState::Managed(Managed { holds: Holds::Session(s), .. }), Holds::Role(_)) => Some(format!(
                "it holds the MFA session of {s}, which its roles need; write the role somewhere else"
            )),
            _ => state.refusal(section, &self.settings.long_term_suffix),
        };
        match reason {
            Some(reason) => Err(FileError::NotOurs { path: self.files.credentials.clone(), section: section.to_owned(), reason }),
            None => Ok(()),
        }
    }
}

/// How a role gets assumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// With the source profile's MFA session: no code, at most one hour.
    ViaSession,
    /// With the long-term keys plus SerialNumber and TokenCode.
    WithMfa,
    /// An IAM Identity Center role: GetRoleCredentials with the session's token.
    IdentityCenter,
}

/// The decision for one AssumeRole, before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Which flow.
    pub strategy: Strategy,
    /// DurationSeconds to ask for.
    pub duration: Duration,
    /// Why this flow, for people.
    pub reason: String,
    /// The device a code is for (needed when `strategy` is `WithMfa`; none for an
    /// Identity Center role).
    pub mfa_serial: Option<MfaSerial>,
}

/// What `login` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The session profile (and section written).
    pub profile: String,
    /// When the session expires.
    pub expires: OffsetDateTime,
}

/// What `assume` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeOutcome {
    /// The role profile.
    pub role: String,
    /// The section written.
    pub section: String,
    /// Whether that section is the target profile (the role is now active).
    pub active: bool,
    /// When the role credentials expire.
    pub expires: OffsetDateTime,
    /// How it was done and why.
    pub plan: Plan,
}

/// What `refresh` did with one managed role section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshItem {
    /// Re-assumed; now expires at the given time.
    Refreshed {
        /// Section.
        section: String,
        /// Role.
        role: String,
        /// New expiry.
        expires: OffsetDateTime,
        /// The role's own duration, when AWS's one-hour cap for roles assumed through an
        /// MFA session made this one shorter.
        capped_from: Option<Duration>,
    },
    /// Not yet near expiry.
    Fresh {
        /// Section.
        section: String,
        /// Role.
        role: String,
        /// Expiry.
        expires: OffsetDateTime,
    },
    /// Needs a sign-in to its Identity Center session first.
    NeedsSignIn {
        /// Section.
        section: String,
        /// Role.
        role: String,
        /// The Identity Center session to sign in to.
        session: String,
    },
    /// Needs a new MFA session first.
    NeedsLogin {
        /// Section.
        section: String,
        /// Role.
        role: String,
        /// The session profile to log in to.
        session: String,
    },
    /// Not written: the section changed while STS answered (a newer write, or the user),
    /// and newer writes win.
    Superseded {
        /// Section.
        section: String,
        /// Role.
        role: String,
    },
    /// Tried and failed.
    Failed {
        /// Section.
        section: String,
        /// Role.
        role: String,
        /// Why.
        error: Error,
    },
}

/// The engine, over one user's files and settings.
pub struct Engine {
    env: Arc<dyn Environment>,
    clock: Arc<dyn Clock>,
    /// The settings in force.
    pub settings: Settings,
    /// Where the AWS files are.
    pub files: AwsFiles,
    /// Where accounts' long-term keys are kept.
    keychain: Arc<dyn keychain::Keychain>,
}

impl Engine {
    /// Loads the settings and finds the files.
    pub fn new(env: Arc<dyn Environment>, clock: Arc<dyn Clock>) -> Result<Engine, Error> {
        let settings = Settings::load(env.as_ref()).map_err(|e| Error::bad_input("bad_settings", e.to_string()))?;
        let files = AwsFiles::locate(env.as_ref())?;
        Ok(Engine { env, clock, settings, files, keychain: Arc::new(keychain::OsKeychain) })
    }

    /// This engine with the variables that decide regions and endpoints
    /// ([`aws::ENDPOINT_VARS`]) taken from `vars` rather than this process's
    /// environment: a tool's own, when it asks the tray.
    pub fn with_endpoint_vars(&self, vars: std::collections::BTreeMap<String, String>) -> Engine {
        let env = Arc::new(crate::env::Overlay { base: self.env.clone(), names: aws::ENDPOINT_VARS, vars });
        Engine { env, clock: self.clock.clone(), settings: self.settings.clone(), files: self.files.clone(), keychain: self.keychain.clone() }
    }

    /// This engine with its accounts' keys kept in `keychain` instead of the OS keychain.
    pub fn with_keychain(self, keychain: Arc<dyn keychain::Keychain>) -> Engine {
        Engine { keychain, ..self }
    }

    /// Reads both files now.
    pub fn snapshot(&self) -> Result<Snapshot, Error> {
        let config = file::read_document(&self.files.config)?.unwrap_or_default();
        let credentials = file::read_document(&self.files.credentials)?.unwrap_or_default();
        let profiles = Profiles::resolve(&config, &credentials, &self.settings.long_term_suffix);
        Ok(Snapshot { files: self.files.clone(), settings: self.settings.clone(), config, credentials, profiles, now: self.clock.now() })
    }

    /// The code a profile's `mfa_process` (`command`) prints, never one that this or
    /// another mfa-tray process already took from the profile's device
    /// ([`crate::mfa_process::code`]). Blocking: it may wait for the next 30-second step.
    pub fn process_code(&self, profile: &str, command: &str) -> Result<MfaCode, Error> {
        let snap = self.snapshot()?;
        let serial = match (snap.profiles.session(profile), snap.profiles.role(profile)) {
            (Some(p), _) => p.mfa_serial.to_string(),
            (None, Some(r)) => r.mfa_serial.to_string(),
            (None, None) => profile.to_owned(),
        };
        crate::mfa_process::code(profile, command, &serial, &self.files.credentials)
    }

    /// Every profile's state.
    pub fn status(&self) -> Result<Status, Error> {
        let snap = self.snapshot()?;
        let session_lead = self.settings.notify_before.first().copied().unwrap_or(Duration::ZERO);
        let mut status = Status::from_snapshot(&snap, session_lead, self.settings.refresh_before);
        status.problems.extend(self.exposed_seeds(&snap));
        if let Err(e) = snap.check_not_an_account(&self.settings.target_profile) {
            status.problems.push(crate::status::ProblemStatus { profile: format!("target_profile = {}", self.settings.target_profile), message: e.message });
        }
        status.sso_sessions = self
            .sso_states(&snap)
            .into_iter()
            .map(|s| crate::status::SsoSessionStatus {
                state: crate::status::State::of(s.expires, snap.now, session_lead),
                expires_at: s.expires.map(crate::credentials::format_time),
                seconds_left: s.expires.map(|e| (e - snap.now).whole_seconds().max(0) as u64),
                renewable: s.renewable,
                name: s.session.name,
                start_url: s.session.start_url,
                region: s.session.region,
            })
            .collect();
        Ok(status)
    }

    /// Profiles whose `mfa_process` carries a TOTP seed in a config file that other
    /// users can read. (Windows: files under the profile are the user's alone unless
    /// shared on purpose.)
    fn exposed_seeds(&self, snap: &Snapshot) -> Vec<crate::status::ProblemStatus> {
        let Some(mode) = readable_by_others(&self.files.config) else { return Vec::new() };
        crate::profiles::config_profiles(&snap.config)
            .into_iter()
            .filter(|(_, section)| snap.config.get(section, "mfa_process").is_some_and(|c| crate::mfa_process::seed_in(&c)))
            .map(|(name, _)| crate::status::ProblemStatus {
                profile: name,
                message: format!(
                    "its mfa_process has a TOTP seed on its command line, and {} is readable by other users (mode {mode:04o}): anyone on this computer can make your codes. `chmod 600` it, and keep the seed out of the command line (README: Codes from a command)",
                    self.files.config.display()
                ),
            })
            .collect()
    }

    /// GetSessionToken with MFA for `profile`; writes `[profile]`.
    pub async fn login(&self, profile: &str, code: &MfaCode, duration: Option<Duration>) -> Result<LoginOutcome, Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(profile)?;
        let duration = duration.or(p.duration).unwrap_or(self.settings.session_duration);
        check_duration(duration, SESSION_DURATION, "GetSessionToken").map_err(|e| Error::bad_input("bad_duration", format!("{profile}: {e}")))?;
        let holds = Holds::Session(p.name.clone());
        snap.check_writable(&snap.credentials, &p.name, &holds)?;
        self.trial_write(&snap, &p.name, &holds)?;
        let creds = self.get_session(&snap, p, code, duration).await?;
        self.write(&snap, &p.name, &creds, &holds, None)?;
        Ok(LoginOutcome { profile: p.name.clone(), expires: creds.expiration })
    }

    /// GetSessionToken with MFA for `p`, written nowhere.
    async fn get_session(&self, snap: &Snapshot, p: &SessionProfile, code: &MfaCode, duration: Duration) -> Result<TempCredentials, Error> {
        let keys = self.long_term_keys(snap, p)?;
        let sts = Sts::new(Signer::LongTerm(&keys), &self.endpoints(p.region.as_deref(), p.endpoint_url.as_deref()));
        let what = format!("logging in {} (GetSessionToken)", p.name);
        sts.get_session_token(&p.mfa_serial, code, duration).await.and_then(|c| self.plausible(c)).map_err(|e| {
            let (serial_section, login) = (format!("[profile {}]", p.name), format!("mfa-tray login {}", p.name));
            Error::from_aws(e, &what, self.fixes(p, &serial_section, &login))
        })
    }

    /// Ends account `account`'s MFA session here: removes the MFA session kept for tools
    /// in the keychain, then the one mfa-tray wrote to `[ACCOUNT]` (and nothing else
    /// there). Roles assumed through it keep working until they expire. Returns what went,
    /// and why the keychain could not be asked, if it could not (a session kept there
    /// then stays until it runs out).
    pub fn logout(&self, account: &str) -> Result<(Vec<String>, Option<String>), Error> {
        let snap = self.snapshot()?;
        let holds = |doc: &Document| matches!(SectionState::of(doc, account), SectionState::Managed(Managed { holds: Holds::Session(s), .. }) if s == account);
        // A profile that no longer works (its keys gone) can still be logged out.
        if snap.profiles.session(account).is_none() && !holds(&snap.credentials) {
            snap.session_profile(account)?;
        }
        // Not while a tool is between its code and keeping the session it made.
        let _turn = self.tool_code_turn(account)?;
        let mut gone = Vec::new();
        let mut unasked = None;
        match self.forget_session(account) {
            Ok(true) => gone.push("the MFA session kept for tools in the keychain".to_owned()),
            Ok(false) => {}
            Err(KeychainError::Unavailable(why)) => unasked = Some(why),
            Err(e) => return Err(keychain_error(account, e)),
        }
        if holds(&snap.credentials) {
            let removed = file::update(&self.files.credentials, self.settings.lock_timeout, |doc| match holds(doc) {
                true => doc.remove_section(account).map(|_| true).map_err(|source| FileError::Edit { path: self.files.credentials.clone(), source }),
                false => Ok(false),
            })?;
            if removed {
                gone.push(format!("[{account}] from {}", self.files.credentials.display()));
            }
        }
        Ok((gone, unasked))
    }

    /// Decides how `role` would be assumed now. `explicit` is a duration the user asked
    /// for; `code_given` whether a code is at hand. A plan may need a code that is not.
    pub fn plan(&self, snap: &Snapshot, role: &str, explicit: Option<Duration>, code_given: bool) -> Result<Plan, Error> {
        if let Some(r) = snap.profiles.sso_role(role) {
            if explicit.is_some() {
                return Err(Error::bad_input("bad_duration", format!("{role} is an Identity Center role: its permission set decides how long its credentials last")));
            }
            return Ok(Plan {
                strategy: Strategy::IdentityCenter,
                duration: Duration::ZERO,
                reason: format!("with the Identity Center session {} (GetRoleCredentials); no code needed", r.session),
                mfa_serial: None,
            });
        }
        let r = snap.role_profile(role)?;
        if r.on_demand {
            return Err(Error::bad_input(
                "on_demand",
                format!("{role} is fetched by tools with credential_process and never written to the credentials file; `mfa-tray credential-process {role}` prints its credentials"),
            ));
        }
        let wanted = explicit.or(r.duration).unwrap_or(self.settings.role_duration);
        check_duration(wanted, ROLE_DURATION, "AssumeRole").map_err(|e| Error::bad_input("bad_duration", format!("{role}: {e}")))?;
        let session = snap.valid_session(&r.source, SESSION_MARGIN);
        let over_cap = wanted > SESSION_ROLE_CAP;
        let plan = |strategy, duration, reason: String| Plan { strategy, duration, reason, mfa_serial: Some(r.mfa_serial.clone()) };
        Ok(match (session.is_some(), over_cap, code_given) {
            (true, false, _) => plan(Strategy::ViaSession, wanted, format!("through the MFA session of {}; no code needed", r.source)),
            (true, true, false) if explicit.is_none() => plan(
                Strategy::ViaSession,
                SESSION_ROLE_CAP,
                format!(
                    "through the MFA session of {}; capped at 1 hour, as AWS does for roles assumed with a session (pass a code for {})",
                    r.source,
                    human_duration(wanted)
                ),
            ),
            (true, true, _) => plan(
                Strategy::WithMfa,
                wanted,
                format!("with an MFA code, because {} is longer than the 1 hour AWS allows through an MFA session", human_duration(wanted)),
            ),
            (false, _, _) => plan(Strategy::WithMfa, wanted, format!("with an MFA code, because {} has no valid MFA session", r.source)),
        })
    }

    /// The section `assume` writes `role` to (`to`, else the target profile), if it may:
    /// checked before any code is asked for.
    pub fn destination(&self, snap: &Snapshot, role: &str, to: Option<&str>) -> Result<String, Error> {
        let section = to.unwrap_or(&self.settings.target_profile).to_owned();
        check_section_name(&section).map_err(|e| Error::bad_input("bad_target", e.to_string()))?;
        snap.check_not_an_account(&section)?;
        snap.check_writable(&snap.credentials, &section, &Holds::Role(role.to_owned()))?;
        Ok(section)
    }

    /// AssumeRole for `role`; writes `to` (default: the target profile) and marks the
    /// role as held there. A code is used only if the MFA session cannot serve.
    pub async fn assume(&self, role: &str, code: Option<&MfaCode>, duration: Option<Duration>, to: Option<&str>) -> Result<AssumeOutcome, Error> {
        let snap = self.snapshot()?;
        let plan = self.plan(&snap, role, duration, code.is_some())?;
        if let Some(r) = snap.profiles.sso_role(role) {
            let section = self.destination(&snap, role, to)?;
            let holds = Holds::Role(r.name.clone());
            self.trial_write(&snap, &section, &holds)?;
            let creds = self.sso_role_credentials(&snap, r).await?;
            self.write(&snap, &section, &creds, &holds, None)?;
            return Ok(AssumeOutcome { role: r.name.clone(), active: section == self.settings.target_profile, section, expires: creds.expiration, plan });
        }
        let r = snap.role_profile(role)?;
        let section = self.destination(&snap, role, to)?;
        let holds = Holds::Role(r.name.clone());
        self.trial_write(&snap, &section, &holds)?;
        let creds = match plan.strategy {
            Strategy::ViaSession => self.assume_via_session(&snap, r, plan.duration).await?,
            Strategy::WithMfa => {
                let code = code.ok_or_else(|| {
                    Error::bad_input(
                        "code_required",
                        format!("assuming {role} needs an MFA code for {}: {}. Pass --code, or run `mfa-tray login {}` first", r.mfa_serial, plan.reason, r.source),
                    )
                })?;
                self.assume_with_code(&snap, r, code, plan.duration).await?
            }
            Strategy::IdentityCenter => return Err(Error::bad_input("not_a_role", format!("{role} is not a role profile"))),
        };
        self.write(&snap, &section, &creds, &holds, None)?;
        Ok(AssumeOutcome { role: r.name.clone(), active: section == self.settings.target_profile, section, expires: creds.expiration, plan })
    }

    /// Re-assumes every managed role section that expires within `refresh_before`
    /// (every one, with `force`), through its still-valid MFA session. Asks for nothing.
    pub async fn refresh(&self, force: bool) -> Result<Vec<RefreshItem>, Error> {
        let snap = self.snapshot()?;
        let mut items = Vec::new();
        for m in managed_sections(&snap.credentials) {
            if let Holds::Role(role) = &m.holds {
                if !force && m.expires - snap.now > self.settings.refresh_before {
                    items.push(RefreshItem::Fresh { section: m.section.clone(), role: role.clone(), expires: m.expires });
                } else {
                    items.push(self.refresh_section(&snap, &m.section).await);
                }
            }
        }
        Ok(items)
    }

    /// Re-assumes the role held in `section` through its MFA session, now.
    pub async fn refresh_section(&self, snap: &Snapshot, section: &str) -> RefreshItem {
        let (section, role, seen) = match SectionState::of(&snap.credentials, section) {
            SectionState::Managed(m @ Managed { holds: Holds::Role(_), .. }) => {
                let Holds::Role(role) = m.holds.clone() else { unreachable!("matched a role") };
                (section.to_owned(), role, m)
            }
            _ => {
                let error = Error::bad_input("not_a_role_section", format!("[{section}] does not hold a role written by mfa-tray"));
                return RefreshItem::Failed { section: section.to_owned(), role: String::new(), error };
            }
        };
        if let Some(r) = snap.profiles.sso_role(&role) {
            let result = match self.sso_role_credentials(snap, r).await {
                Ok(creds) => self.write(snap, &section, &creds, &Holds::Role(role.clone()), Some(&seen)).map(|()| creds.expiration),
                Err(e) => Err(e),
            };
            return match result {
                Ok(expires) => RefreshItem::Refreshed { section, role, expires, capped_from: None },
                Err(error) if error.code == "file_superseded" => RefreshItem::Superseded { section, role },
                Err(error) if error.code == "sso_login_required" => RefreshItem::NeedsSignIn { section, role, session: r.session.clone() },
                Err(error) => RefreshItem::Failed { section, role, error },
            };
        }
        let r = match snap.role_profile(&role) {
            Ok(r) => r,
            Err(error) => return RefreshItem::Failed { section, role, error },
        };
        if r.on_demand {
            let error = Error::bad_input(
                "on_demand",
                format!("{role} is now fetched by tools with credential_process, so mfa-tray no longer refreshes [{section}]; delete that section (botocore reads it before credential_process)"),
            );
            return RefreshItem::Failed { section, role, error };
        }
        if snap.valid_session(&r.source, SESSION_MARGIN).is_none() {
            return RefreshItem::NeedsLogin { section, role, session: r.source.clone() };
        }
        let wanted = r.duration.unwrap_or(self.settings.role_duration);
        let duration = wanted.min(SESSION_ROLE_CAP);
        // `write` re-reads the file under the lock, so other sections written since `snap`
        // survive; and it writes only if this one still holds what was refreshed, so a
        // switch of role (or a deletion) made while STS answered is kept.
        let result = match self.assume_via_session(snap, r, duration).await {
            Ok(creds) => self.write(snap, &section, &creds, &Holds::Role(role.clone()), Some(&seen)).map(|()| creds.expiration),
            Err(e) => Err(e),
        };
        match result {
            Ok(expires) => RefreshItem::Refreshed { section, role, expires, capped_from: (wanted > duration).then_some(wanted) },
            Err(error) if error.code == "file_superseded" => RefreshItem::Superseded { section, role },
            Err(error) => RefreshItem::Failed { section, role, error },
        }
    }

    /// GetCallerIdentity with the credentials of `profile` (default: the target profile).
    pub async fn whoami(&self, profile: Option<&str>) -> Result<(String, Identity), Error> {
        let snap = self.snapshot()?;
        let (section, creds, endpoints) = self.usable(&snap, profile).await?;
        let identity = match &creds {
            Usable::Keys(k) => Sts::new(Signer::LongTerm(k), &endpoints).caller_identity().await,
            Usable::Temp(t) => Sts::new(Signer::Temporary(t), &endpoints).caller_identity().await,
        }
        .map_err(|e| self.use_error(e, &section, "GetCallerIdentity"))?;
        Ok((section, identity))
    }

    /// S3 ListBuckets with the credentials of `profile` (default: the target profile).
    pub async fn buckets(&self, profile: Option<&str>) -> Result<(String, Vec<Bucket>), Error> {
        let snap = self.snapshot()?;
        let (section, creds, endpoints) = self.usable(&snap, profile).await?;
        let buckets = match &creds {
            Usable::Keys(k) => aws::list_buckets(Signer::LongTerm(k), &endpoints).await,
            Usable::Temp(t) => aws::list_buckets(Signer::Temporary(t), &endpoints).await,
        }
        .map_err(|e| self.use_error(e, &section, "S3 ListBuckets"))?;
        Ok((section, buckets))
    }

    fn endpoints(&self, region: Option<&str>, endpoint_url: Option<&str>) -> Endpoints {
        Endpoints::resolve(self.env.as_ref(), region, endpoint_url)
    }

    fn fixes<'a>(&self, p: &'a SessionProfile, serial_section: &'a str, login: &'a str) -> Fixes<'a> {
        let keys_section = match p.keys {
            KeyStore::File => p.long_term_section.as_str(),
            KeyStore::Keychain => "the keychain (`mfa-tray keys add` replaces them)",
        };
        Fixes { keys_section, serial_section, login }
    }

    /// The long-term keys of an account: from the keychain if its profile says they are
    /// there (else from the file, if they are still there too), or from the file.
    pub fn long_term_keys(&self, snap: &Snapshot, p: &SessionProfile) -> Result<LongTermKeys, Error> {
        let from_file = || LongTermKeys::read(&snap.credentials, &p.long_term_section);
        match p.keys {
            KeyStore::Keychain => match self.keychain.load(&p.name).map_err(|e| keychain_error(&p.name, e))? {
                Some(keys) => Ok(keys),
                None => from_file().ok_or_else(|| {
                    Error::bad_input(
                        "no_keys",
                        format!("the keychain has no keys for {0}; add them with `mfa-tray keys add {0}` (or the window's Add account)", p.name),
                    )
                }),
            },
            KeyStore::File => from_file().ok_or_else(|| {
                Error::bad_input("misconfigured", format!("[{}] has no complete long-term keys", p.long_term_section))
            }),
        }
    }

    fn assume_input<'a>(&self, r: &'a RoleProfile, duration: Duration, mfa: Option<(&'a MfaSerial, &'a MfaCode)>) -> AssumeRoleInput<'a> {
        AssumeRoleInput {
            role_arn: &r.role_arn,
            session_name: r.role_session_name.as_deref().unwrap_or("mfa-tray"),
            external_id: r.external_id.as_deref(),
            duration,
            mfa,
        }
    }

    async fn assume_via_session(&self, snap: &Snapshot, r: &RoleProfile, duration: Duration) -> Result<TempCredentials, Error> {
        let session = snap.valid_session(&r.source, SESSION_MARGIN).ok_or_else(|| {
            Error::new(ErrorKind::AwsRefused, "expired_token", format!("the MFA session of {} has expired; run `mfa-tray login {}`", r.source, r.source))
        })?;
        self.assume_through(snap, r, &session, duration).await
    }

    /// AssumeRole for `r` signed with the MFA session `session`.
    async fn assume_through(&self, snap: &Snapshot, r: &RoleProfile, session: &TempCredentials, duration: Duration) -> Result<TempCredentials, Error> {
        let sts = Sts::new(Signer::Temporary(session), &self.endpoints(r.region.as_deref(), r.endpoint_url.as_deref()));
        let source = snap.session_profile(&r.source)?;
        sts.assume_role(&self.assume_input(r, duration, None)).await.and_then(|c| self.plausible(c)).map_err(|e| self.assume_error(e, r, source))
    }

    /// AssumeRole for `r` with its account's long-term keys and an MFA code.
    async fn assume_with_code(&self, snap: &Snapshot, r: &RoleProfile, code: &MfaCode, duration: Duration) -> Result<TempCredentials, Error> {
        let source = snap.session_profile(&r.source)?;
        let keys = self.long_term_keys(snap, source)?;
        let sts = Sts::new(Signer::LongTerm(&keys), &self.endpoints(r.region.as_deref(), r.endpoint_url.as_deref()));
        let input = self.assume_input(r, duration, Some((&r.mfa_serial, code)));
        sts.assume_role(&input).await.and_then(|c| self.plausible(c)).map_err(|e| self.assume_error(e, r, source))
    }

    /// Credentials whose expiry makes sense now: in the future, and within the longest
    /// session STS grants (a clock far off, or a broken answer, fails here).
    fn plausible(&self, creds: TempCredentials) -> Result<TempCredentials, aws::AwsError> {
        let now = self.clock.now();
        let longest = time::Duration::seconds(SESSION_DURATION.1 as i64 + 3600);
        if creds.expiration <= now || creds.expiration > now + longest {
            return Err(aws::AwsError::Malformed(format!(
                "credentials that expire at {}, which is not within the next 36 hours by this computer's clock (is the clock right?)",
                crate::credentials::format_time(creds.expiration)
            )));
        }
        Ok(creds)
    }

    fn assume_error(&self, e: aws::AwsError, r: &RoleProfile, source: &SessionProfile) -> Error {
        let login = format!("mfa-tray login {}", source.name);
        let serial_section = format!("[profile {}] (or [profile {}])", r.name, source.name);
        Error::from_aws(e, &format!("assuming {} ({})", r.name, r.role_arn), self.fixes(source, &serial_section, &login))
    }

    fn use_error(&self, e: aws::AwsError, section: &str, call: &str) -> Error {
        let keys = format!("[{section}]");
        Error::from_aws(e, &format!("calling {call} as [{section}]"), Fixes { keys_section: &keys, serial_section: "the config file", login: "mfa-tray login <profile>" })
    }

    /// Checks that `path` can be written and that `edit` succeeds on a copy of `doc`.
    fn try_edit(&self, path: &std::path::Path, doc: &Document, edit: impl FnOnce(&mut Document) -> Result<(), crate::ini::EditError>) -> Result<(), Error> {
        file::preflight(path, self.settings.lock_timeout)?;
        let mut copy = doc.clone();
        edit(&mut copy).map_err(|source| FileError::Edit { path: path.to_owned(), source })?;
        Ok(())
    }

    /// The edit a write will make, tried on a copy of the file with stand-in credentials
    /// before STS is called (after the file's preflight): an edit the botocore read-back
    /// would refuse (the section's surroundings, not the values, decide that) is refused
    /// before a code is spent.
    fn trial_write(&self, snap: &Snapshot, section: &str, holds: &Holds) -> Result<(), Error> {
        let stand_in = TempCredentials {
            access_key_id: "ASIASTANDIN000000000".to_owned(),
            secret_access_key: Secret::new("stand/in+secret/access/key/0000000000000".to_owned()),
            session_token: Secret::new("stand/in+session/token=".repeat(16)),
            expiration: self.clock.now() + time::Duration::hours(1),
        };
        self.try_edit(&self.files.credentials, &snap.credentials, |doc| write_temp(doc, section, &stand_in, holds))
    }

    /// Writes `creds` into `section` under the lock, re-checking ownership there. With
    /// `expect`, only if the section still holds exactly that (the same role and expiry)
    /// and every key in it is as the snapshot read it (keys another tool set meanwhile
    /// included): a background refresh never undoes a newer write.
    fn write(&self, snap: &Snapshot, section: &str, creds: &TempCredentials, holds: &Holds, expect: Option<&Managed>) -> Result<(), Error> {
        let path = &self.files.credentials;
        file::update(path, self.settings.lock_timeout, |doc| {
            if let Some(expected) = expect {
                let unchanged = doc.properties(section) == snap.credentials.properties(section);
                if !unchanged || SectionState::of(doc, section) != SectionState::Managed(expected.clone()) {
                    return Err(FileError::Superseded { path: path.clone(), section: section.to_owned() });
                }
            }
            snap.check_writable(doc, section, holds)?;
            write_temp(doc, section, creds, holds).map_err(|source| FileError::Edit { path: path.clone(), source })
        })?;
        Ok(())
    }

    /// The credentials `whoami` and `buckets` use, and where to send requests: an
    /// Identity Center role with no section holding it gets its credentials from the
    /// portal (written nowhere).
    async fn usable(&self, snap: &Snapshot, profile: Option<&str>) -> Result<(String, Usable, Endpoints), Error> {
        let wanted = profile.map(str::to_owned).or_else(|| self.env.var_str("AWS_PROFILE")).unwrap_or_else(|| self.settings.target_profile.clone());
        if let Some(r) = snap.profiles.sso_role(&wanted) {
            if !snap.credentials.has_section(&wanted) && snap.freshest_role_section(&wanted).is_none() {
                let creds = self.sso_role_credentials(snap, r).await?;
                let region = r.region.clone().or_else(|| snap.profiles.sso_session(&r.session).map(|s| s.region.clone()));
                return Ok((wanted, Usable::Temp(creds), self.endpoints(region.as_deref(), r.endpoint_url.as_deref())));
            }
        }
        // A role tools fetch on demand is never in the file: fetched the same way.
        if let Some(r) = snap.profiles.role(&wanted).filter(|r| r.on_demand && snap.freshest_role_section(&r.name).is_none()) {
            return match self.for_tool(&wanted, &Memory::new()).await? {
                ForTool::Ready { creds, .. } => Ok((wanted, Usable::Temp(creds), self.endpoints(r.region.as_deref(), r.endpoint_url.as_deref()))),
                _ => Err(Error::bad_input(
                    "code_required",
                    format!("{wanted} is fetched through the MFA session of {}, which is not valid: run `mfa-tray login {}` first", r.source, r.source),
                )),
            };
        }
        self.credentials_for(snap, profile)
    }

    /// The credentials `whoami` and `buckets` use, and where to send requests.
    fn credentials_for(&self, snap: &Snapshot, profile: Option<&str>) -> Result<(String, Usable, Endpoints), Error> {
        let from_env = self.env.var_str("AWS_PROFILE");
        let wanted = profile.map(str::to_owned).or(from_env).unwrap_or_else(|| self.settings.target_profile.clone());
        // A role profile has no section of its own: use a section that holds it.
        let is_role = snap.profiles.role(&wanted).is_some() || snap.profiles.sso_role(&wanted).is_some();
        let section = match (snap.credentials.has_section(&wanted), is_role) {
            (false, true) => snap
                .freshest_role_section(&wanted)
                .map(|m| m.section)
                .ok_or_else(|| Error::bad_input("no_credentials", format!("role {wanted} has no credentials yet: run `mfa-tray assume {wanted}`")))?,
            _ => wanted.clone(),
        };
        // Requests go where the profile behind the credentials points.
        let behind = match SectionState::of(&snap.credentials, &section) {
            SectionState::Managed(Managed { holds: Holds::Role(r) | Holds::Session(r), expires, .. }) => {
                if expires <= snap.now {
                    return Err(Error::new(
                        ErrorKind::AwsRefused,
                        "expired_token",
                        format!("the credentials in [{section}] expired at {}; run `mfa-tray {} {r}`", crate::credentials::format_time(expires), if snap.profiles.role(&r).is_some() || snap.profiles.sso_role(&r).is_some() { "assume" } else { "login" }),
                    ));
                }
                r
            }
            _ => section.clone(),
        };
        let (region, endpoint) = match snap.profiles.role(&behind) {
            Some(r) => (r.region.clone(), r.endpoint_url.clone()),
            None => (
                profile_value(&snap.config, &snap.credentials, &behind, "region"),
                profile_value(&snap.config, &snap.credentials, &behind, "endpoint_url"),
            ),
        };
        let endpoints = self.endpoints(region.as_deref(), endpoint.as_deref());
        let usable = if let Some(t) = TempCredentials::read(&snap.credentials, &section) {
            Usable::Temp(t)
        } else if let Some(k) = LongTermKeys::read(&snap.credentials, &section) {
            Usable::Keys(k)
        } else {
            return Err(snap.no_credentials(&section, &self.settings.target_profile));
        };
        Ok((section, usable, endpoints))
    }
}

/// The mode of a file that users other than its owner may read.
#[cfg(unix)]
fn readable_by_others(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &std::path::Path) -> Option<u32> {
    None
}

/// A keychain failure as an engine error.
pub fn keychain_error(account: &str, e: KeychainError) -> Error {
    if let KeychainError::OtherCase { .. } = e {
        return Error::bad_input("name_taken", e.to_string());
    }
    let code = if matches!(e, KeychainError::TimedOut(_)) { "keychain_timeout" } else { "keychain" };
    Error::new(ErrorKind::LocalFile, code, format!("{account}: {e}"))
}

enum Usable {
    Keys(LongTermKeys),
    Temp(TempCredentials),
}
