//! Console sign-in for a role: which credentials, how long, and the link.

use std::time::Duration;

use time::OffsetDateTime;

use crate::aws::check_region;
use crate::console::{self, Partition};
use crate::credentials::TempCredentials;
use crate::error::Error;
use crate::secret::Secret;
use crate::types::{MfaCode, SESSION_ROLE_CAP};

use super::{Engine, SESSION_MARGIN};

/// Role credentials in the file with less than this left are not used for a console
/// session: it would end almost at once.
const CONSOLE_MARGIN: Duration = Duration::from_secs(15 * 60);

/// A console sign-in link and what it is good for.
#[derive(Debug)]
pub struct ConsoleLink {
    /// The link (with a sign-in token that works for 15 minutes).
    pub url: Secret,
    /// When the console session ends (the role credentials' expiry).
    pub expires: OffsetDateTime,
    /// How the credentials were had, for people.
    pub how: String,
}

impl Engine {
    /// A console sign-in link for role `role`: with its credentials in the file if they
    /// have 15 minutes left, else assumed now (kept in memory, never written): through
    /// the MFA session (at most an hour, AWS's limit for a role assumed with a session)
    /// or, with `code`, with the long-term keys and the MFA code (the role's full
    /// duration). `destination` is a console path (like `s3/home`); `region` the console's.
    pub async fn console(&self, role: &str, code: Option<&MfaCode>, region: Option<&str>, destination: Option<&str>) -> Result<ConsoleLink, Error> {
        let snap = self.snapshot()?;
        if let Some(p) = snap.profiles.session(role) {
            let roles: Vec<&str> = snap.profiles.roles.iter().filter(|r| r.source == p.name).map(|r| r.name.as_str()).collect();
            let which = if roles.is_empty() { "add a role with `mfa-tray role add`".to_owned() } else { format!("its roles: {}", roles.join(", ")) };
            return Err(Error::bad_input(
                "console_needs_role",
                format!("{role} is an MFA session, and the AWS sign-in endpoint does not accept MFA session credentials (GetSessionToken): open the console as a role ({which})"),
            ));
        }
        if let Some(r) = snap.profiles.sso_role(role) {
            // An Identity Center role: its credentials from the portal, never written.
            let session_region = snap.profiles.sso_session(&r.session).map(|s| s.region.clone()).unwrap_or_default();
            let partition = Partition::of_role(&r.role_arn(&session_region))?;
            let region = region.map(str::to_owned).or_else(|| r.region.clone());
            if let Some(r) = &region {
                check_region(r)?;
            }
            if let Some(path) = destination {
                console::check_page(path)?;
            }
            if code.is_some() {
                return Err(Error::bad_input("no_code_needed", format!("{role} is an Identity Center role: it needs no MFA code (the session signs in)")));
            }
            let creds = self.sso_role_credentials(&snap, r).await?;
            let how = format!("with the Identity Center session {}", r.session);
            return self.link(partition, creds, how, region.as_deref(), destination).await;
        }
        let r = snap.role_profile(role)?.clone();
        // Where the link goes is checked before any call to AWS.
        let partition = Partition::of_role(r.role_arn.as_str())?;
        let region = region.map(str::to_owned).or_else(|| r.region.clone());
        if let Some(r) = &region {
            check_region(r)?;
        }
        if let Some(path) = destination {
            console::check_page(path)?;
        }
        let in_file = || {
            snap.freshest_role_section(&r.name)
                .filter(|m| m.expires - snap.now > CONSOLE_MARGIN)
                .and_then(|m| TempCredentials::read(&snap.credentials, &m.section).map(|c| (c, m.section)))
        };
        let (creds, how): (TempCredentials, String) = match (code, in_file()) {
            (None, Some((creds, section))) => (creds, format!("with the credentials of {} in [{section}]", r.name)),
            (None, None) if snap.valid_session(&r.source, SESSION_MARGIN).is_some() => {
                let duration = r.duration.unwrap_or(self.settings.role_duration).min(SESSION_ROLE_CAP);
                let creds = self.assume_via_session(&snap, &r, duration).await?;
                (creds, format!("assumed through the MFA session of {} (at most 1 hour, as AWS allows; pass --code for longer)", r.source))
            }
            (None, None) => {
                return Err(Error::bad_input(
                    "code_required",
                    format!("{role} has no credentials with 15 minutes left and {} has no MFA session: run `mfa-tray login {}`, or pass --code", r.source, r.source),
                ))
            }
            (Some(code), _) => {
                let duration = r.duration.unwrap_or(self.settings.role_duration);
                (self.assume_with_code(&snap, &r, code, duration).await?, "assumed with your MFA code".to_owned())
            }
        };
        self.link(partition, creds, how, region.as_deref(), destination).await
    }

    /// The sign-in link for `creds`, to `destination` in `region`.
    async fn link(&self, partition: Partition, creds: TempCredentials, how: String, region: Option<&str>, destination: Option<&str>) -> Result<ConsoleLink, Error> {
        let expires = creds.expiration;
        let creds_for_link = creds;
        let destination = match destination {
            Some(path) => partition.page(path, region),
            None => partition.console(region),
        };
        let endpoint = console::endpoint(self.env.as_ref(), partition);
        // One blocking request: off the async threads.
        let url = tokio::task::spawn_blocking(move || console::signin_link(&endpoint, &creds_for_link, &destination))
            .await
            .map_err(|e| Error::bad_input("console", e.to_string()))??;
        Ok(ConsoleLink { url, expires, how })
    }
}
