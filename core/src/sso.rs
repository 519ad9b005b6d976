//! IAM Identity Center: signing in (PKCE in the browser, or a device code), the token
//! cache the AWS CLI, botocore and the SDKs share, and the calls to sso-oidc and the
//! AWS access portal.
//!
//! The token goes to `~/.aws/sso/cache/<sha1 of the session name>.json` (a legacy
//! profile's: of its start URL) in exactly the AWS CLI's shape, so every AWS tool uses
//! Identity Center profiles with no `aws sso login`. What botocore reads there decides
//! what is right: its keys, its time format, its refresh rules.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha1::Digest as _;
use time::OffsetDateTime;

use crate::aws::AwsError;
use crate::credentials::TempCredentials;
use crate::env::Environment;
use crate::profiles::SsoSession;
use crate::secret::Secret;

/// The scope that gives a refresh token (so a session renews instead of ending).
pub const ACCOUNT_ACCESS: &str = "sso:account:access";
/// botocore renews a token this long before it expires; mfa-tray does the same.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long before its expiry the tray renews a token: ahead of botocore's window, so
/// that the tray, which locks the file, renews first rather than racing the AWS CLI.
pub const RENEW_AHEAD: Duration = Duration::from_secs(20 * 60);
/// The path AWS allows a PKCE sign-in to come back to.
const CALLBACK: &str = "/oauth/callback";
/// How long a browser sign-in may take.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// The variables that replace Identity Center's endpoints (botocore's names).
pub const OIDC_VAR: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
/// The portal's.
pub const PORTAL_VAR: &str = "AWS_ENDPOINT_URL_SSO";

/// An access token in the AWS CLI's cache, with what renews it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The session's start URL.
    pub start_url: String,
    /// The session's region.
    pub region: String,
    /// The access token (a bearer token for the portal).
    pub access_token: Secret,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
    /// The client registration that can renew it.
    pub registration: Option<Registration>,
    /// The refresh token (rotated at each renewal).
    pub refresh_token: Option<Secret>,
}

/// A client registered with sso-oidc (RegisterClient), reused until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// clientId.
    pub client_id: String,
    /// clientSecret.
    pub client_secret: Secret,
    /// When the registration ends.
    pub expires_at: OffsetDateTime,
}

/// The AWS CLI's time format in the cache: `2026-12-04T12:00:00Z`.
const CACHE_TIME: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

fn format_cache_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(CACHE_TIME).unwrap_or_default()
}

/// A time as the cache holds it: the AWS CLI's format, or any RFC 3339 time (botocore
/// reads both).
fn parse_cache_time(text: &str) -> Option<OffsetDateTime> {
    // Older AWS CLI v2 releases wrote `2021-12-11T07:18:18UTC`, which botocore reads.
    let text = text.strip_suffix("UTC").map_or_else(|| text.to_owned(), |t| format!("{t}Z"));
    let text = text.as_str();
    time::PrimitiveDateTime::parse(text, CACHE_TIME)
        .map(|t| t.assume_utc())
        .ok()
        .or_else(|| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok())
}

/// The hex SHA-1 of `text`: the cache's file names.
fn sha1_hex(text: &str) -> String {
    sha1::Sha1::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the AWS CLI, botocore and the SDKs keep Identity Center tokens.
pub fn cache_dir(env: &dyn Environment) -> Option<PathBuf> {
    Some(env.home_dir()?.join(".aws").join("sso").join("cache"))
}

/// The token file of `session`: the SHA-1 of its name (a legacy session's is its start
/// URL, so the same rule gives the legacy file).
pub fn token_path(env: &dyn Environment, session: &SsoSession) -> Option<PathBuf> {
    Some(cache_dir(env)?.join(format!("{}.json", sha1_hex(&session.name))))
}

/// The file where mfa-tray keeps `session`'s client registration for `flow`.
pub(crate) fn registration_path(env: &dyn Environment, session: &SsoSession, flow: Flow) -> Option<PathBuf> {
    let key = serde_json::json!({ "tool": "mfa-tray", "session": session.name, "startUrl": session.start_url, "region": session.region, "scopes": session.scopes, "flow": flow.name() });
    Some(cache_dir(env)?.join(format!("{}.json", sha1_hex(&key.to_string()))))
}

/// A cache file that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// It could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, String),
    /// It is not a token the AWS tools wrote.
    #[error("{0} is not an Identity Center token (the AWS CLI's cache); delete it and sign in again")]
    Garbled(PathBuf),
    /// It could not be written.
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
}

impl Token {
    /// The token cached at `path`, if there is one.
    pub fn read(path: &Path) -> Result<Option<Token>, CacheError> {
        let text = match std::fs::read(path) {
            Ok(bytes) if bytes.len() <= 64 * 1024 => Secret::new(String::from_utf8_lossy(&bytes).into_owned()),
            Ok(_) => return Err(CacheError::Garbled(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CacheError::Read(path.to_owned(), e.kind().to_string())),
        };
        let garbled = || CacheError::Garbled(path.to_owned());
        let v: serde_json::Value = serde_json::from_str(text.expose()).map_err(|_| garbled())?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty()).map(str::to_owned);
        let registration = match (s("clientId"), s("clientSecret"), s("registrationExpiresAt").as_deref().and_then(parse_cache_time)) {
            (Some(client_id), Some(secret), Some(expires_at)) => Some(Registration { client_id, client_secret: Secret::new(secret), expires_at }),
            _ => None,
        };
        Ok(Some(Token {
            start_url: s("startUrl").unwrap_or_default(),
            region: s("region").unwrap_or_default(),
            access_token: Secret::new(s("accessToken").ok_or_else(garbled)?),
            expires_at: s("expiresAt").as_deref().and_then(parse_cache_time).ok_or_else(garbled)?,
            registration,
            refresh_token: s("refreshToken").map(Secret::new),
        }))
    }

    /// The cache file's JSON, as the AWS CLI writes it.
    pub fn to_json(&self) -> Secret {
        let mut v = serde_json::json!({
            "startUrl": self.start_url,
            "region": self.region,
            "accessToken": self.access_token.expose(),
            "expiresAt": format_cache_time(self.expires_at),
        });
        if let Some(r) = &self.registration {
            v["clientId"] = r.client_id.clone().into();
            v["clientSecret"] = r.client_secret.expose().into();
            v["registrationExpiresAt"] = format_cache_time(r.expires_at).into();
        }
        if let Some(t) = &self.refresh_token {
            v["refreshToken"] = t.expose().into();
        }
        Secret::new(v.to_string())
    }

    /// Writes it to `path`: 0600, atomically.
    pub fn write(&self, path: &Path) -> Result<(), CacheError> {
        crate::file::replace_private(path, self.to_json().expose().as_bytes()).map_err(|e| CacheError::Write(path.to_owned(), e.to_string()))
    }

    /// Whether it works for at least `margin` from `now`.
    pub fn fresh(&self, now: OffsetDateTime, margin: Duration) -> bool {
        self.expires_at - now > margin
    }

    /// Whether it can be renewed without a sign-in: a refresh token and a registration
    /// that has not ended.
    pub fn renewable(&self, now: OffsetDateTime) -> bool {
        self.refresh_token.is_some() && self.registration.as_ref().is_some_and(|r| r.expires_at > now)
    }
}

impl Registration {
    /// The registration cached at `path`, if it is there and still good at `now`.
    pub(crate) fn read(path: &Path, now: OffsetDateTime) -> Option<Registration> {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let expires_at = s("expiresAt").as_deref().and_then(parse_cache_time)?;
        // A day's margin: a sign-in must not outlive the registration that renews it.
        if expires_at - now <= time::Duration::days(1) {
            return None;
        }
        Some(Registration { client_id: s("clientId")?, client_secret: Secret::new(s("clientSecret")?), expires_at })
    }

    pub(crate) fn write(&self, path: &Path, scopes: &[String]) -> Result<(), CacheError> {
        let v = serde_json::json!({ "clientId": self.client_id, "clientSecret": self.client_secret.expose(), "expiresAt": format_cache_time(self.expires_at), "scopes": scopes });
        crate::file::replace_private(path, Secret::new(v.to_string()).expose().as_bytes()).map_err(|e| CacheError::Write(path.to_owned(), e.to_string()))
    }
}

/// How a sign-in is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// In the browser, coming back to a loopback listener (PKCE): the AWS CLI's default.
    Pkce,
    /// A code to type on a verification page, on any device (remote machines, WSL).
    DeviceCode,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Flow::Pkce => "pkce",
            Flow::DeviceCode => "device",
        }
    }
}

/// What a sign-in shows the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// The browser was sent to the sign-in page (PKCE).
    Browser,
    /// Open `uri` on any device and enter `user_code` (device code); `complete` carries
    /// the code already.
    DeviceCode {
        /// The verification page.
        uri: String,
        /// The code to enter there.
        user_code: String,
        /// The page with the code filled in.
        complete: Option<String>,
    },
}

/// The sso-oidc endpoint of `region`: `AWS_ENDPOINT_URL_SSO_OIDC`, then
/// `AWS_ENDPOINT_URL`, else the regional host in the region's partition.
pub fn oidc_url(env: &dyn Environment, region: &str) -> String {
    env.var_str(OIDC_VAR).or_else(|| env.var_str("AWS_ENDPOINT_URL")).unwrap_or_else(|| format!("https://oidc.{region}.{}", dns_suffix(region)))
}

/// The portal's endpoint override, if any (`AWS_ENDPOINT_URL_SSO`, then
/// `AWS_ENDPOINT_URL`).
fn portal_override(env: &dyn Environment) -> Option<String> {
    env.var_str(PORTAL_VAR).or_else(|| env.var_str("AWS_ENDPOINT_URL"))
}

fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

fn no_auth_config(region: &str) -> aws_types::SdkConfig {
    use aws_sdk_sts::config::retry::RetryConfig;
    use aws_sdk_sts::config::timeout::TimeoutConfig;
    aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .timeout_config(TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_attempt_timeout(Duration::from_secs(20)).build())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .build()
}

/// sso-oidc: registering, signing in, renewing.
pub struct Oidc {
    client: aws_sdk_ssooidc::Client,
    base: String,
}

/// A new token from CreateToken.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// accessToken.
    pub access_token: Secret,
    /// expiresIn, from now.
    pub expires_in: Duration,
    /// refreshToken, if the scopes gave one.
    pub refresh_token: Option<Secret>,
}

/// A device authorization (StartDeviceAuthorization).
#[derive(Debug, Clone)]
pub struct Device {
    /// deviceCode (a secret: it becomes a token).
    pub device_code: Secret,
    /// What the person signing in sees.
    pub prompt: Prompt,
    /// How long it is good for.
    pub expires_in: Duration,
    /// How often to ask.
    pub interval: Duration,
}

impl Oidc {
    /// A client for `region`, at its endpoint (see [`oidc_url`]).
    pub fn new(env: &dyn Environment, region: &str) -> Oidc {
        let base = oidc_url(env, region);
        let conf = aws_sdk_ssooidc::config::Builder::from(&no_auth_config(region)).endpoint_url(&base).build();
        Oidc { client: aws_sdk_ssooidc::Client::from_conf(conf), base: base.trim_end_matches('/').to_owned() }
    }

    /// RegisterClient for `flow` (a PKCE client names its grants and the loopback
    /// redirect, without a port, as AWS wants).
    pub async fn register(&self, flow: Flow, start_url: &str, scopes: &[String]) -> Result<Registration, AwsError> {
        let mut req = self.client.register_client().client_name("mfa-tray").client_type("public").set_scopes((!scopes.is_empty()).then(|| scopes.to_vec()));
        if flow == Flow::Pkce {
            req = req
                .grant_types("authorization_code")
                .grant_types("refresh_token")
                .redirect_uris(format!("http://127.0.0.1{CALLBACK}"))
                .issuer_url(start_url);
        }
        let out = req.send().await.map_err(|e| crate::aws::classify_sdk(e, &[]))?;
        let expires_at = OffsetDateTime::from_unix_timestamp(out.client_secret_expires_at()).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        match (out.client_id(), out.client_secret()) {
            (Some(id), Some(secret)) => Ok(Registration { client_id: id.to_owned(), client_secret: Secret::new(secret), expires_at }),
            _ => Err(AwsError::Malformed("a registration without a client id and secret".into())),
        }
    }

    /// The sign-in page a PKCE sign-in sends the browser to.
    pub fn authorize_url(&self, reg: &Registration, redirect_uri: &str, state: &str, challenge: &str, scopes: &[String]) -> String {
        let enc = |s: &str| crate::secret::percent_encode(s, true);
        format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&state={}&code_challenge_method=S256&scopes={}&code_challenge={}",
            self.base,
            enc(&reg.client_id),
            enc(redirect_uri),
            enc(state),
            enc(&scopes.join(" ")),
            enc(challenge)
        )
    }

    /// StartDeviceAuthorization.
    pub async fn start_device(&self, reg: &Registration, start_url: &str) -> Result<Device, AwsError> {
        let secrets = [reg.client_secret.clone()];
        let out = self
            .client
            .start_device_authorization()
            .client_id(&reg.client_id)
            .client_secret(reg.client_secret.expose())
            .start_url(start_url)
            .send()
            .await
            .map_err(|e| crate::aws::classify_sdk(e, &secrets))?;
        let (Some(code), Some(user_code), Some(uri)) = (out.device_code(), out.user_code(), out.verification_uri()) else {
            return Err(AwsError::Malformed("a device authorization without its codes".into()));
        };
        Ok(Device {
            device_code: Secret::new(code),
            prompt: Prompt::DeviceCode { uri: uri.to_owned(), user_code: user_code.to_owned(), complete: out.verification_uri_complete().map(str::to_owned) },
            expires_in: Duration::from_secs(out.expires_in().clamp(0, 3600) as u64),
            interval: Duration::from_secs(out.interval().clamp(1, 60) as u64),
        })
    }

    /// CreateToken with a grant.
    async fn create_token(&self, reg: &Registration, grant: Grant<'_>) -> Result<NewToken, AwsError> {
        let mut secrets = vec![reg.client_secret.clone()];
        let mut req = self.client.create_token().client_id(&reg.client_id).client_secret(reg.client_secret.expose());
        req = match grant {
            Grant::Code { code, redirect_uri, verifier } => {
                secrets.extend([Secret::new(code), Secret::new(verifier)]);
                req.grant_type("authorization_code").code(code).redirect_uri(redirect_uri).code_verifier(verifier)
            }
            Grant::Device(device) => {
                secrets.push(device.clone());
                req.grant_type("urn:ietf:params:oauth:grant-type:device_code").device_code(device.expose())
            }
            Grant::Refresh(token) => {
                secrets.push(token.clone());
                req.grant_type("refresh_token").refresh_token(token.expose())
            }
        };
        let out = req.send().await.map_err(|e| crate::aws::classify_sdk(e, &secrets))?;
        let access = out.access_token().filter(|t| !t.is_empty()).ok_or_else(|| AwsError::Malformed("a token answer without a token".into()))?;
        Ok(NewToken {
            access_token: Secret::new(access),
            expires_in: Duration::from_secs(out.expires_in().clamp(0, 90 * 24 * 3600) as u64),
            refresh_token: out.refresh_token().filter(|t| !t.is_empty()).map(Secret::new),
        })
    }

    /// CreateToken for a PKCE sign-in's code.
    pub async fn token_from_code(&self, reg: &Registration, code: &str, redirect_uri: &str, verifier: &str) -> Result<NewToken, AwsError> {
        self.create_token(reg, Grant::Code { code, redirect_uri, verifier }).await
    }

    /// CreateToken for a device code, once (AuthorizationPendingException: not yet).
    pub async fn token_from_device(&self, reg: &Registration, device: &Secret) -> Result<NewToken, AwsError> {
        self.create_token(reg, Grant::Device(device)).await
    }

    /// CreateToken with a refresh token (which rotates).
    pub async fn refresh(&self, reg: &Registration, refresh_token: &Secret) -> Result<NewToken, AwsError> {
        self.create_token(reg, Grant::Refresh(refresh_token)).await
    }
}

enum Grant<'a> {
    Code { code: &'a str, redirect_uri: &'a str, verifier: &'a str },
    Device(&'a Secret),
    Refresh(&'a Secret),
}

/// An account the portal lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The AWS access portal, with a session's access token.
pub struct Portal {
    client: aws_sdk_sso::Client,
    token: Secret,
}

impl Portal {
    /// A client for the session's region (the portal lives where Identity Center
    /// does), with its token.
    pub fn new(env: &dyn Environment, region: &str, token: &Secret) -> Portal {
        let mut conf = aws_sdk_sso::config::Builder::from(&no_auth_config(region));
        if let Some(url) = portal_override(env) {
            conf = conf.endpoint_url(url);
        }
        Portal { client: aws_sdk_sso::Client::from_conf(conf.build()), token: token.clone() }
    }

    fn secrets(&self) -> [Secret; 1] {
        [self.token.clone()]
    }

    /// GetRoleCredentials.
    pub async fn role_credentials(&self, account: &str, role: &str) -> Result<TempCredentials, AwsError> {
        let out = self
            .client
            .get_role_credentials()
            .access_token(self.token.expose())
            .account_id(account)
            .role_name(role)
            .send()
            .await
            .map_err(|e| crate::aws::classify_sdk(e, &self.secrets()))?;
        let c = out.role_credentials().ok_or_else(|| AwsError::Malformed("an answer without role credentials".into()))?;
        let (Some(id), Some(secret), Some(token)) = (c.access_key_id(), c.secret_access_key(), c.session_token()) else {
            return Err(AwsError::Malformed("role credentials without their keys".into()));
        };
        let word = |s: &str| !s.is_empty() && s.len() <= 8192 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'#' && b != b';');
        if !crate::credentials::is_access_key_id(id) || !word(secret) || !word(token) {
            return Err(AwsError::Malformed("an answer whose credentials are not the shape of AWS credentials".into()));
        }
        // Milliseconds; missing (the SDK then says 0) or in the past, they would be handed
        // out as if good.
        let expiration = OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.expiration()) * 1_000_000)
            .ok()
            .filter(|e| *e > OffsetDateTime::now_utc())
            .ok_or_else(|| AwsError::Malformed("an answer whose credentials have no expiry, or one already past".into()))?;
        Ok(TempCredentials { access_key_id: id.to_owned(), secret_access_key: Secret::new(secret), session_token: Secret::new(token), expiration })
    }

    /// ListAccounts, every page.
    pub async fn accounts(&self) -> Result<Vec<Account>, AwsError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_accounts()
                .access_token(self.token.expose())
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| crate::aws::classify_sdk(e, &self.secrets()))?;
            all.extend(out.account_list().iter().filter_map(|a| Some(Account { id: a.account_id()?.to_owned(), name: a.account_name().unwrap_or_default().to_owned() })));
            match out.next_token() {
                Some(t) if !t.is_empty() && all.len() < 100_000 => next = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// ListAccountRoles of `account`, every page.
    pub async fn roles(&self, account: &str) -> Result<Vec<String>, AwsError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_account_roles()
                .access_token(self.token.expose())
                .account_id(account)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| crate::aws::classify_sdk(e, &self.secrets()))?;
            all.extend(out.role_list().iter().filter_map(|r| r.role_name().map(str::to_owned)));
            match out.next_token() {
                Some(t) if !t.is_empty() && all.len() < 100_000 => next = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// Logout: the portal forgets the session.
    pub async fn logout(&self) -> Result<(), AwsError> {
        self.client.logout().access_token(self.token.expose()).send().await.map(drop).map_err(|e| crate::aws::classify_sdk(e, &self.secrets()))
    }
}

/// Random text of `len` characters from PKCE's alphabet (RFC 7636's unreserved ones).
pub fn random_text(len: usize) -> Result<String, std::io::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    // 66 letters: a byte modulo 66 is near enough uniform for a one-time verifier (and
    // unpredictable, which is what matters).
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
}

/// base64url without padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A PKCE pair: the verifier (64 characters) and its S256 challenge.
pub struct Pkce {
    /// The verifier, sent with CreateToken.
    pub verifier: Secret,
    /// base64url(sha256(verifier)), sent to the sign-in page.
    pub challenge: String,
    /// The `state` the browser must come back with.
    pub state: String,
}

impl Pkce {
    /// A new random pair and state.
    pub fn new() -> std::io::Result<Pkce> {
        let verifier = random_text(64)?;
        let challenge = base64url(&sha2::Sha256::digest(verifier.as_bytes()));
        Ok(Pkce { verifier: Secret::new(verifier), challenge, state: random_text(32)? })
    }
}

/// Why a browser sign-in did not come back with a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The browser came back with an error (`access_denied`: the person said no).
    #[error("the sign-in was refused in the browser ({0})")]
    Refused(String),
    /// The browser came back with a state that is not this sign-in's.
    #[error("the browser came back from a sign-in that is not this one (its state differs: a stale tab, or a forged link); nothing was written")]
    WrongState,
    /// Nobody came back in time.
    #[error("no sign-in came back within {0} s")]
    TimedOut(u64),
    /// The listener failed.
    #[error("the loopback listener failed: {0}")]
    Io(String),
}

/// The loopback listener a PKCE sign-in comes back to: 127.0.0.1 on a random port,
/// `/oauth/callback` only, one sign-in, then gone.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    /// Listens on a random port of 127.0.0.1.
    pub fn bind() -> std::io::Result<Loopback> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        Ok(Loopback { listener, port })
    }

    /// The redirect URI, with the port.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK}", self.port)
    }

    /// Waits for the browser to come back with `state`, until `timeout`; returns the
    /// authorization code, or the refusal the browser came back with. Anything else (other
    /// paths, another `Host`, a callback with another state: a stale tab, a port scan by a
    /// web page, another local user) is answered 400 or 404 and the wait goes on. Each
    /// connection is read on its own, within 2 seconds in all, so one that is slow or
    /// silent holds back neither the others nor the deadline.
    pub fn wait(self, state: &str, timeout: Duration) -> Result<Secret, CallbackError> {
        const READERS: usize = 256;
        let deadline = Instant::now() + timeout;
        let (tx, rx) = std::sync::mpsc::channel::<(TcpStream, Option<String>)>();
        let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        loop {
            while let Ok((mut stream, head)) = rx.try_recv() {
                if let Some(done) = answer_callback(&mut stream, head.as_deref(), state, self.port) {
                    return done;
                }
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    use std::sync::atomic::Ordering;
                    if busy.fetch_add(1, Ordering::SeqCst) >= READERS {
                        busy.fetch_sub(1, Ordering::SeqCst);
                        continue; // dropped: too many at once
                    }
                    let (tx, busy) = (tx.clone(), busy.clone());
                    std::thread::spawn(move || {
                        let head = read_head(&stream, Instant::now() + Duration::from_secs(2));
                        busy.fetch_sub(1, Ordering::SeqCst);
                        let _ = tx.send((stream, head));
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(CallbackError::TimedOut(timeout.as_secs()));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(CallbackError::Io(e.to_string())),
            }
        }
    }
}

/// The request's head (up to 8 KiB, to the blank line), read before `deadline`.
fn read_head(mut stream: &TcpStream, deadline: Instant) -> Option<String> {
    let _ = stream.set_nonblocking(false);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
    String::from_utf8(head).ok()
}

/// Answers one request; `Some` only for this sign-in's callback (its code, or the
/// refusal it carries).
fn answer_callback(stream: &mut TcpStream, head: Option<&str>, state: &str, port: u16) -> Option<Result<Secret, CallbackError>> {
    let head = head.unwrap_or("");
    let line = head.lines().next().unwrap_or("");
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if !line.starts_with("GET ") || path != CALLBACK {
        respond(stream, 404, "Not found.");
        return None;
    }
    // A page on another name that resolves here (DNS rebinding) is not the sign-in.
    let host = head.lines().skip(1).find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.trim()));
    if host != Some(format!("127.0.0.1:{port}").as_str()) {
        respond(stream, 400, "Not this sign-in.");
        return None;
    }
    let params: Vec<(String, String)> = query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), percent_decode(v))).collect();
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    if get("state").as_deref() != Some(state) {
        respond(stream, 400, &format!("The sign-in did not complete: {}.", CallbackError::WrongState));
        return None;
    }
    let result = if let Some(error) = get("error") {
        let safe: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        Err(CallbackError::Refused(safe))
    } else {
        get("code").filter(|c| !c.is_empty()).map(Secret::new).ok_or(CallbackError::Refused("no code".into()))
    };
    match &result {
        Ok(_) => respond(stream, 200, "Signed in. mfa-tray has the session now: you can close this tab."),
        Err(e) => respond(stream, 400, &format!("The sign-in did not complete: {e}.")),
    }
    Some(result)
}

fn respond(stream: &mut TcpStream, status: u16, text: &str) {
    let reason = if status == 200 { "OK" } else if status == 404 { "Not Found" } else { "Bad Request" };
    let body = format!("<!doctype html>\n<meta charset=\"utf-8\">\n<title>mfa-tray</title>\n<p>{text}</p>\n");
    let _ = write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}", body.len());
    let _ = stream.flush();
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(()) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A readable, collision-safe profile name for `role` in `account`: the account's name
/// and the role's, in the characters every AWS tool reads as one name
/// (`Sandbox-AdministratorAccess`); with the account id when the name is taken.
pub fn profile_name(account: &Account, role: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let clean = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            let c = if c.is_ascii_alphanumeric() || "_.@+=,".contains(c) { c } else { '-' };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out.trim_matches('-').to_owned()
    };
    let account_part = Some(clean(&account.name)).filter(|n| !n.is_empty()).unwrap_or_else(|| account.id.clone());
    let first: String = format!("{account_part}-{}", clean(role)).chars().take(64).collect();
    if !taken(&first) {
        return first;
    }
    let with_id: String = format!("{account_part}-{}-{}", account.id, clean(role)).chars().take(64).collect();
    if !taken(&with_id) {
        return with_id;
    }
    (2..).map(|n| format!("{}-{n}", with_id.chars().take(60).collect::<String>())).find(|n| !taken(n)).unwrap_or(with_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_rfc_7636() {
        // RFC 7636, appendix B.
        let challenge = base64url(&sha2::Sha256::digest(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.expose().len(), 64);
        assert!(p.verifier.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        assert_ne!(Pkce::new().unwrap().state, p.state);
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
    }

    #[test]
    fn the_cache_is_named_and_written_as_the_aws_cli_does() {
        // botocore: sha1 of the session name.
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let t = Token {
            start_url: "https://x.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            access_token: Secret::new("at"),
            expires_at: time::macros::datetime!(2026-12-04 12:00:00.5 UTC),
            registration: Some(Registration { client_id: "c".into(), client_secret: Secret::new("s"), expires_at: time::macros::datetime!(2027-03-01 00:00 UTC) }),
            refresh_token: Some(Secret::new("rt")),
        };
        let v: serde_json::Value = serde_json::from_str(t.to_json().expose()).unwrap();
        assert_eq!(v["expiresAt"], "2026-12-04T12:00:00Z");
        assert_eq!(v["registrationExpiresAt"], "2027-03-01T00:00:00Z");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sso/cache/x.json");
        t.write(&path).unwrap();
        let back = Token::read(&path).unwrap().unwrap();
        assert_eq!(back.expires_at, time::macros::datetime!(2026-12-04 12:00:00 UTC));
        // What older AWS CLI v2 releases wrote, and botocore reads.
        assert_eq!(parse_cache_time("2021-12-11T07:18:18UTC"), Some(time::macros::datetime!(2021-12-11 07:18:18 UTC)));
        assert_eq!(parse_cache_time("2021-12-11T07:18:18+00:00"), Some(time::macros::datetime!(2021-12-11 07:18:18 UTC)));
        assert_eq!(parse_cache_time("yesterday"), None);
        assert_eq!(back.refresh_token, t.refresh_token);
        #[cfg(unix)]
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions()) & 0o777, 0o600);
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(Token::read(&path), Err(CacheError::Garbled(_))));
    }

    #[test]
    fn profile_names_are_readable_and_never_taken() {
        let a = Account { id: "111111111111".into(), name: "Sandbox (EU)".into() };
        assert_eq!(profile_name(&a, "AdministratorAccess", &|_| false), "Sandbox-EU-AdministratorAccess");
        let taken = |n: &str| n == "Sandbox-EU-AdministratorAccess";
        assert_eq!(profile_name(&a, "AdministratorAccess", &taken), "Sandbox-EU-111111111111-AdministratorAccess");
        let nameless = Account { id: "222222222222".into(), name: "???".into() };
        assert_eq!(profile_name(&nameless, "Read Only", &|_| false), "222222222222-Read-Only");
    }

    #[test]
    fn the_callback_is_checked() {
        // Requests sent in order to one listener; what the wait returned, and each answer.
        let run = |requests: Vec<String>, state: &str, timeout: u64| {
            let loopback = Loopback::bind().unwrap();
            let port = loopback.port;
            let client = std::thread::spawn(move || {
                requests
                    .into_iter()
                    .map(|r| {
                        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                        s.write_all(r.replace("PORT", &port.to_string()).as_bytes()).unwrap();
                        let mut answer = String::new();
                        let _ = s.read_to_string(&mut answer);
                        answer
                    })
                    .collect::<Vec<_>>()
            });
            let got = loopback.wait(state, Duration::from_secs(timeout));
            (got, client.join().unwrap())
        };
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n");
        let (got, pages) = run(vec![get("/oauth/callback?code=c%2Fd&state=s1")], "s1", 5);
        assert_eq!(got.unwrap().expose(), "c/d");
        assert!(pages[0].starts_with("HTTP/1.1 200") && pages[0].contains("you can close this tab"), "{pages:?}");
        let (got, _) = run(vec![get("/oauth/callback?error=access_denied&state=s1")], "s1", 5);
        assert_eq!(got.unwrap_err(), CallbackError::Refused("access_denied".into()));
        // Another state, another Host, another path: refused, and the real one still counts.
        let forged = vec![
            get("/oauth/callback?code=evil&state=other"),
            "GET /oauth/callback?code=evil&state=s1 HTTP/1.1\r\nHost: attacker.example:PORT\r\n\r\n".to_owned(),
            get("/favicon.ico"),
            get("/oauth/callback?code=good&state=s1"),
        ];
        let (got, pages) = run(forged, "s1", 5);
        assert_eq!(got.unwrap().expose(), "good");
        assert!(pages[0].starts_with("HTTP/1.1 400") && pages[1].starts_with("HTTP/1.1 400") && pages[2].starts_with("HTTP/1.1 404"), "{pages:?}");
        // Nothing but the callback: the wait goes on until its time is up.
        let (got, _) = run(vec![get("/favicon.ico")], "s", 1);
        assert_eq!(got.unwrap_err(), CallbackError::TimedOut(1));
        // A client that connects and says nothing holds back neither the callback nor the deadline.
        let loopback = Loopback::bind().unwrap();
        let port = loopback.port;
        let silent: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
        let real = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET /oauth/callback?code=ok&state=s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            answer
        });
        let started = Instant::now();
        assert_eq!(loopback.wait("s", Duration::from_secs(10)).unwrap().expose(), "ok");
        assert!(real.join().unwrap().starts_with("HTTP/1.1 200"));
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        drop(silent);
    }
}
