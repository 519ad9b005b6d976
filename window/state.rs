//! The window process's state: the tray's own state (the engine; no loop runs here), what
//! the window was opened for, an account being added, and an Identity Center sign-in
//! under way.

use std::sync::{Arc, Mutex};

use mfa_tray::state::AppState;
use mfa_tray::window::Pending;
use mfa_tray_core::{Engine, Error};

/// State managed by Tauri for the window's lifetime.
pub struct WindowState {
    core: AppState,
    /// The profile the window should preselect, and why a code is needed.
    pub pending: Mutex<Option<Pending>>,
    /// An account being added: its keys, sent once by the page and kept here (never
    /// sent back) until the user picks the MFA device.
    pub new_account: Mutex<Option<NewAccount>>,
    /// An Identity Center sign-in started in the window, and how it goes.
    pub sso_progress: Mutex<crate::commands::SsoProgress>,
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

impl WindowState {
    /// Loads settings and finds the AWS files; `pending` is what the window opens for.
    pub fn load(pending: Option<Pending>) -> Result<WindowState, Error> {
        Ok(WindowState { core: AppState::load()?, pending: Mutex::new(pending), new_account: Mutex::new(None), sso_progress: Mutex::default() })
    }

    /// The engine in force.
    pub fn engine(&self) -> Arc<Engine> {
        self.core.engine()
    }

    /// Re-reads the settings file (after the window saved it).
    pub fn reload(&self) -> Result<(), Error> {
        self.core.reload()
    }
}
