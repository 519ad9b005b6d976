//! Credentials for tools that ask (`credential_process`): handed over, never written.

use std::collections::HashMap;
use std::time::Duration;

use crate::credentials::{format_time, TempCredentials};
use crate::error::Error;
use crate::profiles::{RoleProfile, SessionProfile};
use crate::types::{MfaCode, SESSION_ROLE_CAP};

use super::{Engine, SESSION_MARGIN};

/// Credentials are handed to a tool only with at least this long left: botocore
/// refreshes credential_process credentials 15 minutes before they expire, and insists
/// at 10.
pub const TOOL_MARGIN: Duration = Duration::from_secs(15 * 60);

/// Credentials fetched for a tool (a role, or an MFA session) last at least this long,
/// so the tool does not come back at once.
const TOOL_MIN: Duration = Duration::from_secs(30 * 60);

/// Temporary credentials kept in memory for tools (the tray's), by what defines them
/// ([`Engine::role_key`], [`Engine::session_key`]): a profile edited since, or a tool
/// with other endpoints, never gets credentials made for something else.
pub type Memory = HashMap<String, TempCredentials>;

/// What a tool's request needs.
#[derive(Debug)]
pub enum ForTool {
    /// Credentials with at least [`TOOL_MARGIN`] left, and the key to keep them under.
    Ready {
        /// The credentials.
        creds: TempCredentials,
        /// Their key in [`Memory`].
        key: String,
    },
    /// A code first.
    NeedCode(CodeNeeded),
    /// A sign-in to an IAM Identity Center session first.
    NeedSignIn(SignInNeeded),
}

/// The Identity Center sign-in a tool's request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInNeeded {
    /// The profile the tool asked for.
    pub profile: String,
    /// The session to sign in to.
    pub session: String,
    /// Why, for people.
    pub reason: String,
}

/// The code a tool's request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeNeeded {
    /// The profile the tool asked for.
    pub profile: String,
    /// The MFA session profile whose code it is.
    pub account: String,
    /// Its device.
    pub mfa_serial: String,
    /// The command that prints the code, if the profile has one.
    pub mfa_process: Option<String>,
    /// The key the account's MFA session is kept under in [`Memory`].
    pub session_key: String,
}

impl Engine {
    /// The memory key of role `r`'s credentials: everything that decides which role
    /// session AssumeRole hands out, and where.
    pub fn role_key(&self, r: &RoleProfile) -> String {
        let e = self.endpoints(r.region.as_deref(), r.endpoint_url.as_deref());
        let duration = r.duration.map_or(String::new(), |d| d.as_secs().to_string());
        let parts = [r.role_arn.as_str(), &r.source, r.mfa_serial.as_str(), r.external_id.as_deref().unwrap_or(""), r.role_session_name.as_deref().unwrap_or(""), &duration, &e.region, e.sts.as_deref().unwrap_or("")];
        format!("role\0{}", parts.join("\0"))
    }

    /// The memory key of account `p`'s MFA session: its device, and where the session
    /// works (its partition, or a custom STS endpoint).
    pub fn session_key(&self, p: &SessionProfile) -> String {
        let e = self.endpoints(p.region.as_deref(), p.endpoint_url.as_deref());
        format!("session\0{}\0{}\0{}", p.name, p.mfa_serial, e.realm())
    }

    /// Credentials for a tool asking for `profile` (a role or an MFA session), without a
    /// code if that can be done: from `memory`, from an MFA session in memory or in the
    /// file (a role is then assumed now, at most an hour as AWS allows with a session,
    /// and not written). Otherwise says which code is needed.
    pub async fn for_tool(&self, profile: &str, memory: &Memory) -> Result<ForTool, Error> {
        let snap = self.snapshot()?;
        let fresh = |c: &&TempCredentials| c.expiration - snap.now > TOOL_MARGIN;
        if let Some(r) = snap.profiles.sso_role(profile) {
            let realm = self.env.var_str(crate::sso::PORTAL_VAR).or_else(|| self.env.var_str("AWS_ENDPOINT_URL")).unwrap_or_else(|| snap.profiles.sso_session(&r.session).map(|s| s.region.clone()).unwrap_or_default());
            let key = format!("sso\0{}\0{}\0{}\0{realm}", r.session, r.account_id, r.role_name);
            if let Some(c) = memory.get(&key).filter(fresh) {
                return Ok(ForTool::Ready { creds: c.clone(), key });
            }
            return match self.sso_role_credentials(&snap, r).await {
                Ok(creds) => Ok(ForTool::Ready { creds, key }),
                Err(e) if e.code == "sso_login_required" => Ok(ForTool::NeedSignIn(SignInNeeded { profile: r.name.clone(), session: r.session.clone(), reason: e.message })),
                Err(e) => Err(e),
            };
        }
        if let Some(r) = snap.profiles.role(profile) {
            let key = self.role_key(r);
            if let Some(c) = memory.get(&key).filter(fresh) {
                return Ok(ForTool::Ready { creds: c.clone(), key });
            }
            let source = snap.session_profile(&r.source)?;
            let session_key = self.session_key(source);
            let in_memory = memory.get(&session_key).filter(|c| c.expiration - snap.now > SESSION_MARGIN).cloned();
            if let Some(session) = in_memory.or_else(|| snap.valid_session(&r.source, SESSION_MARGIN)) {
                let duration = r.duration.unwrap_or(self.settings.role_duration).clamp(TOOL_MIN, SESSION_ROLE_CAP);
                let creds = self.assume_through(&snap, r, &session, duration).await?;
                return Ok(ForTool::Ready { creds, key });
            }
            return Ok(ForTool::NeedCode(CodeNeeded {
                profile: r.name.clone(),
                account: r.source.clone(),
                mfa_serial: r.mfa_serial.to_string(),
                mfa_process: r.mfa_process.clone(),
                session_key,
            }));
        }
        let Some(p) = snap.profiles.session(profile) else {
            let known = snap.profiles.roles.iter().map(|r| r.name.as_str()).chain(snap.profiles.sso_roles.iter().map(|r| r.name.as_str())).chain(snap.profiles.sessions.iter().map(|p| p.name.as_str())).collect();
            return Err(snap.unknown(profile, "role or MFA session", known));
        };
        let key = self.session_key(p);
        if let Some(c) = memory.get(&key).filter(fresh).cloned().or_else(|| snap.valid_session(&p.name, TOOL_MARGIN)) {
            return Ok(ForTool::Ready { creds: c, key });
        }
        Ok(ForTool::NeedCode(CodeNeeded {
            profile: p.name.clone(),
            account: p.name.clone(),
            mfa_serial: p.mfa_serial.to_string(),
            mfa_process: p.mfa_process.clone(),
            session_key: key,
        }))
    }

    /// An MFA session for `account` (GetSessionToken with `code`), for memory: written
    /// nowhere. At least 30 minutes, whatever `duration_seconds` says. Returns it with
    /// its key in [`Memory`].
    pub async fn session_for_tools(&self, account: &str, code: &MfaCode) -> Result<(TempCredentials, String), Error> {
        let snap = self.snapshot()?;
        let p = snap.session_profile(account)?;
        let duration = p.duration.unwrap_or(self.settings.session_duration).max(TOOL_MIN);
        let creds = self.get_session(&snap, p, code, duration).await?;
        Ok((creds, self.session_key(p)))
    }

    /// The region a tool run with `profile`'s credentials uses: the profile's own (for an
    /// Identity Center role, else its session's), else the environment's as botocore reads
    /// it (AWS_REGION, AWS_DEFAULT_REGION), else `[default]`'s.
    pub fn region_for(&self, profile: &str) -> Option<String> {
        let snap = self.snapshot().ok()?;
        let own = match (snap.profiles.role(profile), snap.profiles.sso_role(profile), snap.profiles.session(profile)) {
            (Some(r), _, _) => r.region.clone(),
            (_, Some(r), _) => r.region.clone().or_else(|| snap.profiles.sso_session(&r.session).map(|s| s.region.clone())),
            (_, _, Some(p)) => p.region.clone(),
            _ => None,
        };
        own.or_else(|| self.env.var_str("AWS_REGION"))
            .or_else(|| self.env.var_str("AWS_DEFAULT_REGION"))
            .or_else(|| crate::profiles::profile_value(&snap.config, &snap.credentials, "default", "region"))
    }

    /// The MFA session of `need.account` kept for tools in the keychain (by
    /// [`Engine::keep_session`]), if it is there, is for the same device and endpoint, and
    /// has more than [`TOOL_MARGIN`] left (what a tool is handed must); one with less is
    /// removed, and a new code makes the next. An error means the
    /// keychain cannot be used here (none, or locked).
    pub fn kept_session(&self, need: &CodeNeeded) -> Result<Option<TempCredentials>, crate::keychain::KeychainError> {
        let item = kept_item(&need.account);
        let Some(text) = self.keychain.load_item(&item)? else { return Ok(None) };
        let kept: Option<Kept> = serde_json::from_str(text.expose()).ok();
        let session = kept.filter(|k| k.key == need.session_key).map(|k| {
            let expiration = crate::credentials::parse_time(&k.expiration).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            TempCredentials { access_key_id: k.access_key_id, secret_access_key: k.secret_access_key, session_token: k.session_token, expiration }
        });
        match session {
            Some(s) if s.expiration - self.clock.now() > TOOL_MARGIN => Ok(Some(s)),
            // Run out: it goes.
            Some(_) => {
                self.keychain.delete_item(&item)?;
                Ok(None)
            }
            // For another device or endpoint (another config's account of that name):
            // replaced by the next session kept.
            None => Ok(None),
        }
    }

    /// Tools asking without a tray take turns for an account's code (a lock beside the
    /// credentials file, one per account), so that the second finds the session the
    /// first kept.
    pub fn tool_code_turn(&self, account: &str) -> Result<impl Drop, Error> {
        let path = self.files.credentials.with_extension(format!("codes-{account}"));
        crate::file::hold_lock(&path, Duration::from_secs(300)).map_err(|e| {
            Error::from(e).reworded(|_| format!("another tool has been waiting for {account}'s MFA code for 5 minutes (on its terminal, or its mfa_process); answer it, or end it, and try again"))
        })
    }

    /// Removes the MFA session kept for tools of `account`; `false` if there was none.
    pub fn forget_session(&self, account: &str) -> Result<bool, crate::keychain::KeychainError> {
        self.keychain.delete_item(&kept_item(account))
    }

    /// Keeps an MFA session made for tools (with no tray to keep it in memory) in the
    /// keychain, its own item beside the account's keys: the next tool's call uses it
    /// instead of asking for a code. [`Engine::kept_session`] removes it when it has run
    /// out, and `mfa-tray logout` at once.
    pub fn keep_session(&self, account: &str, key: &str, session: &TempCredentials) -> Result<(), Error> {
        let kept = Kept {
            key: key.to_owned(),
            access_key_id: session.access_key_id.clone(),
            secret_access_key: session.secret_access_key.clone(),
            session_token: session.session_token.clone(),
            expiration: format_time(session.expiration),
        };
        let text = crate::secret::Secret::new(serde_json::to_string(&kept).map_err(|e| Error::new(crate::error::ErrorKind::LocalFile, "keychain", e.to_string()))?);
        self.keychain.store_item(&kept_item(account), &text).map_err(|e| super::keychain_error(account, e))
    }

    /// Credentials for `profile` with a code, where there is no memory to keep an MFA
    /// session in (no tray): a role assumed with the code for its full duration, or an
    /// MFA session. Written nowhere.
    pub async fn for_tool_with_code(&self, profile: &str, code: &MfaCode) -> Result<TempCredentials, Error> {
        let snap = self.snapshot()?;
        if let Some(r) = snap.profiles.role(profile) {
            let duration = r.duration.unwrap_or(self.settings.role_duration).max(TOOL_MIN);
            return self.assume_with_code(&snap, r, code, duration).await;
        }
        self.session_for_tools(profile, code).await.map(|(creds, _)| creds)
    }
}

/// The keychain item of an account's MFA session kept for tools: a name no account can
/// have (account names have no spaces).
pub(super) fn kept_item(account: &str) -> String {
    format!("{account} MFA session")
}

/// An MFA session as the keychain keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    /// [`Engine::session_key`]: the device and endpoint it is for.
    key: String,
    access_key_id: String,
    secret_access_key: crate::secret::Secret,
    session_token: crate::secret::Secret,
    expiration: String,
}

/// The JSON a `credential_process` prints: version 1 of the AWS format.
pub fn process_json(c: &TempCredentials) -> crate::secret::Secret {
    let json = serde_json::json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key.expose(),
        "SessionToken": c.session_token.expose(),
        "Expiration": format_time(c.expiration),
    });
    crate::secret::Secret::new(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn the_json_is_what_botocore_reads() {
        let c = TempCredentials {
            access_key_id: "ASIAEXAMPLE000000000".into(),
            secret_access_key: Secret::new("s/e+c"),
            session_token: Secret::new("t\"o"),
            expiration: time::macros::datetime!(2026-11-29 10:00:00.5 UTC),
        };
        let v: serde_json::Value = serde_json::from_str(process_json(&c).expose()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Version": 1, "AccessKeyId": "ASIAEXAMPLE000000000", "SecretAccessKey": "s/e+c", "SessionToken": "t\"o", "Expiration": "2026-11-29T10:00:00Z"})
        );
    }
}
