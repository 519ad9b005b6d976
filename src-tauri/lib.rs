//! The mfa-tray tray app: a thin shell over `mfa-tray-core` (the CLI is the `mfa-tray`
//! binary's own `cli` module, kept out of this library so it links no GUI). Each part
//! adapts one thing onto the core: [`tray`] (icon and menu), [`window`] (the one webview window),
//! [`commands`] (what the window may call), [`notifier`] (desktop notifications) and
//! [`background`] (the wall-clock loop that refreshes roles and raises alerts).

mod background;
mod commands;
mod notifier;
mod state;
mod tray;
mod window;

use std::process::ExitCode;

use tauri::{Manager, RunEvent};

/// Opens the window at start, on the view named (`code`, `whoami`, `settings`): for
/// WebDriver, which attaches to a window that exists at launch.
pub const OPEN_WINDOW_VAR: &str = "MFA_TRAY_OPEN_WINDOW";

/// The Tauri app. (Not generic over the runtime: the window's commands take the Wry
/// window, and no test here runs the mock runtime; the real one runs under Xvfb.)
pub fn app_builder(builder: tauri::Builder<tauri::Wry>) -> tauri::Builder<tauri::Wry> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            // A second launch: show the window of the first.
            window::open(app, window::View::Code, None);
        }))
        .invoke_handler(tauri::generate_handler![
            commands::state,
            commands::login,
            commands::assume,
            commands::choose_role,
            commands::whoami,
            commands::get_settings,
            commands::save_settings,
            commands::close_window,
        ])
        .setup(|app| {
            let state = state::AppState::load().map_err(|e| e.message)?;
            app.manage(state);
            tray::create(app.handle())?;
            background::spawn(app.handle().clone());
            if let Some(view) = std::env::var(OPEN_WINDOW_VAR).ok().and_then(|v| window::View::parse(&v)) {
                window::open(app.handle(), view, None);
            }
            Ok(())
        })
}

/// Runs the tray app until "Quit".
pub fn run_tray() -> ExitCode {
    // GTK sets up GL at start even though the tray draws nothing with it: about 50 MB
    // of a tray app's resident memory. The window renders fine without it.
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
    let app = match app_builder(tauri::Builder::default()).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("mfa-tray: cannot start the tray app: {e}");
            return ExitCode::from(1);
        }
    };
    app.run(|_app, event| {
        // Closing the window must not end the app: it lives in the tray until "Quit".
        if let RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}
