//! `mfa-tray-window --window VIEW [--profile P] [--reason TEXT]`: the MFA window, the
//! Tauri app (`ui/` and the commands it may call), as a process of its own. The tray
//! starts it when needed; when it closes, everything WebKit took goes with it and the
//! tray stays small all day.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod state;

use std::process::ExitCode;

use mfa_tray::desktop::on_a_desktop;
use mfa_tray::trace;
use mfa_tray::window::WindowArgs;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

fn main() -> ExitCode {
    trace::step("start");
    #[cfg(unix)]
    end_with_the_tray();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match WindowArgs::parse(&args) {
        Some(window) => on_a_desktop("the window cannot open", || run(window)),
        None => {
            eprintln!("usage: mfa-tray-window --window code|whoami|account|sso|settings|ask [--profile P] [--reason TEXT]");
            ExitCode::from(2)
        }
    }
}

/// The window belongs to the tray that started it (which names itself in
/// `MFA_TRAY_PID`): when that tray is gone, killed or crashed before it could close the
/// window, the window goes too. Started by hand, or with a pid that is another live
/// program and not its parent, the window is nobody's and stays.
#[cfg(unix)]
fn end_with_the_tray() {
    use mfa_tray::window::TRAY_PID;
    use std::os::unix::process::parent_id;
    let Some(tray) = std::env::var(TRAY_PID).ok().and_then(|pid| pid.parse::<u32>().ok()) else { return };
    // Not passed on to WebKit's processes (no other thread runs yet).
    std::env::remove_var(TRAY_PID);
    let alive = |pid: u32| unsafe { libc::kill(pid as libc::pid_t, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if parent_id() != tray && alive(tray) {
        return;
    }
    std::thread::spawn(move || loop {
        if parent_id() != tray {
            eprintln!("mfa-tray: the tray that opened this window has ended, so the window closes");
            // At once, as a kill would: GTK's and WebKit's exit handlers may wait on
            // the main loop.
            unsafe { libc::_exit(0) };
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
}

/// Runs the window until it closes.
fn run(args: WindowArgs) -> ExitCode {
    let built = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::state,
            commands::ready,
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
            trace::step("setup");
            app.manage(state::WindowState::load(args.pending.clone()).map_err(|e| e.message)?);
            let url = WebviewUrl::App(format!("index.html#{}", args.view.name()).into());
            WebviewWindowBuilder::new(app, "main", url).title("mfa-tray").inner_size(400.0, 600.0).resizable(false).center().focused(true).build()?;
            trace::step("window");
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
