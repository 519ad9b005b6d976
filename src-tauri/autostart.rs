//! Start at login: the tray registers itself with the desktop session's autostart (an
//! XDG autostart entry on Linux, a LaunchAgent on macOS, the Run key on Windows, through
//! tauri-plugin-autostart) as the `start_at_login` setting says. Not chosen yet, it is
//! turned on after the first successful login; one click in the settings turns it off.
//! Installing a package starts nothing by itself.

use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::status::State;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt;

use crate::state::{lock, AppState};

/// The plugin, for the tray's builder.
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None)
}

/// Brings the session's autostart in line with the setting, when the setting (or the
/// first login) asks for a change; an entry the user removed by hand is left removed
/// until the setting changes.
pub fn sync<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    let engine = state.engine();
    let wanted = match engine.settings.start_at_login {
        Some(wanted) => wanted,
        None => {
            // Not chosen: on once an MFA session has been had.
            let logged_in = engine.status().is_ok_and(|s| s.sessions.iter().any(|p| matches!(p.state, State::Valid | State::Expiring)));
            if !logged_in {
                return;
            }
            // Added to the file as it is: the user's comments stay.
            if let Err(e) = Settings::record(&OsEnvironment, "start_at_login", "true").map_err(|e| e.to_string()).and_then(|_| state.reload().map_err(|e| e.message)) {
                eprintln!("mfa-tray: cannot record start_at_login: {e}");
                return;
            }
            true
        }
    };
    let mut applied = lock(&state.autostart_applied);
    if *applied == Some(wanted) {
        return;
    }
    let launcher = app.autolaunch();
    let result = if wanted { launcher.enable() } else { launcher.disable() };
    match result {
        Ok(()) => *applied = Some(wanted),
        Err(e) => eprintln!("mfa-tray: cannot {} start at login: {e}", if wanted { "turn on" } else { "turn off" }),
    }
}
