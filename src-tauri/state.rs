//! The tray app's shared state: the engine (replaced when settings change), the
//! scheduler's memory, the wake-up signal for the background loop, what the window
//! should show when it opens, and the tray's end of the local channel.

use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use mfa_tray_core::env::{OsEnvironment, SystemClock};
use mfa_tray_core::schedule::Scheduler;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::{Engine, Error};

/// State managed by Tauri for the app's lifetime.
pub struct AppState {
    engine: RwLock<Arc<Engine>>,
    /// Which notifications were raised; survives engine reloads.
    pub scheduler: Mutex<Scheduler>,
    /// Wakes the background loop early (after a login, a switch, a settings change).
    pub wake: tokio::sync::Notify,
    /// The profile the window should preselect, and why a code is needed.
    pub pending: Mutex<Option<Pending>>,
    /// An account being added in the window: its keys, sent once by the page and kept
    /// here (never sent back) until the user picks the MFA device.
    pub new_account: Mutex<Option<NewAccount>>,
    /// When the background last tried to log each MFA session in by itself
    /// (`auto_login`), and how many tries in a row failed.
    pub auto_login_tried: Mutex<std::collections::HashMap<String, (time::OffsetDateTime, u32)>>,
    /// The token expiry of each Identity Center session that a notification was raised
    /// for (renewal refused, or its end near): one notice per token.
    pub sso_noticed: Mutex<std::collections::HashMap<String, time::OffsetDateTime>>,
    /// An Identity Center sign-in started in the window, and how it goes (window only).
    pub sso_progress: Mutex<crate::commands::SsoProgress>,
    /// MFA sessions being logged in with their `mfa_process` right now.
    pub logging_in: Mutex<std::collections::HashSet<String>>,
    /// The menu as last built, to rebuild it only when it would change.
    pub menu_model: Mutex<Option<crate::tray::TrayModel>>,
    /// The window process and its view, while one is open (tray process only).
    pub window: Mutex<Option<(std::process::Child, crate::window::View)>>,
    /// Tools waiting for a code, and the credentials kept for tools (tray process only).
    pub asks: crate::asks::Asks,
    /// Whether the tray last registered itself to start at login (tray process only).
    pub autostart_applied: Mutex<Option<bool>>,
    /// The settings file's modification time when it was last read (or refused).
    settings_seen: Mutex<Option<SystemTime>>,
    /// The tray's end of the local channel, while it listens (tray process only).
    pub channel: Mutex<Option<mfa_tray_core::channel::Server>>,
}

/// What the window should open with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// The profile to preselect.
    pub profile: String,
    /// Why a code is asked for.
    pub reason: Option<String>,
}

/// An account checked with AWS, waiting for its MFA device to be chosen.
#[derive(Debug)]
pub struct NewAccount {
    /// The profile name.
    pub name: String,
    /// Its long-term keys (the secret wiped when dropped).
    pub keys: mfa_tray_core::credentials::LongTermKeys,
    /// Its region, if given.
    pub region: Option<String>,
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
            pending: Mutex::new(None),
            new_account: Mutex::new(None),
            auto_login_tried: Mutex::new(Default::default()),
            sso_noticed: Mutex::new(Default::default()),
            sso_progress: Mutex::new(Default::default()),
            logging_in: Mutex::new(Default::default()),
            menu_model: Mutex::new(None),
            window: Mutex::new(None),
            asks: Default::default(),
            autostart_applied: Mutex::new(None),
            settings_seen: Mutex::new(seen),
            channel: Mutex::new(None),
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

/// Locks a mutex, riding over poisoning (the data is plain and stays consistent).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
