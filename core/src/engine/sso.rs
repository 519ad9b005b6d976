//! IAM Identity Center in the engine: adding a session, signing in, keeping its token
//! fresh with the refresh token, turning every account and role into a profile, signing
//! out, and a role's credentials (GetRoleCredentials) for `assume`, tools and the console.

use std::time::Duration;

use time::OffsetDateTime;

use crate::aws::AwsError;
use crate::credentials::TempCredentials;
use crate::error::{Error, ErrorKind};
use crate::file::{self, FileError};
use crate::profiles::{config_profiles, sso_session_sections, SsoRoleProfile, SsoSession, SSO_SYNC_KEY};
use crate::secret::Secret;
use crate::sso::{self, Flow, Oidc, Pkce, Portal, Prompt, Registration, Token};

use super::{accounts::check_profile_name, Engine, Snapshot};

/// What `sso sync` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// Profiles written for the first time.
    pub added: Vec<String>,
    /// mfa-tray's profiles that were there already (updated where they differed).
    pub kept: Vec<String>,
    /// mfa-tray's profiles removed (`--prune`) because the role is gone.
    pub removed: Vec<String>,
    /// mfa-tray's profiles whose role is gone, left because `--prune` was not given.
    pub stale: Vec<String>,
    /// What the portal listed that is not an account id and a role name (written, they
    /// would be profiles no tool can use): `ACCOUNT/ROLE`, shown safely.
    pub skipped: Vec<String>,
}

/// An Identity Center session's state, for `status` and the tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoState {
    /// The session.
    pub session: SsoSession,
    /// Its cached token's expiry, if there is a token.
    pub expires: Option<OffsetDateTime>,
    /// Whether the token renews without a sign-in.
    pub renewable: bool,
}

impl Snapshot {
    /// The Identity Center session `name` (or the session of the Identity Center profile
    /// `name`), or a message that says what there is.
    pub fn sso_session_named(&self, name: &str) -> Result<&SsoSession, Error> {
        if let Some(s) = self.profiles.sso_session(name).filter(|s| !s.legacy) {
            return Ok(s);
        }
        if let Some(s) = self.profiles.sso_role(name).and_then(|r| self.profiles.sso_session(&r.session)) {
            return Ok(s);
        }
        if let Some(problem) = self.profiles.problem(&format!("sso-session {name}")) {
            return Err(Error::bad_input("misconfigured", format!("[sso-session {name}] cannot be used: {}", problem.message)));
        }
        let known: Vec<&str> = self.profiles.sso_sessions.iter().filter(|s| !s.legacy).map(|s| s.name.as_str()).collect();
        let known = if known.is_empty() { "none yet: add one with `mfa-tray sso add NAME --start-url URL --region REGION`".to_owned() } else { format!("known: {}", known.join(", ")) };
        Err(Error::bad_input("unknown_sso_session", format!("there is no Identity Center session named {name} in {} ({known})", self.files.config.display())))
    }
}

/// An sso-oidc or portal failure, for people.
fn sso_error(e: AwsError, what: &str, session: &str) -> Error {
    match &e {
        AwsError::Refused { code, .. } if code == "UnauthorizedException" => Error::new(
            ErrorKind::AwsRefused,
            "sso_login_required",
            format!("the Identity Center session {session} is no longer valid ({what}): sign in again with `mfa-tray sso login {session}`"),
        ),
        AwsError::Refused { code, .. } if code == "ForbiddenException" => Error::new(ErrorKind::AwsRefused, "sso_forbidden", format!("{what}: Identity Center refused ({code}); is the role still assigned to you? `mfa-tray sso sync {session}` lists what is")),
        AwsError::Refused { code, message } => Error::new(ErrorKind::AwsRefused, "sso_refused", format!("{what}: Identity Center refused ({code}{}{message})", if message.is_empty() { "" } else { ": " })),
        AwsError::Unavailable { .. } => Error::new(ErrorKind::Network, "aws_unavailable", format!("Identity Center is busy or failing while {what}: {e}; try again")),
        AwsError::Network(why) => Error::new(ErrorKind::Network, "network", format!("cannot reach Identity Center while {what}: {}. Check your connection and try again", crate::error::network_cause(why))).with_detail(why.clone()),
        AwsError::Request(why) => Error::bad_input("bad_endpoint", format!("the request to Identity Center could not be made while {what}: check AWS_ENDPOINT_URL and the session's sso_region")).with_detail(why.clone()),
        AwsError::Malformed(why) => Error::new(ErrorKind::Network, "aws_malformed", format!("Identity Center answered something unreadable while {what}: {why}")),
    }
}

fn cache_error(e: sso::CacheError) -> Error {
    Error::new(ErrorKind::LocalFile, "sso_cache", e.to_string())
}

/// The refusal for a token that needs a sign-in.
fn sign_in_needed(session: &SsoSession, why: &str) -> Error {
    let how = if session.legacy { "`aws sso login` with its profile (a legacy profile: give it an [sso-session] to sign in with mfa-tray)".to_owned() } else { format!("`mfa-tray sso login {}`", session.name) };
    Error::new(ErrorKind::AwsRefused, "sso_login_required", format!("the Identity Center session {} {why}: sign in with {how}", session.name))
}

impl Engine {
    /// Writes `[sso-session NAME]` (start URL, region, `sso:account:access` so that the
    /// session renews) into the config file, checked like every other edit.
    pub fn sso_add(&self, name: &str, start_url: &str, region: &str) -> Result<(), Error> {
        check_profile_name(name)?;
        crate::profiles::check_start_url(start_url).map_err(|e| Error::bad_input("bad_start_url", e))?;
        crate::aws::check_region(region)?;
        let section = format!("sso-session {name}");
        let entries = [("sso_start_url", start_url), ("sso_region", region), ("sso_registration_scopes", sso::ACCOUNT_ACCESS)];
        let snap = self.snapshot()?;
        if sso_session_sections(&snap.config).iter().any(|(n, _)| n == name) {
            return Err(Error::bad_input("name_taken", format!("[sso-session {name}] is already in {}; pick another name", self.files.config.display())));
        }
        self.try_edit(&self.files.config, &snap.config, |doc| doc.set(&section, &entries))?;
        file::update(&self.files.config, self.settings.lock_timeout, |doc| {
            if sso_session_sections(doc).iter().any(|(n, _)| n == name) {
                return Err(FileError::NotOurs { path: self.files.config.clone(), section: section.clone(), reason: "another program added it a moment ago".into() });
            }
            doc.set(&section, &entries).map_err(|source| FileError::Edit { path: self.files.config.clone(), source })
        })?;
        Ok(())
    }

    fn token_file(&self, session: &SsoSession) -> Result<std::path::PathBuf, Error> {
        sso::token_path(self.env.as_ref(), session).ok_or_else(|| Error::bad_input("no_home", "cannot find your home directory for the Identity Center token cache (set HOME)"))
    }

    /// The client registration for `flow`: the cached one while it lasts, else a new one
    /// (RegisterClient), cached.
    async fn registration(&self, oidc: &Oidc, session: &SsoSession, flow: Flow) -> Result<Registration, Error> {
        let path = sso::registration_path(self.env.as_ref(), session, flow);
        if let Some(reg) = path.as_deref().and_then(|p| Registration::read(p, self.clock.now())) {
            return Ok(reg);
        }
        let reg = oidc.register(flow, &session.start_url, &session.scopes).await.map_err(|e| sso_error(e, "registering mfa-tray with Identity Center (RegisterClient)", &session.name))?;
        if let Some(p) = path {
            reg.write(&p, &session.scopes).map_err(cache_error)?;
        }
        Ok(reg)
    }

    /// Signs in to Identity Center session `name` (see [`Flow`]); `show` is told what
    /// the person signing in must do (the browser was sent to the sign-in page, or a
    /// device code to enter). The token goes to the AWS CLI's cache.
    pub async fn sso_login(&self, name: &str, flow: Flow, show: &(dyn Fn(&Prompt) + Send + Sync)) -> Result<Token, Error> {
        let snap = self.snapshot()?;
        let session = snap.sso_session_named(name)?.clone();
        if session.legacy {
            return Err(sign_in_needed(&session, "is a legacy profile's"));
        }
        let path = self.token_file(&session)?;
        let oidc = Oidc::new(self.env.as_ref(), &session.region);
        let reg = self.registration(&oidc, &session, flow).await?;
        let new = match flow {
            Flow::Pkce => {
                let pkce = Pkce::new().map_err(|e| Error::new(ErrorKind::LocalFile, "random", format!("no randomness for the sign-in: {e}")))?;
                let loopback = sso::Loopback::bind().map_err(|e| Error::new(ErrorKind::LocalFile, "loopback", format!("cannot listen on 127.0.0.1 for the browser to come back: {e}; try --device-code")))?;
                let redirect = loopback.redirect_uri();
                let scopes = if session.scopes.is_empty() { vec![sso::ACCOUNT_ACCESS.to_owned()] } else { session.scopes.clone() };
                let url = Secret::new(oidc.authorize_url(&reg, &redirect, &pkce.state, &pkce.challenge, &scopes));
                // The opener may wait for the browser (a text browser does): the listener
                // must already be taking the answer.
                let state = pkce.state.clone();
                let waiting = tokio::task::spawn_blocking(move || loopback.wait(&state, sso::SIGN_IN_TIMEOUT));
                let env = self.env.clone();
                let opened = tokio::task::spawn_blocking(move || crate::console::open_in_browser(env.as_ref(), &url)).await;
                if !matches!(opened, Ok(Ok(()))) {
                    waiting.abort();
                    return Err(Error::new(ErrorKind::LocalFile, "browser", "cannot open a browser for the sign-in; sign in with a code instead: `mfa-tray sso login NAME --device-code`".replace("NAME", name)));
                }
                show(&Prompt::Browser);
                let code = waiting
                    .await
                    .map_err(|e| Error::new(ErrorKind::LocalFile, "loopback", e.to_string()))?
                    .map_err(|e| Error::new(if matches!(e, sso::CallbackError::Refused(_)) { ErrorKind::AwsRefused } else { ErrorKind::BadInput }, "sso_sign_in", format!("signing in to {name}: {e}")))?;
                oidc.token_from_code(&reg, code.expose(), &redirect, pkce.verifier.expose()).await.map_err(|e| sso_error(e, "getting the token for the sign-in (CreateToken)", name))?
            }
            Flow::DeviceCode => {
                let device = oidc.start_device(&reg, &session.start_url).await.map_err(|e| sso_error(e, "starting a device sign-in (StartDeviceAuthorization)", name))?;
                show(&device.prompt);
                let deadline = tokio::time::Instant::now() + device.expires_in;
                let mut interval = device.interval;
                loop {
                    tokio::time::sleep(interval).await;
                    match oidc.token_from_device(&reg, &device.device_code).await {
                        Ok(t) => break t,
                        Err(AwsError::Refused { code, .. }) if code == "AuthorizationPendingException" => {}
                        Err(AwsError::Refused { code, .. }) if code == "SlowDownException" => interval += Duration::from_secs(5),
                        Err(AwsError::Refused { code, .. }) if code == "ExpiredTokenException" => {
                            return Err(Error::new(ErrorKind::AwsRefused, "sso_sign_in", format!("the code for {name} expired before it was entered; sign in again")))
                        }
                        Err(AwsError::Refused { code, .. }) if code == "AccessDeniedException" => {
                            return Err(Error::new(ErrorKind::AwsRefused, "sso_sign_in", format!("the sign-in to {name} was refused on the verification page")))
                        }
                        Err(e) => return Err(sso_error(e, "waiting for the device sign-in (CreateToken)", name)),
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return Err(Error::new(ErrorKind::AwsRefused, "sso_sign_in", format!("the code for {name} expired before it was entered; sign in again")));
                    }
                }
            }
        };
        let token = Token {
            start_url: session.start_url.clone(),
            region: session.region.clone(),
            access_token: new.access_token,
            expires_at: self.clock.now() + new.expires_in,
            registration: Some(reg),
            refresh_token: new.refresh_token,
        };
        let _lock = file::hold_lock(&path, self.settings.lock_timeout)?;
        token.write(&path).map_err(cache_error)?;
        Ok(token)
    }

    /// The state of every Identity Center session (its cached token, read as is).
    pub fn sso_states(&self, snap: &Snapshot) -> Vec<SsoState> {
        snap.profiles
            .sso_sessions
            .iter()
            .map(|s| {
                let token = self.token_file(s).ok().and_then(|p| Token::read(&p).ok().flatten());
                SsoState { session: s.clone(), expires: token.as_ref().map(|t| t.expires_at), renewable: token.as_ref().is_some_and(|t| t.renewable(snap.now)) }
            })
            .collect()
    }

    /// A token of `session` that works for at least `margin`: the cached one, else one
    /// renewed with its refresh token (the rotated refresh token kept), as botocore
    /// renews it; never a sign-in. Processes renewing at once take turns (a refresh
    /// token works once), and one finds the other's.
    pub async fn sso_token(&self, session: &SsoSession, margin: Duration) -> Result<Token, Error> {
        self.token_for(session, margin, None).await
    }

    /// [`Engine::sso_token`], where `rejected` is an access token the portal no longer
    /// takes: it is renewed, unless the cache already holds another.
    async fn token_for(&self, session: &SsoSession, margin: Duration, rejected: Option<&str>) -> Result<Token, Error> {
        let path = self.token_file(session)?;
        let now = self.clock.now();
        let wanted = margin.max(sso::REFRESH_WINDOW);
        let good = |t: &Token, m: Duration| t.fresh(now, m) && rejected != Some(t.access_token.expose());
        let token = Token::read(&path).map_err(cache_error)?.ok_or_else(|| sign_in_needed(session, "has not been signed in to"))?;
        if good(&token, wanted) {
            return Ok(token);
        }
        if !token.renewable(now) {
            if good(&token, margin) {
                return Ok(token);
            }
            let why = if token.refresh_token.is_none() { "has ended (its token has no refresh token to renew it)" } else { "has ended (its registration ended)" };
            return Err(sign_in_needed(session, why));
        }
        let _lock = match file::hold_lock(&path, self.settings.lock_timeout) {
            Ok(lock) => lock,
            // Another process is renewing (CreateToken can take a minute): the token in
            // hand still does for now.
            Err(FileError::Locked { .. }) if good(&token, margin) => return Ok(token),
            Err(e) => return Err(e.into()),
        };
        // Renewed by another process meanwhile?
        let token = Token::read(&path).map_err(cache_error)?.ok_or_else(|| sign_in_needed(session, "was signed out"))?;
        if good(&token, wanted) {
            return Ok(token);
        }
        let (Some(reg), Some(refresh)) = (&token.registration, &token.refresh_token) else { return Err(sign_in_needed(session, "has ended")) };
        let oidc = Oidc::new(self.env.as_ref(), &session.region);
        // botocore and the AWS CLI renew the same file without a lock: one of them may
        // have used the refresh token first. What is in the file then is theirs, and good.
        let theirs = |sent: &Secret| Token::read(&path).ok().flatten().filter(|t| t.refresh_token.as_ref().map(Secret::expose) != Some(sent.expose()) && good(t, margin));
        let new = match oidc.refresh(reg, refresh).await {
            Ok(new) => new,
            Err(AwsError::Refused { code, .. }) if ["InvalidGrantException", "ExpiredTokenException", "InvalidClientException", "UnauthorizedClientException", "AccessDeniedException"].contains(&code.as_str()) => {
                if let Some(t) = theirs(refresh) {
                    return Ok(t);
                }
                if good(&token, margin) {
                    return Ok(token);
                }
                return Err(sign_in_needed(session, &format!("has ended: renewing it was refused ({code})")));
            }
            // Renewing early failed (no network): the token still does for now.
            Err(_) if good(&token, margin) => return Ok(token),
            Err(e) => return Err(sso_error(e, "renewing the session's token (CreateToken with the refresh token)", &session.name)),
        };
        let renewed = Token {
            access_token: new.access_token,
            expires_at: self.clock.now() + new.expires_in,
            refresh_token: new.refresh_token.or(token.refresh_token.clone()),
            ..token.clone()
        };
        // Not over a newer token another program wrote meanwhile.
        if let Some(t) = Token::read(&path).ok().flatten().filter(|t| t.access_token.expose() != token.access_token.expose() && t.expires_at > renewed.expires_at) {
            return Ok(t);
        }
        renewed.write(&path).map_err(cache_error)?;
        Ok(renewed)
    }

    /// Waits (up to a sign-in's time) until no other process is signing in to session
    /// `name`, and holds the turn until dropped: tools that find the session ended at
    /// once, with no tray, get one browser sign-in between them, and the others its token.
    pub fn sso_sign_in_turn(&self, name: &str) -> Result<impl Drop, Error> {
        let snap = self.snapshot()?;
        let session = snap.sso_session_named(name)?.clone();
        let path = self.token_file(&session)?.with_extension("signin");
        Ok(file::hold_lock(&path, sso::SIGN_IN_TIMEOUT + Duration::from_secs(30))?)
    }

    /// Signs out of session `name`: the portal's Logout (if it still answers), then the
    /// token file removed. `false` if there was no token.
    pub async fn sso_logout(&self, name: &str) -> Result<bool, Error> {
        let snap = self.snapshot()?;
        let session = snap.sso_session_named(name)?.clone();
        let path = self.token_file(&session)?;
        let _lock = file::hold_lock(&path, self.settings.lock_timeout)?;
        let Some(token) = Token::read(&path).ok().flatten() else {
            return match std::fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(Error::new(ErrorKind::LocalFile, "sso_cache", format!("cannot remove {}: {e}", path.display()))),
            };
        };
        if token.fresh(self.clock.now(), Duration::ZERO) {
            // Best effort: the token goes from this computer whatever the portal says.
            let _ = Portal::new(self.env.as_ref(), &session.region, &token.access_token).logout().await;
        }
        std::fs::remove_file(&path).map_err(|e| Error::new(ErrorKind::LocalFile, "sso_cache", format!("cannot remove {}: {e}", path.display())))?;
        Ok(true)
    }

    /// Role credentials of Identity Center profile `r` (GetRoleCredentials), with its
    /// session's token (renewed if need be; a token the portal no longer takes is renewed
    /// once and tried again).
    pub async fn sso_role_credentials(&self, snap: &Snapshot, r: &SsoRoleProfile) -> Result<TempCredentials, Error> {
        let session = snap.profiles.sso_session(&r.session).ok_or_else(|| Error::bad_input("misconfigured", format!("{}: its Identity Center session {} is not configured", r.name, r.session)))?;
        let what = format!("getting the credentials of {} ({} in {}, GetRoleCredentials)", r.name, r.role_name, r.account_id);
        let token = self.sso_token(session, Duration::from_secs(60)).await?;
        let portal = Portal::new(self.env.as_ref(), &session.region, &token.access_token);
        let creds = match portal.role_credentials(&r.account_id, &r.role_name).await {
            Err(AwsError::Refused { code, .. }) if code == "UnauthorizedException" && token.renewable(self.clock.now()) => {
                // The portal ended the token early: renew it now (unless another program
                // already has), leaving the cache as it is for everyone else meanwhile.
                let token = self.token_for(session, Duration::from_secs(60), Some(token.access_token.expose())).await?;
                Portal::new(self.env.as_ref(), &session.region, &token.access_token).role_credentials(&r.account_id, &r.role_name).await
            }
            other => other,
        }
        .map_err(|e| sso_error(e, &what, &session.name))?;
        Ok(creds)
    }


    /// Every account and role of session `name` becomes a profile of the config file
    /// (`[profile ACCOUNT-ROLE]` with `sso_session`, `sso_account_id`, `sso_role_name`,
    /// marked with [`SSO_SYNC_KEY`]); the next sync updates mfa-tray's own and, with
    /// `prune`, removes those whose role is gone. The user's own profiles are never
    /// touched.
    pub async fn sso_sync(&self, name: &str, prune: bool) -> Result<Synced, Error> {
        let snap = self.snapshot()?;
        let session = snap.sso_session_named(name)?.clone();
        if session.legacy {
            return Err(sign_in_needed(&session, "is a legacy profile's (give it an [sso-session] to sync)"));
        }
        // (A profile's name finds its session: what is written is the session's name.)
        let name = session.name.as_str();
        let token = self.sso_token(&session, Duration::from_secs(60)).await?;
        let portal = Portal::new(self.env.as_ref(), &session.region, &token.access_token);
        let accounts = portal.accounts().await.map_err(|e| sso_error(e, "listing your accounts (ListAccounts)", name))?;
        let mut pairs = Vec::new();
        for account in &accounts {
            let roles = portal.roles(&account.id).await.map_err(|e| sso_error(e, &format!("listing your roles in {} (ListAccountRoles)", account.id), name))?;
            pairs.extend(roles.into_iter().map(|r| (account.clone(), r)));
        }
        // Only what a profile can hold, as the reader checks it.
        use crate::profiles::{is_sso_account_id, is_sso_role_name};
        let (pairs, bad): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(a, r)| is_sso_account_id(&a.id) && is_sso_role_name(r));
        let skipped: Vec<String> = bad.iter().map(|(a, r)| format!("{:?}/{:?}", a.id.chars().take(40).collect::<String>(), r.chars().take(70).collect::<String>())).collect();
        let config = self.files.config.clone();
        let credentials = snap.credentials.clone();
        let outcome = file::update(&config, self.settings.lock_timeout, |doc| {
            let mut done = Synced { skipped: skipped.clone(), ..Synced::default() };
            let profiles = config_profiles(doc).into_iter().map(|(n, s)| (n, s.to_owned())).collect::<Vec<_>>();
            let ours: Vec<(String, String, String, String)> = profiles
                .iter()
                .filter(|(_, s)| doc.get(s, SSO_SYNC_KEY).is_some_and(|v| v == name))
                .map(|(n, s)| (n.clone(), s.clone(), doc.get(s, "sso_account_id").unwrap_or_default().into_owned(), doc.get(s, "sso_role_name").unwrap_or_default().into_owned()))
                .collect();
            let mut names: Vec<String> = profiles.iter().map(|(n, _)| n.clone()).collect();
            names.extend(credentials.section_names().map(str::to_owned));
            for (account, role) in &pairs {
                let entries = [("sso_session", name), ("sso_account_id", account.id.as_str()), ("sso_role_name", role.as_str()), (SSO_SYNC_KEY, name)];
                match ours.iter().find(|(_, _, a, r)| *a == account.id && r == role) {
                    Some((profile, section, _, _)) => {
                        doc.set(section, &entries).map_err(|source| FileError::Edit { path: config.clone(), source })?;
                        done.kept.push(profile.clone());
                    }
                    None => {
                        let profile = sso::profile_name(account, role, &|n: &str| names.iter().any(|t| t.eq_ignore_ascii_case(n)) || n == "default");
                        let mut entries = entries.to_vec();
                        entries.insert(3, ("region", session.region.as_str()));
                        doc.set(&format!("profile {profile}"), &entries).map_err(|source| FileError::Edit { path: config.clone(), source })?;
                        names.push(profile.clone());
                        done.added.push(profile);
                    }
                }
            }
            for (profile, section, account, role) in &ours {
                if pairs.iter().any(|(a, r)| a.id == *account && r == role) {
                    continue;
                }
                if prune {
                    doc.remove_section(section).map_err(|source| FileError::Edit { path: config.clone(), source })?;
                    done.removed.push(profile.clone());
                } else {
                    done.stale.push(profile.clone());
                }
            }
            Ok(done)
        })?;
        Ok(outcome)
    }
}
