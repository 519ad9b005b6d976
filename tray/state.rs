//! The bottom layer: the tray's state (the engine, replaced when settings change; the
//! scheduler's memory; the wake-up signal for the background loop), the actions the
//! menu, notifications and a second launch ask for, and the events the layers above
//! hand the event loop. It imports nothing of the tray's own.

use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use mfa_tray_core::env::{OsEnvironment, SystemClock};
use mfa_tray_core::schedule::Scheduler;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::{Engine, Error};

/// The tray's state for its lifetime.
pub struct AppState {
    engine: RwLock<Arc<Engine>>,
    /// Which notifications were raised; survives engine reloads.
    pub scheduler: Mutex<Scheduler>,
    /// Wakes the background loop early (after a login, a switch, a settings change).
    pub wake: tokio::sync::Notify,
    /// When the background last tried to log each MFA session in by itself
    /// (`auto_login`), and how many tries in a row failed.
    pub auto_login_tried: Mutex<std::collections::HashMap<String, (time::OffsetDateTime, u32)>>,
    /// The token expiry of each Identity Center session that a notification was raised
    /// for (renewal refused, or its end near): one notice per token.
    pub sso_noticed: Mutex<std::collections::HashMap<String, time::OffsetDateTime>>,
    /// MFA sessions being logged in with their `mfa_process` right now.
    pub logging_in: Mutex<std::collections::HashSet<String>>,
    /// Whether the tray last registered itself to start at login.
    pub autostart_applied: Mutex<Option<bool>>,
    /// The settings file's modification time when it was last read (or refused).
    settings_seen: Mutex<Option<SystemTime>>,
}

impl AppState {
    /// Loads settings and finds the AWS files.
    pub fn load() -> Result<AppState, Error> {
        let seen = settings_modified();
        let engine = new_engine()?;
        let s = &engine.settings;
        let scheduler = Scheduler::new(&s.notify_before, s.refresh_before, s.auto_refresh);
        Ok(AppState {
            engine: RwLock::new(Arc::new(engine)),
            scheduler: Mutex::new(scheduler),
            wake: tokio::sync::Notify::new(),
            auto_login_tried: Mutex::new(Default::default()),
            sso_noticed: Mutex::new(Default::default()),
            logging_in: Mutex::new(Default::default()),
            autostart_applied: Mutex::new(None),
            settings_seen: Mutex::new(seen),
        })
    }

    /// The engine in force.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the settings file; the scheduler keeps what it already notified. Bad
    /// settings leave the ones in force as they are.
    pub fn reload(&self) -> Result<(), Error> {
        *lock(&self.settings_seen) = settings_modified();
        let engine = new_engine()?;
        let s = &engine.settings;
        let fresh = Scheduler::new(&s.notify_before, s.refresh_before, s.auto_refresh);
        lock(&self.scheduler).reconfigure(fresh);
        *self.engine.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(engine);
        self.wake.notify_one();
        Ok(())
    }

    /// Reloads if the settings file changed since it was last read (a hand edit, or
    /// another process); `None` if it did not change.
    pub fn reload_if_changed(&self) -> Option<Result<(), Error>> {
        let changed = settings_modified() != *lock(&self.settings_seen);
        changed.then(|| self.reload())
    }

    /// Checks, saves and applies settings (the settings file's TOML): what the window
    /// sends the tray over the channel.
    pub fn apply(&self, toml: &str) -> Result<Settings, Error> {
        let settings = Settings::from_toml(toml).map_err(|m| Error::bad_input("bad_settings", m))?;
        self.engine().snapshot()?.check_not_an_account(&settings.target_profile).map_err(|e| Error::bad_input("bad_settings", format!("target_profile: {}", e.message)))?;
        settings.save(&OsEnvironment).map_err(|e| Error::bad_input("settings_write", e.to_string()))?;
        self.reload()?;
        Ok(settings)
    }
}

fn new_engine() -> Result<Engine, Error> {
    Engine::new(Arc::new(OsEnvironment), Arc::new(SystemClock))
}

fn settings_modified() -> Option<SystemTime> {
    Settings::path(&OsEnvironment).and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Something the user asked the tray for: a menu item, a notification's button, a
/// click on the icon, a second launch. Menu items carry it as their id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The status line (not clickable).
    Status,
    /// "Enter MFA code…" (a code from `mfa_process` where every due session has one).
    EnterCode,
    /// The code window itself (a notification's "Enter MFA code", a click on the icon).
    CodeWindow,
    /// Another launch of the tray: show the window.
    Launched,
    /// Switch the active role to this role profile.
    Role(String),
    /// "Refresh now".
    Refresh,
    /// "Who am I / S3 buckets".
    WhoAmI,
    /// "Settings…".
    Settings,
    /// "Add your AWS account…" / "Accounts and roles…".
    Accounts,
    /// "Open AWS console as ROLE".
    Console(String),
    /// "Sign in to Identity Center SESSION…".
    SignIn(String),
    /// "Identity Center…": the window's Identity Center view.
    IdentityCenter,
    /// "mfa-tray VERSION" (not clickable): which version runs; a new one is a new package.
    About,
    /// "Quit".
    Quit,
}

impl Action {
    /// The menu item id.
    pub fn id(&self) -> String {
        match self {
            Action::Status => "status".into(),
            Action::EnterCode => "enter-code".into(),
            Action::CodeWindow => "code-window".into(),
            Action::Launched => "launched".into(),
            Action::Role(r) => format!("role:{r}"),
            Action::Refresh => "refresh".into(),
            Action::WhoAmI => "whoami".into(),
            Action::Settings => "settings".into(),
            Action::IdentityCenter => "identity-center".into(),
            Action::Accounts => "accounts".into(),
            Action::Console(r) => format!("console:{r}"),
            Action::SignIn(s) => format!("sso-sign-in:{s}"),
            Action::About => "about".into(),
            Action::Quit => "quit".into(),
        }
    }

    /// The action of a menu item id.
    pub fn from_id(id: &str) -> Option<Action> {
        Some(match id {
            "status" => Action::Status,
            "enter-code" => Action::EnterCode,
            "code-window" => Action::CodeWindow,
            "launched" => Action::Launched,
            "refresh" => Action::Refresh,
            "whoami" => Action::WhoAmI,
            "settings" => Action::Settings,
            "identity-center" => Action::IdentityCenter,
            "accounts" => Action::Accounts,
            "about" => Action::About,
            "quit" => Action::Quit,
            _ => match (id.strip_prefix("console:"), id.strip_prefix("sso-sign-in:")) {
                (Some(role), _) => Action::Console(role.to_owned()),
                (_, Some(session)) => Action::SignIn(session.to_owned()),
                _ => Action::Role(id.strip_prefix("role:")?.to_owned()),
            },
        })
    }
}

/// What the layers above hand the event loop (which owns the icon and menu).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Re-read the status; update the icon and menu if what they show changed.
    Refresh,
    /// Rebuild the menu even if nothing changed (a check mark the panel toggled by
    /// itself must go back).
    Rebuild,
    /// Do what the user asked for.
    Do(Action),
}

/// Where events go: into the event loop, from any thread.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// Locks a mutex, riding over poisoning (the data is plain and stays consistent).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_round_trip() {
        for a in [Action::Status, Action::EnterCode, Action::CodeWindow, Action::Launched, Action::Role("prod:admin".into()), Action::Refresh, Action::WhoAmI, Action::Settings, Action::Accounts, Action::Console("prod:admin".into()), Action::SignIn("corp".into()), Action::IdentityCenter, Action::About, Action::Quit] {
            assert_eq!(Action::from_id(&a.id()), Some(a));
        }
        assert_eq!(Action::from_id("nonsense"), None);
    }
}
