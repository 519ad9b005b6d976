//! The mfa-tray tray app: a thin shell over `mfa-tray-core` (the CLI is the `mfa-tray`
//! binary's own `cli` module, kept out of this library so it links no GUI). Each part
//! adapts one thing onto the core: [`tray`] (icon and menu), [`window`] (the one webview window),
//! [`commands`] (what the window may call), [`notifier`] (desktop notifications) and
//! [`background`] (the wall-clock loop that refreshes roles and raises alerts).

mod asks;
mod autostart;
mod background;
mod commands;
mod notifier;
mod state;
mod tray;
mod window;

use std::process::ExitCode;

use tauri::{Manager, RunEvent};

pub use window::WindowArgs;

/// The exit code of the tray and the window when there is no desktop to show them on.
pub const NO_DESKTOP: u8 = 6;

/// Runs `app` (the tray, or the window) if there is a graphical session to show it in;
/// else says so in one line and exits with [`NO_DESKTOP`], instead of GTK's panic.
pub fn on_a_desktop(what: &str, app: impl FnOnce() -> ExitCode) -> ExitCode {
    let no_desktop = |why: &str| {
        eprintln!("mfa-tray: {why}, so {what}. Everything works from the command line: `mfa-tray login PROFILE`, `mfa-tray status`, and `mfa-tray --help` for the rest");
        ExitCode::from(NO_DESKTOP)
    };
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        // (GDK_BACKEND=broadway draws in a browser, with neither.)
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("GDK_BACKEND") {
            return no_desktop("there is no graphical session here (DISPLAY and WAYLAND_DISPLAY are not set)");
        }
    }
    // A display that is set but cannot be opened: GTK's start-up panics (in tao).
    let default_hook = std::sync::Arc::new(std::panic::take_hook());
    let hook = default_hook.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !gtk_failed(info.payload()) {
            hook(info);
        }
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(app)) {
        Ok(code) => code,
        Err(payload) if gtk_failed(&*payload) => {
            let display = std::env::var("DISPLAY").or_else(|_| std::env::var("WAYLAND_DISPLAY")).unwrap_or_default();
            no_desktop(&format!("the graphical session ({display}) cannot be opened"))
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Whether a panic is GTK failing to start (tao's "Failed to initialize gtk backend!").
fn gtk_failed(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("");
    text.contains("initialize gtk")
}

/// Runs the tray app until "Quit". It never creates a webview itself.
pub fn run_tray() -> ExitCode {
    // GTK sets up GL at start even though the tray draws nothing with it: about 50 MB
    // of a tray app's resident memory.
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            // A second launch: show the window (on adding an account if there is none).
            let none = app.state::<state::AppState>().engine().status().is_ok_and(|s| s.sessions.is_empty());
            window::open(app, if none { window::View::Account } else { window::View::Code }, None);
        }))
        .plugin(autostart::plugin())
        .setup(|app| {
            app.manage(state::AppState::load().map_err(|e| e.message)?);
            tray::create(app.handle())?;
            autostart::sync(app.handle());
            listen(app.handle());
            background::spawn(app.handle().clone());
            // A first run (no account, and no file to read one from): the window opens
            // on adding one, so no README is needed to start.
            let engine = app.state::<state::AppState>().engine();
            let first_run = engine.status().is_ok_and(|s| s.sessions.is_empty() && s.problems.is_empty());
            if first_run && !engine.files.config.exists() {
                window::open(app.handle(), window::View::Account, None);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("mfa-tray: cannot start the tray app: {e}");
            return ExitCode::from(1);
        }
    };
    app.run(|_app, event| {
        // The tray lives until "Quit" (which exits with a code).
        if let RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
    ExitCode::SUCCESS
}

/// Opens the tray's end of the local channel (a Unix socket, a named pipe on Windows):
/// the window hands settings and codes to the tray there, and tools ask it for
/// credentials. Without it (another tray holds it, no runtime directory) the tray still
/// notices saved settings by watching the file.
fn listen<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    use mfa_tray_core::channel::{self, Answer, Request, Server};
    let Some(path) = channel::socket_path(&mfa_tray_core::env::OsEnvironment) else { return };
    let handle = app.clone();
    let answer = move |request: Request, peer: &channel::Peer| match request {
        Request::Ping => Answer::Ok { message: format!("mfa-tray {}", env!("CARGO_PKG_VERSION")) },
        Request::SaveSettings { toml } => {
            let state = handle.state::<state::AppState>();
            // Applying wakes the background loop, which rebuilds the menu if what
            // it shows changed (the target profile's role, say).
            match state.apply(&toml) {
                Ok(_) => Answer::Ok { message: "Saved. The tray uses them now.".into() },
                Err(e) => Answer::from(e),
            }
        }
        Request::Credentials { profile, tool, context } => asks::credentials(&handle, &profile, &tool, &context, peer),
        Request::Asks => Answer::Asks { asks: handle.state::<state::AppState>().asks.list(true) },
        Request::GiveCode { account, code } => asks::give_code(&handle, &account, &code),
        Request::Cancel { account } => {
            let n = handle.state::<state::AppState>().asks.cancel(account.as_deref());
            Answer::Ok { message: format!("{n} cancelled") }
        }
    };
    match Server::start(&path, answer) {
        Ok(server) => *state::lock(&app.state::<state::AppState>().channel) = Some(server),
        Err(e) => eprintln!("mfa-tray: no local channel at {} ({e}); settings reach the tray through the file", path.display()),
    }
}

/// Runs the MFA window as its own process; it ends when the window closes.
pub fn run_window(args: WindowArgs) -> ExitCode {
    let built = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::state,
            commands::login,
            commands::assume,
            commands::choose_role,
            commands::whoami,
            commands::get_settings,
            commands::save_settings,
            commands::check_account,
            commands::add_account,
            commands::cancel_account,
            commands::import_keys,
            commands::add_role,
            commands::asks,
            commands::give_code,
            commands::cancel_asks,
            commands::close_window,
            commands::sso_add,
            commands::sso_login,
            commands::sso_progress,
            commands::sso_sync,
        ])
        .setup(move |app| {
            let state = state::AppState::load().map_err(|e| e.message)?;
            *state::lock(&state.pending) = args.pending.clone();
            app.manage(state);
            window::create(app.handle(), args.view)?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mfa-tray: cannot open the window: {e}");
            ExitCode::from(1)
        }
    }
}
