//! The AWS side: STS and S3 clients built for one profile's region and endpoint, the
//! calls mfa-tray makes, and their failures sorted into what a user can act on.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::timeout::TimeoutConfig;
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_types::SdkConfig;
use time::OffsetDateTime;

use crate::credentials::{is_access_key_id, LongTermKeys, TempCredentials};
use crate::env::Environment;
use crate::secret::{scrub, Secret};
use crate::types::{MfaCode, MfaSerial, RoleArn};

/// Where requests for one profile go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The region (regional STS endpoint, S3 signing region).
    pub region: String,
    /// A custom STS endpoint, if one is configured.
    pub sts: Option<String>,
    /// A custom S3 endpoint, if one is configured.
    pub s3: Option<String>,
    /// A custom IAM endpoint, if one is configured.
    pub iam: Option<String>,
}

/// The environment variables [`Endpoints::resolve`] reads: with the profile, all that
/// decides where a request goes. A tool's request to the tray carries them.
pub const ENDPOINT_VARS: &[&str] = &["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_IAM"];

impl Endpoints {
    /// The partition whose credentials work at these endpoints: a custom STS endpoint
    /// is a world of its own; otherwise the region's partition (credentials from one
    /// region work in every region of its partition).
    pub fn realm(&self) -> String {
        match &self.sts {
            Some(url) => format!("endpoint {url}"),
            None => partition_of_region(&self.region).to_owned(),
        }
    }

    /// Resolves as the AWS SDKs do: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the
    /// profile's `region`, then us-east-1; for endpoints `AWS_ENDPOINT_URL_<SERVICE>`,
    /// then `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`.
    pub fn resolve(env: &dyn Environment, region: Option<&str>, endpoint_url: Option<&str>) -> Endpoints {
        let region = env
            .var_str("AWS_REGION")
            .or_else(|| env.var_str("AWS_DEFAULT_REGION"))
            .or_else(|| region.map(str::to_owned))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = |service_var: &str| {
            env.var_str(service_var).or_else(|| env.var_str("AWS_ENDPOINT_URL")).or_else(|| endpoint_url.map(str::to_owned))
        };
        Endpoints { region, sts: endpoint("AWS_ENDPOINT_URL_STS"), s3: endpoint("AWS_ENDPOINT_URL_S3"), iam: endpoint("AWS_ENDPOINT_URL_IAM") }
    }
}

/// The partition a region belongs to, by the prefixes AWS gives them.
pub fn partition_of_region(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f"), ("eusc-", "aws-eusc")];
    PREFIXES.iter().find(|(p, _)| region.starts_with(p)).map_or("aws", |(_, partition)| partition)
}

/// Checks a region name before it goes into a profile or a host name.
pub fn check_region(region: &str) -> Result<(), crate::error::Error> {
    let ok = (1..=32).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(crate::error::Error::bad_input("bad_region", format!("{region:?} is not an AWS region (like eu-west-1)")))
    }
}

/// Credentials to sign requests with.
#[derive(Clone)]
pub enum Signer<'a> {
    /// An IAM user's long-term keys.
    LongTerm(&'a LongTermKeys),
    /// Temporary credentials (an MFA session or a role).
    Temporary(&'a TempCredentials),
}

impl Signer<'_> {
    fn sdk(&self) -> Credentials {
        match self {
            Signer::LongTerm(k) => Credentials::new(&k.access_key_id, k.secret_access_key.expose(), None, None, "mfa-tray"),
            Signer::Temporary(t) => Credentials::new(
                &t.access_key_id,
                t.secret_access_key.expose(),
                Some(t.session_token.expose().to_owned()),
                Some(SystemTime::from(t.expiration)),
                "mfa-tray",
            ),
        }
    }

    /// The secrets a request signed this way carries or could be answered with.
    fn secrets(&self) -> Vec<Secret> {
        match self {
            Signer::LongTerm(k) => vec![k.secret_access_key.clone()],
            Signer::Temporary(t) => vec![t.secret_access_key.clone(), t.session_token.clone()],
        }
    }
}

/// A failed AWS call, sorted by what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// AWS answered and said no (wrong code, access denied, expired token, bad input).
    #[error("{code}: {message}")]
    Refused {
        /// AWS's error code (`AccessDenied`, `ExpiredToken`, ...).
        code: String,
        /// AWS's message.
        message: String,
    },
    /// AWS is throttling or failing (5xx), even after retries.
    #[error("AWS is unavailable ({code}, HTTP {status}): {message}")]
    Unavailable {
        /// AWS's error code, if any.
        code: String,
        /// AWS's message.
        message: String,
        /// HTTP status.
        status: u16,
    },
    /// AWS could not be reached (DNS, connection, timeout, a dropped connection). It
    /// holds the SDK's chain of causes; it shows as a few words.
    #[error("cannot reach AWS: {}", crate::error::network_cause(.0))]
    Network(String),
    /// The request could not be made at all: the endpoint is not a URL, say. It holds
    /// the SDK's text, with any user:password of a URL taken out.
    #[error("the request to AWS could not be made (is endpoint_url, or AWS_ENDPOINT_URL, a URL?)")]
    Request(String),
    /// AWS answered with something that is not a valid answer (it does not parse, a
    /// date is wrong, the credentials are missing or not the shape of credentials).
    /// Never carries the answer itself, which may hold credentials.
    #[error("{0}")]
    Malformed(String),
}

/// Errors of a request signed with a skewed clock: worth one more try, which the SDK
/// signs with the clock offset it learnt from the failed response's Date header.
const CLOCK_SKEW: [&str; 3] = ["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"];

/// Runs `call`, and once more if AWS said the request's clock was skewed.
async fn skew_retry<T, F, Fut>(mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    match call().await {
        Err(AwsError::Refused { code, .. }) if CLOCK_SKEW.contains(&code.as_str()) => call().await,
        other => other,
    }
}

const THROTTLING: [&str; 6] =
    ["Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"];

/// [`classify`], for the other AWS clients of the crate (Identity Center's).
pub(crate) fn classify_sdk<E>(err: SdkError<E>, secrets: &[Secret]) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(err, secrets)
}

/// Sorts an SDK failure into what the user can act on. Only AWS's error code and
/// message survive (scrubbed of `secrets`, which an answer may echo), never the body.
fn classify<E>(err: SdkError<E>, secrets: &[Secret]) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let secrets: Vec<&str> = secrets.iter().map(Secret::expose).collect();
    let clean = |text: &str| scrub(text, &secrets);
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if (200..300).contains(&status) {
                return AwsError::Malformed(format!("an answer with HTTP {status} that could not be read"));
            }
            // Some STS-compatible servers wrap <Error> in <Errors>, which the SDK's
            // parser misses; read the code and message from the body then.
            let body = ctx.raw().body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            let code = ctx.err().code().map(str::to_owned).or_else(|| xml_text(&body, "Code")).unwrap_or_default();
            let message = ctx.err().message().map(str::to_owned).or_else(|| xml_text(&body, "Message")).unwrap_or_default();
            let (code, message) = (clean(&code), clean(&message));
            if status >= 500 || status == 429 || THROTTLING.contains(&code.as_str()) {
                AwsError::Unavailable { code, message, status }
            } else if code.is_empty() {
                // An answer that is not AWS's error XML (a proxy's page, say).
                AwsError::Refused { code: format!("HTTP {status}"), message: "an answer without an AWS error code".into() }
            } else {
                AwsError::Refused { code, message }
            }
        }
        SdkError::ResponseError(ctx) => {
            // A connection that broke off mid-answer, or an answer that is all there but
            // unreadable. Only the kind of failure is kept: its text may quote the body.
            let mut source = std::error::Error::source(&err);
            while let Some(e) = source {
                let text = e.to_string().to_ascii_lowercase();
                if ["connection", "end of file", "closed", "reset", "incomplete", "timed out"].iter().any(|w| text.contains(w)) {
                    return AwsError::Network("the connection broke off in the middle of the answer".into());
                }
                source = e.source();
            }
            AwsError::Malformed(format!("an answer with HTTP {} that could not be read", ctx.raw().status().as_u16()))
        }
        SdkError::TimeoutError(_) => AwsError::Network("no answer in time".into()),
        // Connection failures (refused, DNS, TLS, dropped) and requests that could not be
        // built: the SDK's text names the cause and holds nothing of the answer.
        SdkError::DispatchFailure(_) => {
            let text = clean(&without_userinfo(&DisplayErrorContext(&err).to_string()));
            // An endpoint that is not a URL fails here too, before any connection.
            if text.contains("failed to apply endpoint") || text.contains("invalid uri") {
                AwsError::Request(text)
            } else {
                AwsError::Network(text)
            }
        }
        // A request that could not be built: a configuration to fix, not the network.
        SdkError::ConstructionFailure(_) => AwsError::Request(clean(&without_userinfo(&DisplayErrorContext(&err).to_string()))),
        _ => AwsError::Network("the AWS SDK failed".into()),
    }
}

/// `text` with the `user:password@` of any URL in it taken out.
fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let authority = rest.find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace() || c == ')').unwrap_or(rest.len());
        if let Some(at) = rest[..authority].rfind('@') {
            out.push_str("[redacted]@");
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    // A URL without a scheme ("user:pw@host"), as a malformed endpoint can be.
    out.split(' ')
        .map(|w| match w.find('@') {
            Some(at) if !w.contains("://") && w[..at].contains(':') => format!("[redacted]{}", &w[at..]),
            _ => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of the first `<tag>` element, unescaped enough for messages.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{tag}>"))?;
    let text = &body[start..start + len];
    Some(text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&"))
}

fn sdk_config(signer: &Signer<'_>, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(signer.sdk()))
        // Fail in seconds when offline, not after the SDK's long defaults.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .build()
}

fn to_time(dt: &aws_sdk_sts::primitives::DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(dt.secs()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Credentials from an STS answer, if they have the shape of credentials: an access key
/// id of capitals and digits, and a secret and token that are one printable word each.
fn temp(c: Option<&aws_sdk_sts::types::Credentials>) -> Result<TempCredentials, AwsError> {
    let c = c.ok_or_else(|| AwsError::Malformed("an answer without credentials".into()))?;
    let word = |s: &str| !s.is_empty() && s.len() <= 8192 && s.bytes().all(|b| b.is_ascii_graphic() && b != b'#' && b != b';');
    if !is_access_key_id(c.access_key_id()) || !word(c.secret_access_key()) || !word(c.session_token()) {
        return Err(AwsError::Malformed("an answer whose credentials are not the shape of AWS credentials".into()));
    }
    // A cut-off answer can parse with the expiry missing (the SDK then says 1970).
    if c.expiration().secs() <= 0 {
        return Err(AwsError::Malformed("an answer whose credentials have no expiry".into()));
    }
    Ok(TempCredentials {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: Secret::new(c.secret_access_key()),
        session_token: Secret::new(c.session_token()),
        expiration: to_time(c.expiration()),
    })
}

fn sts_config(signer: &Signer<'_>, endpoints: &Endpoints) -> aws_sdk_sts::Config {
    let mut conf = aws_sdk_sts::config::Builder::from(&sdk_config(signer, &endpoints.region));
    if let Some(url) = &endpoints.sts {
        conf = conf.endpoint_url(url);
    }
    conf.build()
}

/// An STS client for one profile.
pub struct Sts {
    client: aws_sdk_sts::Client,
    /// What its errors must never show.
    secrets: Vec<Secret>,
}

/// What AssumeRole needs besides the signer.
#[derive(Debug, Clone)]
pub struct AssumeRoleInput<'a> {
    /// The role.
    pub role_arn: &'a RoleArn,
    /// RoleSessionName.
    pub session_name: &'a str,
    /// ExternalId, if the role wants one.
    pub external_id: Option<&'a str>,
    /// DurationSeconds.
    pub duration: Duration,
    /// SerialNumber and TokenCode, for AssumeRole with MFA.
    pub mfa: Option<(&'a MfaSerial, &'a MfaCode)>,
}

/// Who a set of credentials belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
    /// The caller's unique id.
    pub user_id: String,
}

impl Identity {
    /// The IAM user name, when the caller is an IAM user (`arn:...:user/path/NAME`).
    pub fn user_name(&self) -> Option<&str> {
        let resource = self.arn.splitn(6, ':').nth(5)?;
        resource.strip_prefix("user/").map(|path| path.rsplit('/').next().unwrap_or(path))
    }
}

impl Sts {
    /// A client signing with `signer`, for `endpoints`.
    pub fn new(signer: Signer<'_>, endpoints: &Endpoints) -> Sts {
        Sts { client: aws_sdk_sts::Client::from_conf(sts_config(&signer, endpoints)), secrets: signer.secrets() }
    }

    /// GetSessionToken with SerialNumber and TokenCode.
    pub async fn get_session_token(&self, serial: &MfaSerial, code: &MfaCode, duration: Duration) -> Result<TempCredentials, AwsError> {
        let secrets = self.with_code(Some(code));
        let out = skew_retry(|| async {
            self.client
                .get_session_token()
                .serial_number(serial.as_str())
                .token_code(code.as_str())
                .duration_seconds(duration.as_secs() as i32)
                .send()
                .await
                .map_err(|e| classify(e, &secrets))
        })
        .await?;
        temp(out.credentials())
    }

    fn with_code(&self, code: Option<&MfaCode>) -> Vec<Secret> {
        let mut secrets = self.secrets.clone();
        secrets.extend(code.map(|c| Secret::new(c.as_str())));
        secrets
    }

    /// AssumeRole, with SerialNumber and TokenCode when `input.mfa` is set.
    pub async fn assume_role(&self, input: &AssumeRoleInput<'_>) -> Result<TempCredentials, AwsError> {
        let secrets = self.with_code(input.mfa.map(|(_, code)| code));
        let out = skew_retry(|| async {
            let mut req = self
                .client
                .assume_role()
                .role_arn(input.role_arn.as_str())
                .role_session_name(input.session_name)
                .duration_seconds(input.duration.as_secs() as i32)
                .set_external_id(input.external_id.map(str::to_owned));
            if let Some((serial, code)) = input.mfa {
                req = req.serial_number(serial.as_str()).token_code(code.as_str());
            }
            req.send().await.map_err(|e| classify(e, &secrets))
        })
        .await?;
        temp(out.credentials())
    }

    /// GetCallerIdentity.
    pub async fn caller_identity(&self) -> Result<Identity, AwsError> {
        let out = skew_retry(|| async { self.client.get_caller_identity().send().await.map_err(|e| classify(e, &self.secrets)) }).await?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            user_id: out.user_id().unwrap_or_default().to_owned(),
        })
    }
}

/// An IAM client, for the calling user's own MFA devices and access keys.
pub struct Iam {
    client: aws_sdk_iam::Client,
    secrets: Vec<Secret>,
}

/// A new access key from CreateAccessKey.
pub type NewKey = LongTermKeys;

impl Iam {
    /// A client signing with `signer`, for `endpoints`.
    pub fn new(signer: Signer<'_>, endpoints: &Endpoints) -> Iam {
        let mut conf = aws_sdk_iam::config::Builder::from(&sdk_config(&signer, &endpoints.region));
        if let Some(url) = &endpoints.iam {
            conf = conf.endpoint_url(url);
        }
        Iam { client: aws_sdk_iam::Client::from_conf(conf.build()), secrets: signer.secrets() }
    }

    /// The serial numbers of the user's MFA devices (ListMFADevices, every page). `user`
    /// is the caller's own name (AWS defaults to the caller; some servers need it).
    pub async fn mfa_devices(&self, user: Option<&str>) -> Result<Vec<String>, AwsError> {
        let mut serials = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = marker.take();
            let out = skew_retry(|| async { self.client.list_mfa_devices().set_user_name(user.map(str::to_owned)).set_marker(page.clone()).send().await.map_err(|e| classify(e, &self.secrets)) })
                .await?;
            serials.extend(out.mfa_devices().iter().map(|d| d.serial_number().to_owned()));
            match out.marker() {
                Some(m) if out.is_truncated() && !m.is_empty() => marker = Some(m.to_owned()),
                _ => return Ok(serials),
            }
        }
    }

    /// CreateAccessKey for the calling user, named `user`.
    pub async fn create_access_key(&self, user: Option<&str>) -> Result<NewKey, AwsError> {
        // Not retried: a retry after a lost answer would make a second key.
        let once = aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled());
        let out = self.client.create_access_key().set_user_name(user.map(str::to_owned)).customize().config_override(once).send().await.map_err(|e| classify(e, &self.secrets))?;
        let key = out.access_key().ok_or_else(|| AwsError::Malformed("an answer without an access key".into()))?;
        Ok(LongTermKeys { access_key_id: key.access_key_id().to_owned(), secret_access_key: Secret::new(key.secret_access_key()) })
    }

    /// DeleteAccessKey of the calling user, named `user`.
    pub async fn delete_access_key(&self, user: Option<&str>, access_key_id: &str) -> Result<(), AwsError> {
        skew_retry(|| async { self.client.delete_access_key().set_user_name(user.map(str::to_owned)).access_key_id(access_key_id).send().await.map_err(|e| classify(e, &self.secrets)) })
            .await
            .map(|_| ())
    }
}

/// An S3 bucket, as ListBuckets reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339), if reported.
    pub created: Option<String>,
}

/// S3 ListBuckets, every page.
pub async fn list_buckets(signer: Signer<'_>, endpoints: &Endpoints) -> Result<Vec<Bucket>, AwsError> {
    let secrets = signer.secrets();
    let mut conf = aws_sdk_s3::config::Builder::from(&sdk_config(&signer, &endpoints.region));
    if let Some(url) = &endpoints.s3 {
        // Custom endpoints (moto, MinIO, LocalStack) rarely do virtual-hosted buckets.
        conf = conf.endpoint_url(url).force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(conf.build());
    let mut buckets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = token.take();
        let out = skew_retry(|| async { client.list_buckets().set_continuation_token(page.clone()).send().await.map_err(|e| classify(e, &secrets)) })
            .await?;
        for b in out.buckets() {
            buckets.push(Bucket {
                name: b.name().unwrap_or_default().to_owned(),
                created: b.creation_date().map(|d| crate::credentials::format_time(to_time(d))),
            });
        }
        match out.continuation_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(buckets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_never_shows() {
        assert_eq!(without_userinfo("no url here"), "no url here");
        assert_eq!(without_userinfo("bad uri https://alice:pw@proxy:8080/x (end)"), "bad uri https://[redacted]@proxy:8080/x (end)");
        assert_eq!(without_userinfo("endpoint alice:pw@host:4566 is not valid"), "endpoint [redacted]@host:4566 is not valid");
        assert_eq!(without_userinfo("http://host/a@b"), "http://host/a@b");
    }
    use crate::env::FakeEnvironment;

    /// Records the URL of the first request and stops it before it leaves.
    #[derive(Debug, Default, Clone)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Option<String>>>);

    impl aws_sdk_sts::config::Intercept for Capture {
        fn name(&self) -> &'static str {
            "capture"
        }
        fn read_before_transmit(
            &self,
            ctx: &aws_sdk_sts::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
            _: &aws_sdk_sts::config::RuntimeComponents,
            _: &mut aws_sdk_sts::config::ConfigBag,
        ) -> Result<(), aws_sdk_sts::error::BoxError> {
            *self.0.lock().unwrap() = Some(ctx.request().uri().to_owned());
            Err("stopped by the test".into())
        }
    }

    async fn sts_url(endpoints: Endpoints) -> String {
        let keys = LongTermKeys { access_key_id: "AKIA".into(), secret_access_key: Secret::new("s") };
        let capture = Capture::default();
        let conf = sts_config(&Signer::LongTerm(&keys), &endpoints).to_builder().interceptor(capture.clone()).build();
        let _ = aws_sdk_sts::Client::from_conf(conf).get_caller_identity().send().await;
        let url = capture.0.lock().unwrap().clone();
        url.expect("a request was made")
    }

    #[tokio::test]
    async fn sts_goes_to_the_profiles_regional_endpoint_or_the_override() {
        let regional = Endpoints { region: "eu-west-1".into(), sts: None, s3: None, iam: None };
        assert_eq!(sts_url(regional).await, "https://sts.eu-west-1.amazonaws.com/");
        let custom = Endpoints { region: "eu-west-1".into(), sts: Some("http://127.0.0.1:9/".into()), s3: None, iam: None };
        assert_eq!(sts_url(custom).await, "http://127.0.0.1:9/");
    }

    #[test]
    fn xml_text_reads_wrapped_errors() {
        let body = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>a &amp; b</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_text(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_text(body, "Message").as_deref(), Some("a & b"));
        assert_eq!(xml_text(body, "Nope"), None);
    }

    #[test]
    fn endpoint_precedence() {
        let mut env = FakeEnvironment::default();
        let e = Endpoints::resolve(&env, Some("eu-west-1"), Some("http://profile"));
        assert_eq!(e, Endpoints { region: "eu-west-1".into(), sts: Some("http://profile".into()), s3: Some("http://profile".into()), iam: Some("http://profile".into()) });
        env.vars.insert("AWS_ENDPOINT_URL".into(), "http://global".into());
        env.vars.insert("AWS_ENDPOINT_URL_S3".into(), "http://s3".into());
        env.vars.insert("AWS_DEFAULT_REGION".into(), "ap-south-1".into());
        let e = Endpoints::resolve(&env, Some("eu-west-1"), Some("http://profile"));
        assert_eq!(e, Endpoints { region: "ap-south-1".into(), sts: Some("http://global".into()), s3: Some("http://s3".into()), iam: Some("http://global".into()) });
        let e = Endpoints::resolve(&FakeEnvironment::default(), None, None);
        assert_eq!(e, Endpoints { region: "us-east-1".into(), sts: None, s3: None, iam: None });
    }
}
