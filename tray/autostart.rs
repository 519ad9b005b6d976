//! An adapter: start at login. The tray registers itself with the desktop session's
//! autostart (an XDG autostart entry on Linux, a LaunchAgent on macOS, the Run key on
//! Windows, through the auto-launch crate) as the `start_at_login` setting says. Not chosen yet, it is
//! turned on after the first successful login; one click in the settings turns it off.
//! Installing a package starts nothing by itself.

use mfa_tray_core::env::OsEnvironment;
use mfa_tray_core::settings::Settings;
use mfa_tray_core::status::State;

use crate::state::{lock, AppState};

/// The entry's name: `mfa-tray.desktop`, the LaunchAgent's label, the Run key's value.
const NAME: &str = "mfa-tray";

/// The session's autostart entry for this tray: its own program (the AppImage it runs
/// from, the app bundle it is in on macOS).
fn launcher() -> Result<auto_launch::AutoLaunch, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut path = exe.clone();
    if cfg!(target_os = "linux") {
        if let Some(image) = std::env::var_os("APPIMAGE") {
            path = image.into();
        }
    }
    if cfg!(target_os = "macos") {
        // …/mfa-tray.app/Contents/MacOS/mfa-tray-app: the bundle.
        if let Some(bundle) = exe.ancestors().find(|p| p.extension().is_some_and(|e| e == "app")) {
            path = bundle.to_owned();
        }
    }
    let path = path.to_str().ok_or("the program's path is not UTF-8")?.to_owned();
    let mut builder = auto_launch::AutoLaunchBuilder::new();
    builder.set_app_name(NAME).set_app_path(&path).set_macos_launch_mode(auto_launch::MacOSLaunchMode::LaunchAgent);
    builder.build().map_err(|e| e.to_string())
}

/// Brings the session's autostart in line with the setting, when the setting (or the
/// first login) asks for a change; an entry the user removed by hand is left removed
/// until the setting changes.
pub fn sync(state: &AppState) {
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
    let result = launcher().and_then(|launcher| if wanted { launcher.enable() } else { launcher.disable() }.map_err(|e| e.to_string()));
    match result {
        Ok(()) => *applied = Some(wanted),
        Err(e) => eprintln!("mfa-tray: cannot {} start at login: {e}", if wanted { "turn on" } else { "turn off" }),
    }
}
