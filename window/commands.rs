//! What the window may call (each one allowed by name in capabilities/). Every answer
//! is free of secrets: the webview sees profiles, expiries, identities and bucket
//! names, never a key or token. Errors cross as `{ code, message }` from the core.

use std::time::Duration;

use mfa_tray_core::aws::Bucket;
use mfa_tray_core::channel::{self, Answer, Request};
use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::credentials::format_time;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::status::Status;
use mfa_tray_core::credentials::LongTermKeys;
use mfa_tray_core::engine::NewRole;
use mfa_tray_core::profiles::KeyStore;
use mfa_tray_core::types::{MfaCode, MfaSerial};
use mfa_tray_core::{Error, Strategy};
use serde::{Deserialize, Serialize};
use tauri::State;

use mfa_tray::state::lock;
use mfa_tray::window::Pending;

use crate::state::{NewAccount, WindowState};

/// An error for the window: it branches on `code` and shows `message`.
#[derive(Debug, Serialize, Clone, Default)]
pub struct UiError {
    code: String,
    message: String,
}

impl From<Error> for UiError {
    fn from(e: Error) -> UiError {
        UiError { code: e.code.to_owned(), message: e.message }
    }
}

fn bad_code(e: mfa_tray_core::types::ValueError) -> UiError {
    UiError { code: "bad_code".into(), message: e.to_string() }
}

/// Everything the window needs to draw itself.
#[derive(Debug, Serialize)]
pub struct UiState {
    status: Status,
    pending: Option<Pending>,
}

/// The current status, and what the window was opened for (taken once).
#[tauri::command]
pub fn state(state: State<'_, WindowState>) -> Result<UiState, UiError> {
    let status = state.engine().status()?;
    let pending = lock(&state.pending).take();
    Ok(UiState { status, pending })
}

/// The page is drawn and its field has the focus (bench/footprint.sh times the window
/// up to here, with `MFA_TRAY_TRACE`).
#[tauri::command]
pub fn ready() {
    mfa_tray::trace::step("ready");
}

/// What a login or a role switch achieved.
#[derive(Debug, Serialize)]
pub struct Done {
    profile: String,
    expires_at: String,
    message: String,
}

/// GetSessionToken with the code typed in the window.
#[tauri::command]
pub async fn login(state: State<'_, WindowState>, profile: String, code: String) -> Result<Done, UiError> {
    let code: MfaCode = code.parse().map_err(bad_code)?;
    let done = state.engine().login(&profile, &code, None).await?;
    Ok(Done {
        message: format!("MFA session {} is active. Roles from it need no code for the next hours.", done.profile),
        profile: done.profile,
        expires_at: format_time(done.expires),
    })
}

/// AssumeRole into the target profile, with the code if one was typed.
#[tauri::command]
pub async fn assume(state: State<'_, WindowState>, role: String, code: Option<String>) -> Result<Done, UiError> {
    let code: Option<MfaCode> = code.filter(|c| !c.trim().is_empty()).map(|c| c.parse()).transpose().map_err(bad_code)?;
    let done = state.engine().assume(&role, code.as_ref(), None, None).await?;
    let active = if done.active { "is now the active role" } else { "was written" };
    Ok(Done {
        message: format!("{} {active} in [{}], assumed {}.", done.role, done.section, done.plan.reason),
        profile: done.role,
        expires_at: format_time(done.expires),
    })
}

/// Whether switching to `role` needs a code now, and why.
#[derive(Debug, Serialize)]
pub struct Choice {
    needs_code: bool,
    reason: String,
}

/// Plans a role switch without doing it.
#[tauri::command]
pub fn choose_role(state: State<'_, WindowState>, role: String) -> Result<Choice, UiError> {
    let engine = state.engine();
    let plan = engine.plan(&engine.snapshot()?, &role, None, false)?;
    Ok(Choice { needs_code: plan.strategy == Strategy::WithMfa, reason: plan.reason })
}

/// Caller identity and bucket list of a profile.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    profile: String,
    account: String,
    arn: String,
    user_id: String,
    buckets: Vec<Bucket>,
    buckets_error: Option<UiError>,
}

/// GetCallerIdentity and S3 ListBuckets with a profile's credentials (default: the target).
#[tauri::command]
pub async fn whoami(state: State<'_, WindowState>, profile: Option<String>) -> Result<WhoAmI, UiError> {
    let engine = state.engine();
    let profile = profile.filter(|p| !p.is_empty());
    let (section, id) = engine.whoami(profile.as_deref()).await?;
    let (buckets, buckets_error) = match engine.buckets(Some(&section)).await {
        Ok((_, b)) => (b, None),
        // Listing buckets needs s3:ListAllMyBuckets; identity alone is still worth showing.
        Err(e) => (vec![], Some(e.into())),
    };
    Ok(WhoAmI { profile: section, account: id.account, arn: id.arn, user_id: id.user_id, buckets, buckets_error })
}

/// The settings as the window edits them (durations in minutes or seconds, as in the file).
#[derive(Debug, Serialize, Deserialize)]
pub struct SettingsView {
    target_profile: String,
    long_term_suffix: String,
    notify_before_minutes: Vec<u64>,
    session_duration_seconds: u64,
    role_duration_seconds: u64,
    auto_refresh: bool,
    refresh_before_minutes: u64,
    #[serde(default)]
    auto_login: bool,
    /// `None`: not chosen yet (on after the first login).
    #[serde(default)]
    start_at_login: Option<bool>,
}

impl From<&Settings> for SettingsView {
    fn from(s: &Settings) -> SettingsView {
        SettingsView {
            target_profile: s.target_profile.clone(),
            long_term_suffix: s.long_term_suffix.clone(),
            notify_before_minutes: s.notify_before.iter().map(|d| d.as_secs() / 60).collect(),
            session_duration_seconds: s.session_duration.as_secs(),
            role_duration_seconds: s.role_duration.as_secs(),
            auto_refresh: s.auto_refresh,
            auto_login: s.auto_login,
            start_at_login: s.start_at_login,
            refresh_before_minutes: s.refresh_before.as_secs() / 60,
        }
    }
}

/// The settings in force.
#[tauri::command]
pub fn get_settings(state: State<'_, WindowState>) -> SettingsView {
    SettingsView::from(&state.engine().settings)
}

/// What saving settings did.
#[derive(Debug, Serialize)]
pub struct Saved {
    settings: SettingsView,
    message: String,
}

/// Checks the settings and hands them to the running tray, which owns the state: it
/// saves and applies them at once. With no tray running, they are saved for the next.
#[tauri::command]
pub fn save_settings(state: State<'_, WindowState>, settings: SettingsView) -> Result<Saved, UiError> {
    let current = state.engine().settings.clone();
    let minutes = |m: u64| Duration::from_secs(m.saturating_mul(60));
    let wanted = Settings {
        target_profile: settings.target_profile.trim().to_owned(),
        long_term_suffix: settings.long_term_suffix.trim().to_owned(),
        notify_before: settings.notify_before_minutes.into_iter().map(minutes).collect(),
        session_duration: Duration::from_secs(settings.session_duration_seconds),
        role_duration: Duration::from_secs(settings.role_duration_seconds),
        auto_refresh: settings.auto_refresh,
        auto_login: settings.auto_login,
        start_at_login: settings.start_at_login,
        refresh_before: minutes(settings.refresh_before_minutes),
        ..current
    };
    let checked = wanted.validated().map_err(|message| UiError { code: "bad_settings".into(), message })?;
    state.engine().snapshot()?.check_not_an_account(&checked.target_profile)?;
    let request = Request::SaveSettings { toml: checked.to_toml() };
    let message = match channel::socket_path(&OsEnvironment).map(|path| channel::request(&path, &request)) {
        Some(Ok(Answer::Ok { message })) => message,
        Some(Ok(Answer::Error { code, message, .. })) => return Err(UiError { code, message }),
        Some(Ok(_)) => return Err(UiError { code: "tray_unreachable".into(), message: "the tray answered something else; nothing was saved".into() }),
        None => no_tray(&checked)?,
        // No tray listening (or a socket directory open to others, where the tray does
        // not listen either): the file it watches carries the settings.
        Some(Err(e)) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::PermissionDenied) => no_tray(&checked)?,
        Some(Err(e)) => return Err(UiError { code: "tray_unreachable".into(), message: format!("the tray did not answer ({e}); nothing was saved") }),
    };
    state.reload()?;
    Ok(Saved { settings: SettingsView::from(&state.engine().settings), message })
}

/// With no tray to answer, the window saves the settings itself: a tray that runs
/// without its channel notices the file within a second, and the next one reads it.
fn no_tray(settings: &Settings) -> Result<String, UiError> {
    settings.save(&OsEnvironment).map_err(|e| UiError { code: "settings_write".into(), message: e.to_string() })?;
    Ok("Saved. A running tray picks them up within a second; otherwise the tray uses them when it starts.".to_owned())
}

/// Who new keys belong to and the user's MFA devices; the page picks one next.
#[derive(Debug, Serialize)]
pub struct Checked {
    arn: String,
    account: String,
    devices: Vec<String>,
    /// Why the devices could not be listed (the page then asks for the ARN).
    devices_error: Option<String>,
}

/// Checks a new account's keys with AWS (GetCallerIdentity, ListMFADevices). The page
/// sends the secret here once and clears its field; it stays in this process until
/// `add_account` stores it, and is never sent back.
#[tauri::command]
pub async fn check_account(
    state: State<'_, WindowState>,
    name: String,
    access_key_id: String,
    secret_access_key: String,
    region: Option<String>,
) -> Result<Checked, UiError> {
    let secret = mfa_tray_core::secret::Secret::new(secret_access_key);
    *lock(&state.new_account) = None;
    let engine = state.engine();
    let name = name.trim().to_owned();
    let region = region.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    engine.check_new_name(&engine.snapshot()?, &name, Some(KeyStore::Keychain))?;
    let keys = LongTermKeys { access_key_id: access_key_id.trim().to_owned(), secret_access_key: mfa_tray_core::secret::Secret::new(secret.expose().trim()) };
    let check = engine.check_account(&keys, region.as_deref(), true).await?;
    *lock(&state.new_account) = Some(NewAccount { name, keys, region });
    let (devices, devices_error) = match check.devices {
        Ok(d) => (d, None),
        Err(e) => (vec![], Some(e)),
    };
    Ok(Checked { arn: check.identity.arn, account: check.identity.account, devices, devices_error })
}

/// Stores the checked account's keys in the keychain and writes its profile with the
/// chosen (or typed) MFA device.
#[tauri::command]
pub fn add_account(state: State<'_, WindowState>, mfa_serial: String) -> Result<Done, UiError> {
    let serial: MfaSerial = mfa_serial.trim().parse().map_err(|e: mfa_tray_core::types::ValueError| UiError { code: "bad_serial".into(), message: e.to_string() })?;
    let pending = lock(&state.new_account).take();
    let Some(account) = pending else {
        return Err(UiError { code: "no_account".into(), message: "check the keys first".into() });
    };
    let engine = state.engine();
    if let Err(e) = engine.add_account(&account.name, &account.keys, &serial, account.region.as_deref(), KeyStore::Keychain) {
        // Keep the keys for another try (say, after unlocking the keychain).
        *lock(&state.new_account) = Some(account);
        return Err(e.into());
    }
    Ok(Done {
        message: format!("Account {} added; its keys are in the OS keychain. Type a code from {serial} to start its MFA session.", account.name),
        profile: account.name,
        expires_at: String::new(),
    })
}

/// Forgets an account being added (the page's Back): its keys leave this process.
#[tauri::command]
pub fn cancel_account(state: State<'_, WindowState>) {
    *lock(&state.new_account) = None;
}

/// Moves an account's keys from the credentials file into the keychain.
#[tauri::command]
pub fn import_keys(state: State<'_, WindowState>, name: String) -> Result<String, UiError> {
    let engine = state.engine();
    engine.import_keys(&name)?;
    Ok(format!(
        "The keys of {name} are now in the OS keychain; [{name}{}] is gone from {}. Until mfa-tray next writes that file, its previous version (keys included) stays in {}.",
        engine.settings.long_term_suffix,
        engine.files.credentials.display(),
        mfa_tray_core::file::backup_path(&engine.files.credentials).display()
    ))
}

/// Writes a role profile into the config file.
#[tauri::command]
pub fn add_role(state: State<'_, WindowState>, name: String, arn: String, source: String, external_id: Option<String>, credential_process: Option<bool>) -> Result<String, UiError> {
    let role = NewRole {
        name: name.trim().to_owned(),
        arn: arn.trim().to_owned(),
        source,
        external_id: external_id.map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()),
        credential_process: credential_process.unwrap_or(false),
        ..NewRole::default()
    };
    state.engine().add_role(&role)?;
    Ok(match role.credential_process {
        true => format!("Role {0} added: tools using profile {0} ask the tray for its credentials (nothing is written to ~/.aws/credentials).", role.name),
        false => format!("Role {} added; pick it in the tray's menu or below.", role.name),
    })
}

/// Asks the tray over its channel, waiting up to `wait` for the answer.
fn ask_tray(request: &Request, wait: Duration) -> Result<Answer, UiError> {
    let unreachable = |why: String| UiError { code: "tray_unreachable".into(), message: format!("the tray did not answer ({why}); is it running?") };
    let path = channel::socket_path(&OsEnvironment).ok_or_else(|| unreachable("no place for its channel".into()))?;
    match channel::request_within(&path, request, wait) {
        Ok(Answer::Error { code, message, .. }) => Err(UiError { code, message }),
        Ok(answer) => Ok(answer),
        Err(e) => Err(unreachable(e.to_string())),
    }
}

/// The tools waiting for a code (credential_process), as the tray knows them.
#[tauri::command]
pub fn asks() -> Result<Vec<channel::Ask>, UiError> {
    match ask_tray(&Request::Asks, Duration::from_secs(10))? {
        Answer::Asks { asks } => Ok(asks),
        _ => Err(UiError { code: "tray_unreachable".into(), message: "the tray answered something else".into() }),
    }
}

/// Hands the tray a code for the tools waiting on `account`.
#[tauri::command]
pub fn give_code(account: String, code: String) -> Result<String, UiError> {
    code.parse::<MfaCode>().map_err(bad_code)?;
    // The tray checks the code with AWS (retries included) before it answers.
    match ask_tray(&Request::GiveCode { account, code }, Duration::from_secs(90))? {
        Answer::Ok { message } => Ok(message),
        _ => Err(UiError { code: "tray_unreachable".into(), message: "the tray answered something else".into() }),
    }
}

/// Tells the tray no code will come for `account` (for any, without one).
#[tauri::command]
pub fn cancel_asks(account: Option<String>) -> Result<(), UiError> {
    ask_tray(&Request::Cancel { account }, Duration::from_secs(10)).map(drop)
}

/// Closes the window (and so ends the window process; the tray stays).
#[tauri::command]
pub fn close_window(window: tauri::Window) -> Result<(), UiError> {
    window.close().map_err(|e| UiError { code: "window".into(), message: e.to_string() })
}

/// Writes `[sso-session NAME]` into the config file (the window's Identity Center view).
#[tauri::command]
pub fn sso_add(state: State<'_, WindowState>, name: String, start_url: String, region: String) -> Result<String, UiError> {
    let (name, start_url, region) = (name.trim().to_owned(), start_url.trim().to_owned(), region.trim().to_owned());
    state.engine().sso_add(&name, &start_url, &region)?;
    Ok(format!("Identity Center session {name} added. Sign in to it next."))
}

/// How a sign-in started in the window goes: what to show while it waits, and how it ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SsoProgress {
    /// The session being signed in to.
    session: Option<String>,
    /// A device code's page and code, while it waits for them to be entered.
    verification_uri: Option<String>,
    /// The code to enter there (no secret: it is shown to be typed elsewhere).
    user_code: Option<String>,
    /// The browser was sent to the sign-in page.
    browser: bool,
    /// Done: what happened.
    done: Option<String>,
    /// Failed: why.
    error: Option<UiError>,
}

/// Starts a sign-in to `name` (in the browser, or with a device code) in the background;
/// [`sso_progress`] follows it.
#[tauri::command]
pub fn sso_login(app: tauri::AppHandle, state: State<'_, WindowState>, name: String, device_code: bool) -> Result<(), UiError> {
    {
        let mut progress = lock(&state.sso_progress);
        if progress.session.is_some() && progress.done.is_none() && progress.error.is_none() {
            return Err(UiError { code: "busy".into(), message: format!("a sign-in to {} is under way", progress.session.as_deref().unwrap_or_default()) });
        }
        *progress = SsoProgress { session: Some(name.clone()), ..SsoProgress::default() };
    }
    let engine = state.engine();
    tauri::async_runtime::spawn(async move {
        use tauri::Manager;
        let state = app.state::<WindowState>();
        let flow = if device_code { mfa_tray_core::sso::Flow::DeviceCode } else { mfa_tray_core::sso::Flow::Pkce };
        let shown = |prompt: &mfa_tray_core::sso::Prompt| {
            let state = app.state::<WindowState>();
            let mut progress = lock(&state.sso_progress);
            match prompt {
                mfa_tray_core::sso::Prompt::Browser => progress.browser = true,
                mfa_tray_core::sso::Prompt::DeviceCode { uri, user_code, .. } => {
                    progress.verification_uri = Some(uri.clone());
                    progress.user_code = Some(user_code.clone());
                }
            }
        };
        let result = engine.sso_login(&name, flow, &shown).await;
        let mut progress = lock(&state.sso_progress);
        match result {
            Ok(token) => progress.done = Some(format!("Signed in to {name}: valid until {}{}.", format_time(token.expires_at), if token.refresh_token.is_some() { ", and it renews itself" } else { "" })),
            Err(e) => progress.error = Some(e.into()),
        }
    });
    Ok(())
}

/// How the sign-in started with [`sso_login`] goes.
#[tauri::command]
pub fn sso_progress(state: State<'_, WindowState>) -> SsoProgress {
    lock(&state.sso_progress).clone()
}

/// Adds a profile for every account and role of session `name`.
#[tauri::command]
pub async fn sso_sync(state: State<'_, WindowState>, name: String) -> Result<String, UiError> {
    let done = state.engine().sso_sync(&name, false).await?;
    Ok(format!("{} new profiles, {} already there{}.", done.added.len(), done.kept.len(), if done.stale.is_empty() { String::new() } else { format!("; {} whose role is gone (`mfa-tray sso sync {name} --prune` removes them)", done.stale.len()) }))
}
