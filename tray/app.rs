//! The middle layer: the tray as one value ([`App`]: its state, the window launcher and
//! what it holds for tools, the way to the event loop and the async runtime), and what
//! each [`Action`] does. It uses the adapters below it and knows nothing of the loop or
//! the channel above it.

use std::sync::Arc;

use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::RefreshItem;

use crate::asks::Asks;
use crate::notifier;
use crate::state::{lock, Action, AppState, Event, Sink};
use crate::window::{Launcher, Pending, View};

/// The running tray.
pub struct App {
    /// The engine and what the background loop remembers.
    pub state: AppState,
    /// The window process.
    pub window: Launcher,
    /// Tools waiting for a code, and the credentials kept for tools.
    pub asks: Asks,
    /// The way into the event loop (icon and menu).
    pub sink: Sink,
    /// Where engine calls run.
    pub runtime: tokio::runtime::Handle,
}

impl App {
    /// The tray on `state`, handing events to `sink` and running work on `runtime`.
    pub fn new(state: AppState, sink: Sink, runtime: tokio::runtime::Handle) -> Arc<App> {
        Arc::new(App { state, window: Launcher::default(), asks: Asks::default(), sink, runtime })
    }

    /// The icon and menu show the status now (if it changed what they show).
    pub fn refresh_menu(&self) {
        (self.sink)(Event::Refresh);
    }

    /// Everything changed: look again at once, and redraw the menu.
    fn changed(&self) {
        (self.sink)(Event::Rebuild);
        self.state.wake.notify_one();
    }

    /// Does what the user asked for (on the event loop's thread: nothing here waits).
    pub fn act(self: &Arc<Self>, action: Action) {
        match action {
            Action::EnterCode => self.enter_code(),
            Action::CodeWindow => self.window.open(View::Code, None),
            Action::Launched => {
                // Another launch: the window, on what the user has (adding an account if
                // nothing yet).
                let view = match self.state.engine().status() {
                    Ok(s) if s.sessions.is_empty() && s.sso_sessions.is_empty() => View::Account,
                    Ok(s) if s.sessions.is_empty() => View::Sso,
                    _ => View::Code,
                };
                self.window.open(view, None);
            }
            Action::Role(role) => self.switch_role(role),
            Action::Refresh => {
                let app = self.clone();
                self.runtime.spawn(async move { app.refresh_now().await });
            }
            Action::WhoAmI => self.window.open(View::WhoAmI, None),
            Action::Settings => self.window.open(View::Settings, None),
            Action::IdentityCenter => self.window.open(View::Sso, None),
            Action::Accounts => self.window.open(View::Account, None),
            Action::Console(role) => self.console(role),
            Action::SignIn(session) => self.sso_sign_in(&session),
            // The loop ends itself on Quit.
            Action::Quit | Action::Status | Action::About => {}
        }
    }

    /// "Open AWS console as ROLE": a sign-in link, opened in the browser.
    fn console(self: &Arc<Self>, role: String) {
        let app = self.clone();
        self.runtime.spawn(async move {
            let engine = app.state.engine();
            let opened = match engine.console(&role, None, None, None).await {
                // The opener may wait for the browser: off the async threads.
                Ok(link) => tokio::task::spawn_blocking(move || mfa_tray_core::console::open_in_browser(&OsEnvironment, &link.url))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("cannot open the browser ({e})"))),
                Err(e) => Err(e.message),
            };
            if let Err(message) = opened {
                notifier::error(&app.sink, &format!("Could not open the AWS console as {role}"), &message);
            }
        });
    }

    /// Signs in to Identity Center session `session` in the browser, from the tray (a
    /// menu item, a notification's "Sign in"), and says how it went.
    pub fn sso_sign_in(self: &Arc<Self>, session: &str) {
        let (app, session) = (self.clone(), session.to_owned());
        self.runtime.spawn(async move {
            match app.state.engine().sso_login(&session, mfa_tray_core::sso::Flow::Pkce, &|_| {}).await {
                Ok(token) => {
                    let until = mfa_tray_core::credentials::format_time(token.expires_at);
                    let renews = if token.refresh_token.is_some() { " and renews itself" } else { "" };
                    notifier::info(&app.sink, &format!("Signed in to {session}"), &format!("Identity Center session {session}: its token is valid until {until}{renews}."));
                }
                Err(e) => notifier::error(&app.sink, &format!("Could not sign in to {session}"), &e.message),
            }
            app.changed();
        });
    }

    /// "Enter MFA code…": the window, unless every MFA session that needs a login can
    /// get its code from its profile's `mfa_process`: then no typing at all.
    fn enter_code(self: &Arc<Self>) {
        let engine = self.state.engine();
        let Ok(snap) = engine.snapshot() else { return self.window.open(View::Code, None) };
        let due: Vec<(String, Option<String>)> = snap
            .profiles
            .sessions
            .iter()
            .filter(|p| snap.valid_session(&p.name, mfa_tray_core::engine::SESSION_MARGIN).is_none())
            .map(|p| (p.name.clone(), p.mfa_process.clone()))
            .collect();
        if due.is_empty() || due.iter().any(|(_, process)| process.is_none()) {
            return self.window.open(View::Code, None);
        }
        let app = self.clone();
        self.runtime.spawn(async move {
            for (profile, process) in due {
                app.login_with_process(&profile, process.as_deref().unwrap_or_default()).await;
            }
        });
    }

    /// Switches the active role: through the MFA session when it can serve, otherwise
    /// with a code from the role's `mfa_process`, otherwise the window asks for a code
    /// with the role preselected.
    fn switch_role(self: &Arc<Self>, role: String) {
        let app = self.clone();
        self.runtime.spawn(async move {
            let engine = app.state.engine();
            let failed = |e: mfa_tray_core::Error| notifier::error(&app.sink, &format!("Could not switch to {role}"), &e.message);
            let plan = engine.snapshot().and_then(|snap| engine.plan(&snap, &role, None, false));
            match plan {
                Ok(plan) if matches!(plan.strategy, mfa_tray_core::Strategy::ViaSession | mfa_tray_core::Strategy::IdentityCenter) => {
                    if let Err(e) = engine.assume(&role, None, None, None).await {
                        failed(e);
                    }
                }
                Ok(plan) => match engine.snapshot().ok().and_then(|snap| snap.profiles.role(&role).and_then(|r| r.mfa_process.clone())) {
                    Some(process) => {
                        let result = match code_from_process(engine.clone(), &role, &process).await {
                            Ok(code) => engine.assume(&role, Some(&code), None, None).await.map(drop),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = result {
                            failed(e);
                        }
                    }
                    None => app.window.open(View::Code, Some(Pending { profile: role.clone(), reason: Some(plan.reason) })),
                },
                Err(e) => failed(e),
            }
            // Rebuilt even on failure: the check mark the panel toggled must go back.
            app.changed();
        });
    }

    /// Logs `profile` in with a code from `process`, and says how it went; `true` if it did.
    pub async fn login_with_process(&self, profile: &str, process: &str) -> bool {
        let state = &self.state;
        // One login per profile at a time (a double click, or the background meanwhile).
        if !lock(&state.logging_in).insert(profile.to_owned()) {
            return false;
        }
        let result = match code_from_process(state.engine(), profile, process).await {
            Ok(code) => state.engine().login(profile, &code, None).await,
            Err(e) => Err(e),
        };
        lock(&state.logging_in).remove(profile);
        let done = match result {
            Ok(done) => {
                let until = mfa_tray_core::credentials::format_time(done.expires);
                notifier::info(&self.sink, &format!("Logged in {profile}"), &format!("With the code from its mfa_process; the MFA session is valid until {until}."));
                true
            }
            Err(e) => {
                notifier::error(&self.sink, &format!("Could not log in {profile}"), &e.message);
                false
            }
        };
        self.refresh_menu();
        state.wake.notify_one();
        done
    }

    /// "Refresh now": re-assumes every managed role, reporting failures as notifications.
    pub async fn refresh_now(&self) {
        let sink = &self.sink;
        match self.state.engine().refresh(true).await {
            Ok(items) => {
                for item in items {
                    match item {
                        RefreshItem::Failed { role, error, .. } => notifier::error(sink, &format!("Could not refresh {role}"), &error.message),
                        RefreshItem::NeedsLogin { role, session, .. } => notifier::error(
                            sink,
                            &format!("{role} needs a new MFA session"),
                            &format!("The MFA session of {session} is not valid. Enter an MFA code from the menu."),
                        ),
                        RefreshItem::NeedsSignIn { role, session, .. } => notifier::sign_in(sink, &format!("{role} needs a sign-in"), &format!("The Identity Center session {session} has ended."), &session),
                        RefreshItem::Refreshed { .. } | RefreshItem::Fresh { .. } | RefreshItem::Superseded { .. } => {}
                    }
                }
            }
            Err(e) => notifier::error(sink, "Could not refresh", &e.message),
        }
        self.refresh_menu();
        self.state.wake.notify_one();
    }
}

/// The code `process` prints for `profile`, run off the async threads (it may wait up to
/// 30 s, or for the next TOTP step).
pub async fn code_from_process(engine: Arc<mfa_tray_core::Engine>, profile: &str, process: &str) -> Result<mfa_tray_core::types::MfaCode, mfa_tray_core::Error> {
    let (profile, process) = (profile.to_owned(), process.to_owned());
    tokio::task::spawn_blocking(move || engine.process_code(&profile, &process))
        .await
        .unwrap_or_else(|e| Err(mfa_tray_core::Error::bad_input("mfa_process", e.to_string())))
}
